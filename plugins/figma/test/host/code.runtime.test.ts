import { figmaRuntime, loadInBareHost } from "@layerbridge/common/testing/host-runtime";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { FigmaStub } from "../support/figmaStub";

// The built dist/code.js, loaded the way Figma loads a plugin's main file: in a sandbox with only
// the documented globals (figma, __html__, console, timers). It must load without touching
// anything else and register its handlers.
const root = join(__dirname, "../..");
let bundle: string;

beforeAll(() => {
  execFileSync(process.execPath, [join(root, "build.mjs")], { cwd: root, stdio: "pipe" });
  bundle = readFileSync(join(root, "dist/code.js"), "utf8");
});

function load(stub: FigmaStub): void {
  const { error } = loadInBareHost(bundle, "code.js", figmaRuntime(stub, "<html></html>"));
  expect(error).toBeUndefined();
}

describe("the built main-thread bundle in Figma's sandbox", () => {
  it("loads with only figma, __html__, console and timers, and registers its handlers", () => {
    const stub = new FigmaStub();
    const shown: unknown[] = [];
    stub.showUI = (...args: unknown[]) => void shown.push(args);
    load(stub);
    expect(shown).toEqual([["<html></html>", { width: 340, height: 640, themeColors: true, title: "Layerbridge" }]]);
    expect(typeof stub.ui.onmessage).toBe("function");
    expect(Object.keys(stub.handlers).sort()).toEqual(["close", "selectionchange"]);
  });

  it("answers the UI, follows the selection and says goodbye on close", async () => {
    const stub = new FigmaStub();
    load(stub);
    stub.ui.onmessage?.({ type: "ui-ready" });
    await expect.poll(() => stub.log.posted.length).toBe(1);
    expect(stub.log.posted[0]).toMatchObject({ type: "init", settings: { url: "ws://localhost:7842", token: "" } });

    stub.select(stub.add("FRAME", "Card", { x: 0, y: 0, width: 10, height: 10 }));
    for (const handler of stub.handlers["selectionchange"] ?? []) handler();
    expect(stub.log.posted[1]).toMatchObject({ type: "selection", selection: { label: "Frame “Card” 10×10" } });

    for (const handler of stub.handlers["close"] ?? []) handler();
    expect(stub.log.posted[2]).toEqual({ type: "closing" });
  });

  it("would stop a bundle that reaches for a global Figma does not document", () => {
    for (const name of ["TextEncoder", "TextDecoder", "fetch", "WebSocket", "window", "document", "process", "require"]) {
      const { error } = loadInBareHost(`${name}.toString();`, "probe.js", figmaRuntime({}));
      expect(error).toMatchObject({ name: "ReferenceError", message: `${name} is not defined` });
    }
  });
});

import { build } from "esbuild";
import { join } from "node:path";
import { createContext, runInContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { FigmaStub } from "../support/figmaStub";

// The main-thread entry as Figma runs it: bundled to ES2017, evaluated with only `figma` and
// `__html__` as globals (no DOM, no WebSocket, no Node).
async function loadPlugin(stub: FigmaStub): Promise<void> {
  const out = await build({
    entryPoints: [join(__dirname, "../../src/main/code.ts")],
    bundle: true,
    write: false,
    format: "iife",
    target: "es2017",
  });
  const context = createContext({ figma: stub, __html__: "<html></html>", Promise, JSON, Math, Symbol, Object, Array, Error, Map, Set });
  runInContext(out.outputFiles[0]?.text ?? "", context);
}

describe("the main-thread bundle", () => {
  it("shows the UI, answers ui-ready and follows the selection", async () => {
    const stub = new FigmaStub();
    const shown: unknown[] = [];
    stub.showUI = (...args: unknown[]) => void shown.push(args);
    await loadPlugin(stub);
    expect(shown).toEqual([["<html></html>", { width: 340, height: 640, themeColors: true, title: "Layerbridge" }]]);

    stub.ui.onmessage?.({ type: "ui-ready" });
    await expect.poll(() => stub.log.posted.length).toBe(1);
    expect(stub.log.posted[0]).toMatchObject({ type: "init", settings: { url: "ws://localhost:7842", token: "" } });

    stub.select(stub.add("FRAME", "Card", { x: 0, y: 0, width: 10, height: 10 }));
    for (const handler of stub.handlers["selectionchange"] ?? []) handler();
    expect(stub.log.posted[1]).toMatchObject({ type: "selection", selection: { label: "Frame “Card” 10×10" } });
  });
});

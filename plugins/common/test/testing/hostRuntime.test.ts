// The bare-host loader: only builtins and the host's documented globals exist while a bundle loads.
import { describe, expect, it } from "vitest";
import { figmaRuntime, loadInBareHost, uxpRuntime } from "../../testing/hostRuntime.js";

describe("loadInBareHost", () => {
  it("fails a bundle that builds a TextEncoder at load in UXP", () => {
    const got = loadInBareHost("var encoder = new TextEncoder();", "main.js", uxpRuntime({}));
    expect(got.error).toMatchObject({ name: "ReferenceError", message: "TextEncoder is not defined" });
  });

  it("loads a bundle that only probes for an undocumented global", () => {
    const got = loadInBareHost("var hasIt = typeof TextEncoder !== 'undefined'; var u8 = new Uint8Array(4);", "main.js", uxpRuntime({}));
    expect(got.error).toBeUndefined();
    expect(got.context["hasIt"]).toBe(false);
  });

  it("hands out the host modules through require and names the ones it lacks", () => {
    const runtime = uxpRuntime({ uxp: { entrypoints: { setup: () => "set" } } });
    const got = loadInBareHost("var r = require('uxp').entrypoints.setup(); require('fs');", "main.js", runtime);
    expect(got.context["r"]).toBe("set");
    expect(runtime.required).toEqual(["uxp", "fs"]);
    expect(got.error?.message).toBe("Cannot find module 'fs'");
  });

  it("gives UXP's window as the global object and no Node globals", () => {
    const got = loadInBareHost(
      "var same = window === globalThis; var node = [typeof process, typeof Buffer, typeof URL, typeof structuredClone, typeof queueMicrotask];",
      "main.js",
      uxpRuntime({}),
    );
    expect(got.context["same"]).toBe(true);
    expect(Array.from(got.context["node"] as string[])).toEqual(["undefined", "undefined", "undefined", "undefined", "undefined"]);
  });

  it("gives Figma's main thread figma, __html__, console and timers, and no browser APIs", () => {
    const runtime = figmaRuntime({ showUI: () => undefined }, "<p>ui</p>");
    const got = loadInBareHost(
      "console.log('hi', __html__); var kinds = [typeof figma.showUI, typeof setTimeout, typeof WebSocket, typeof document, typeof fetch, typeof require];",
      "code.js",
      runtime,
    );
    expect(got.error).toBeUndefined();
    expect(Array.from(got.context["kinds"] as string[])).toEqual(["function", "function", "undefined", "undefined", "undefined", "undefined"]);
    expect(runtime.lines).toEqual(["log: hi <p>ui</p>"]);
  });

  it("removes builtins a host lacks", () => {
    const got = loadInBareHost("WebAssembly.Module;", "code.js", { globals: {}, withoutBuiltins: ["WebAssembly"] });
    expect(got.error?.name).toBe("ReferenceError");
  });
});

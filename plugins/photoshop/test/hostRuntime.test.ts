// The built panel (dist/main.js) loads in what UXP documents as global and registers its panel:
// a dependency that needs an undocumented global at load would stop it before entrypoints.setup.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadInBareHost, uxpRuntime } from "@layerbridge/common/testing/host-runtime";
import { describe, expect, it } from "vitest";

const bundle = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "main.js"), "utf8");

/** 'photoshop' and 'uxp' as the bundle sees them at load; entrypoints.setup is recorded. */
function hostModules(): { modules: Record<string, unknown>; panels: string[][] } {
  const panels: string[][] = [];
  const photoshop = {
    app: {},
    core: {},
    action: {},
    imaging: {},
    constants: { LayerKind: {}, ElementPlacement: {}, AnchorPosition: {}, ResampleMethod: {} },
  };
  const uxp = {
    entrypoints: { setup: (config: { panels: Record<string, unknown> }) => void panels.push(Object.keys(config.panels)) },
    secureStorage: {},
  };
  return { modules: { photoshop, uxp }, panels };
}

/** A host TextDecoder that knows UTF-8 only (as some engines ship). */
class Utf8OnlyDecoder {
  constructor(label = "utf-8") {
    if (!/^utf-?8$/i.test(label)) throw new RangeError(`The "${label}" encoding is not supported`);
  }
  decode(): string {
    return "";
  }
}

describe("the built panel in a bare UXP context", () => {
  it("loads with only UXP's documented globals and reaches entrypoints.setup", () => {
    const { modules, panels } = hostModules();
    const runtime = uxpRuntime(modules);
    const got = loadInBareHost(bundle, "main.js", runtime);
    expect(got.error).toBeUndefined();
    expect(panels).toEqual([["layerbridge.panel"]]);
    expect(runtime.required.filter((m) => m !== "photoshop" && m !== "uxp")).toEqual([]);
  });

  it("loads where the host's TextDecoder knows UTF-8 only", () => {
    const { modules, panels } = hostModules();
    const runtime = uxpRuntime(modules);
    Object.assign(runtime.globals, { TextEncoder, TextDecoder: Utf8OnlyDecoder });
    const got = loadInBareHost(bundle, "main.js", runtime);
    expect(got.error).toBeUndefined();
    expect(panels).toEqual([["layerbridge.panel"]]);
  });

  it("loads where the host has both codecs, and leaves them in place", () => {
    const { modules, panels } = hostModules();
    const runtime = uxpRuntime(modules);
    Object.assign(runtime.globals, { TextEncoder, TextDecoder });
    const got = loadInBareHost(bundle, "main.js", runtime);
    expect(got.error).toBeUndefined();
    expect(panels).toEqual([["layerbridge.panel"]]);
    expect(got.context["TextDecoder"]).toBe(TextDecoder);
  });
});

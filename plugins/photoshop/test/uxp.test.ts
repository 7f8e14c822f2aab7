// The uxp-facing modules against the 'uxp' stand-in: secure token storage and panel registration.
import { describe, expect, it } from "vitest";
import { SecureTokenStore } from "../src/uxp/secureTokenStore.js";
import { registerPanel } from "../src/uxp/entrypoints.js";
import { registered } from "./mocks/uxp.js";

describe("uxp modules", () => {
  it("keeps the token in secure storage and forgets it", async () => {
    const store = new SecureTokenStore();
    expect(await store.load()).toBeUndefined();
    await store.save("lb_sécret-✓");
    expect(await store.load()).toBe("lb_sécret-✓");
    await store.clear();
    expect(await store.load()).toBeUndefined();
  });

  it("registers the panel id the manifest declares, with handlers that return at once", () => {
    const calls: string[] = [];
    registerPanel("layerbridge.panel", { create: () => calls.push("create"), show: () => calls.push("show"), hide: () => calls.push("hide"), destroy: () => calls.push("destroy") });
    const config = registered.at(-1) as { panels: Record<string, { create(root: unknown): unknown; destroy(): unknown }> };
    expect(Object.keys(config.panels)).toEqual(["layerbridge.panel"]);
    expect(config.panels["layerbridge.panel"]!.create({})).toBeUndefined();
    config.panels["layerbridge.panel"]!.destroy();
    expect(calls).toEqual(["create", "destroy"]);
  });
});

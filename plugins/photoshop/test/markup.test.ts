// The panel's markup and style keep to what UXP supports (uxp-api/known-issues.md) and follow
// Photoshop's theme (guides/theme-awareness, reference-css/media-queries/prefers-color-scheme).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const src = join(dirname(fileURLToPath(import.meta.url)), "..", "src");
const html = readFileSync(join(src, "index.html"), "utf8");
const css = readFileSync(join(src, "styles.css"), "utf8");

describe("panel markup in UXP", () => {
  it("uses no <label for> (unsupported): controls sit inside their label", () => {
    expect(html).not.toMatch(/<label[^>]*\sfor=/);
    for (const id of ["token", "port", "model", "prompt", "negative", "strength", "steps", "variations", "seed"]) {
      expect(html, id).toMatch(new RegExp(`<label[^>]*>[^<]*<(input|select|textarea) id="${id}"`));
    }
  });

  it("has no password field (its value cannot be read on macOS)", () => {
    expect(html).not.toMatch(/type="password"/);
    expect(html).toMatch(/<input id="token" type="text"/);
  });

  it("takes its colours and font size from the host theme, with light-theme overrides", () => {
    for (const v of ["--uxp-host-background-color", "--uxp-host-text-color", "--uxp-host-border-color", "--uxp-host-font-size"]) expect(css).toContain(`var(${v}`);
    expect(css).toMatch(/@media \(prefers-color-scheme: lightest\), \(prefers-color-scheme: light\)/);
    // no colour is fixed outside the variables
    const rules = css.replace(/:root\s*{[^}]*}/g, "");
    expect(rules).not.toMatch(/#[0-9a-f]{3,6}\b/i);
  });
});

import { build } from "esbuild";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodePng, encodePng, solidPng } from "../support/png";
import { launchChromium } from "./chromium";

// The iframe's pixel work (canvasImageOps) in a real Chromium: compose, the 4096 downscale,
// flatten, grey. Bundled on the fly and called through page.evaluate with plain byte arrays.
let browser: Browser;
let page: Page;

type Bytes = number[];
interface OpsWindow {
  ops: {
    canvasImageOps: {
      compose(base: Uint8Array, patch: Uint8Array, region: object): Promise<Uint8Array>;
      fit(png: Uint8Array, maxSide: number): Promise<{ png: Uint8Array; width: number; height: number; scaled: boolean }>;
      flatten(png: Uint8Array): Promise<Uint8Array>;
      grey(png: Uint8Array): Promise<{ bytes: Uint8Array; width: number; height: number }>;
    };
  };
}

beforeAll(async () => {
  const bundle = await build({
    entryPoints: [join(__dirname, "../../src/ui/canvasImageOps.ts")],
    bundle: true,
    write: false,
    format: "iife",
    globalName: "ops",
    target: "es2020",
  });
  browser = await launchChromium();
  page = await browser.newPage();
  await page.setContent("<!doctype html><title>ops</title>");
  await page.addScriptTag({ content: bundle.outputFiles[0]?.text ?? "" });
});

afterAll(async () => {
  await browser?.close();
});

const arr = (bytes: Uint8Array): Bytes => Array.from(bytes);

describe("canvasImageOps in Chromium", () => {
  it("composites a transparent-edged patch onto the original at its region", async () => {
    const base = solidPng(40, 30, { r: 0, g: 0, b: 255, a: 255 });
    const patchPixels = new Uint8Array(10 * 10 * 4);
    for (let i = 0; i < 100; i++) patchPixels.set(i % 10 < 5 ? [255, 0, 0, 255] : [0, 0, 0, 0], i * 4);
    const patch = encodePng(10, 10, patchPixels);
    const out = await page.evaluate(
      async ([b, p]) => {
        const { canvasImageOps } = (window as unknown as OpsWindow).ops;
        return Array.from(await canvasImageOps.compose(new Uint8Array(b), new Uint8Array(p), { x: 20, y: 10, width: 10, height: 10 }));
      },
      [arr(base), arr(patch)] as const,
    );
    const png = decodePng(new Uint8Array(out));
    expect([png.width, png.height]).toEqual([40, 30]);
    expect(png.at(0, 0)).toEqual({ r: 0, g: 0, b: 255, a: 255 });
    expect(png.at(22, 15)).toEqual({ r: 255, g: 0, b: 0, a: 255 }); // opaque half of the patch
    expect(png.at(28, 15)).toEqual({ r: 0, g: 0, b: 255, a: 255 }); // transparent half keeps the base
  });

  it("downscales a result over 4096 px, keeping the aspect ratio", async () => {
    const big = encodePng(5000, 100, new Uint8Array(5000 * 100 * 4).fill(200));
    const fitted = await page.evaluate(async (b) => {
      const { canvasImageOps } = (window as unknown as OpsWindow).ops;
      const r = await canvasImageOps.fit(new Uint8Array(b), 4096);
      return { width: r.width, height: r.height, scaled: r.scaled, png: Array.from(r.png) };
    }, arr(big));
    expect(fitted).toMatchObject({ width: 4096, height: 82, scaled: true });
    const png = decodePng(new Uint8Array(fitted.png));
    expect([png.width, png.height]).toEqual([4096, 82]);
  });

  it("leaves images within the limit untouched", async () => {
    const small = solidPng(64, 64);
    const fitted = await page.evaluate(async (b) => {
      const { canvasImageOps } = (window as unknown as OpsWindow).ops;
      const r = await canvasImageOps.fit(new Uint8Array(b), 4096);
      return { scaled: r.scaled, same: r.png.length === b.length };
    }, arr(small));
    expect(fitted).toEqual({ scaled: false, same: true });
  });

  it("flattens a transparent sketch onto white and reads a mask as grey bytes", async () => {
    const pixels = new Uint8Array(4 * 1 * 4);
    pixels.set([0, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 0], 0);
    const png = encodePng(4, 1, pixels);
    const result = await page.evaluate(async (b) => {
      const { canvasImageOps } = (window as unknown as OpsWindow).ops;
      const flat = await canvasImageOps.flatten(new Uint8Array(b));
      const grey = await canvasImageOps.grey(new Uint8Array(b));
      return { flat: Array.from(flat), grey: Array.from(grey.bytes), size: [grey.width, grey.height] };
    }, arr(png));
    const flat = decodePng(new Uint8Array(result.flat));
    expect([0, 1, 2, 3].map((x) => flat.at(x, 0).r)).toEqual([255, 0, 255, 255]);
    expect(result.grey).toEqual([0, 0, 255, 0]);
    expect(result.size).toEqual([4, 1]);
  });
});

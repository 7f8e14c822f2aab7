/** ImageOps for Node tests, on pngjs: the same contract as the iframe's canvas version. */

import type { Region } from "@layerbridge/common";
import type { FittedPng, GreyImage, ImageOps } from "../../src/ui/imageOps";
import { decodePng, encodePng } from "./png";

export const pngImageOps: ImageOps = {
  async compose(base: Uint8Array, patch: Uint8Array, region: Region): Promise<Uint8Array> {
    const under = decodePng(base);
    const over = decodePng(patch);
    const out = new Uint8Array(under.data);
    for (let y = 0; y < region.height; y++) {
      for (let x = 0; x < region.width; x++) {
        const tx = region.x + x;
        const ty = region.y + y;
        if (tx < 0 || ty < 0 || tx >= under.width || ty >= under.height) continue;
        const sx = Math.min(over.width - 1, Math.floor((x * over.width) / region.width));
        const sy = Math.min(over.height - 1, Math.floor((y * over.height) / region.height));
        const s = over.at(sx, sy);
        const i = (ty * under.width + tx) * 4;
        const a = s.a / 255;
        out[i] = Math.round(s.r * a + (out[i] ?? 0) * (1 - a));
        out[i + 1] = Math.round(s.g * a + (out[i + 1] ?? 0) * (1 - a));
        out[i + 2] = Math.round(s.b * a + (out[i + 2] ?? 0) * (1 - a));
        out[i + 3] = Math.max(out[i + 3] ?? 0, s.a);
      }
    }
    return encodePng(under.width, under.height, out);
  },

  async fit(png: Uint8Array, maxSide: number): Promise<FittedPng> {
    const image = decodePng(png);
    const original = { width: image.width, height: image.height };
    const longest = Math.max(image.width, image.height);
    if (longest <= maxSide) return { png, ...original, scaled: false, original };
    const k = maxSide / longest;
    const width = Math.max(1, Math.round(image.width * k));
    const height = Math.max(1, Math.round(image.height * k));
    const out = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const s = image.at(Math.min(image.width - 1, Math.floor(x / k)), Math.min(image.height - 1, Math.floor(y / k)));
        out.set([s.r, s.g, s.b, s.a], (y * width + x) * 4);
      }
    }
    return { png: encodePng(width, height, out), width, height, scaled: true, original };
  },

  async flatten(png: Uint8Array): Promise<Uint8Array> {
    const image = decodePng(png);
    const out = new Uint8Array(image.data.length);
    for (let i = 0; i < out.length; i += 4) {
      const a = (image.data[i + 3] ?? 0) / 255;
      for (let c = 0; c < 3; c++) out[i + c] = Math.round((image.data[i + c] ?? 0) * a + 255 * (1 - a));
      out[i + 3] = 255;
    }
    return encodePng(image.width, image.height, out);
  },

  async grey(png: Uint8Array): Promise<GreyImage> {
    const image = decodePng(png);
    const bytes = new Uint8Array(image.width * image.height);
    for (let j = 0; j < bytes.length; j++) {
      const i = j * 4;
      const d = image.data;
      const lum = 0.299 * (d[i] ?? 0) + 0.587 * (d[i + 1] ?? 0) + 0.114 * (d[i + 2] ?? 0);
      bytes[j] = Math.round((lum * (d[i + 3] ?? 0)) / 255);
    }
    return { bytes, width: image.width, height: image.height };
  },
};

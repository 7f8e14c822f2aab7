// PNG bytes (results, previews) to RGBA8 for putPixels. UXP has no canvas to decode with.
import { decode } from "fast-png";
import type { RgbaImage } from "./pixels.js";

export function decodePng(bytes: Uint8Array): RgbaImage {
  const png = decode(bytes);
  const { width, height, channels } = png;
  const pixels = width * height;
  const out = new Uint8Array(pixels * 4);
  const src = png.data;
  const shift = png.depth === 16 ? 8 : 0;
  const palette = png.palette;
  for (let i = 0; i < pixels; i++) {
    const o = i * 4;
    if (palette) {
      const entry = palette[src[i] ?? 0] ?? [0, 0, 0, 255];
      out[o] = entry[0] ?? 0;
      out[o + 1] = entry[1] ?? 0;
      out[o + 2] = entry[2] ?? 0;
      out[o + 3] = entry[3] ?? 255;
      continue;
    }
    const j = i * channels;
    const v = (k: number): number => (src[j + k] ?? 0) >> shift;
    if (channels >= 3) {
      out[o] = v(0);
      out[o + 1] = v(1);
      out[o + 2] = v(2);
      out[o + 3] = channels === 4 ? v(3) : 255;
    } else {
      out[o] = out[o + 1] = out[o + 2] = v(0);
      out[o + 3] = channels === 2 ? v(1) : 255;
    }
  }
  return { width, height, data: out };
}

/** Small PNG helpers for tests (pngjs): make solid images, read pixels back. */

import { PNG } from "pngjs";

export interface Rgba {
  r: number;
  g: number;
  b: number;
  a: number;
}

export function solidPng(width: number, height: number, color: Rgba = { r: 200, g: 100, b: 50, a: 255 }): Uint8Array {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) {
    png.data[i * 4] = color.r;
    png.data[i * 4 + 1] = color.g;
    png.data[i * 4 + 2] = color.b;
    png.data[i * 4 + 3] = color.a;
  }
  return new Uint8Array(PNG.sync.write(png));
}

export function encodePng(width: number, height: number, rgba: Uint8Array): Uint8Array {
  const png = new PNG({ width, height });
  png.data = Buffer.from(rgba);
  // Fast settings: tests make large, flat images (4096 px masks), not small files.
  return new Uint8Array(PNG.sync.write(png, { deflateLevel: 1, filterType: 0 }));
}

export interface DecodedPng {
  width: number;
  height: number;
  data: Uint8Array;
  at(x: number, y: number): Rgba;
}

export function decodePng(bytes: Uint8Array): DecodedPng {
  const png = PNG.sync.read(Buffer.from(bytes));
  const data = new Uint8Array(png.data);
  return {
    width: png.width,
    height: png.height,
    data,
    at(x, y) {
      const i = (y * png.width + x) * 4;
      return { r: data[i] ?? 0, g: data[i + 1] ?? 0, b: data[i + 2] ?? 0, a: data[i + 3] ?? 0 };
    },
  };
}

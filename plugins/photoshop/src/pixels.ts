// Raw pixel buffers: RGBA8 images and grey8 masks, and the copies between them. Pure.
import type { Rect } from "./geometry.js";

export interface RgbaImage {
  width: number;
  height: number;
  /** width * height * 4 bytes, chunky RGBA. */
  data: Uint8Array;
}

export interface GreyImage {
  width: number;
  height: number;
  /** width * height bytes; 255 = selected / repaint. */
  data: Uint8Array;
}

/** Chunky pixels of 1-4 components to RGBA (grey → RGB, missing alpha → opaque). */
export function toRgba(data: Uint8Array, width: number, height: number, components: number): Uint8Array {
  if (components === 4) return data;
  const out = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < width * height; i++, j += components) {
    const r = data[j] ?? 0;
    const g = components >= 3 ? data[j + 1] ?? 0 : r;
    const b = components >= 3 ? data[j + 2] ?? 0 : r;
    const a = components === 2 ? data[j + 1] ?? 255 : 255;
    out[i * 4] = r;
    out[i * 4 + 1] = g;
    out[i * 4 + 2] = b;
    out[i * 4 + 3] = a;
  }
  return out;
}

/** Copy `src` (covering `srcRect`) into a new buffer covering `dstRect`; outside stays zero. */
export function placeInto(src: Uint8Array, srcRect: Rect, dstRect: Rect, channels: number): Uint8Array {
  const out = new Uint8Array(dstRect.width * dstRect.height * channels);
  const x0 = Math.max(srcRect.x, dstRect.x);
  const y0 = Math.max(srcRect.y, dstRect.y);
  const x1 = Math.min(srcRect.x + srcRect.width, dstRect.x + dstRect.width);
  const y1 = Math.min(srcRect.y + srcRect.height, dstRect.y + dstRect.height);
  if (x1 <= x0 || y1 <= y0) return out;
  const rowBytes = (x1 - x0) * channels;
  for (let y = y0; y < y1; y++) {
    const s = ((y - srcRect.y) * srcRect.width + (x0 - srcRect.x)) * channels;
    const d = ((y - dstRect.y) * dstRect.width + (x0 - dstRect.x)) * channels;
    out.set(src.subarray(s, s + rowBytes), d);
  }
  return out;
}

/** A sub-rectangle (`rect`, relative to the image) of a grey image. */
export function cropGrey(image: GreyImage, rect: Rect): GreyImage {
  const data = placeInto(image.data, { x: 0, y: 0, width: image.width, height: image.height }, rect, 1);
  return { width: rect.width, height: rect.height, data };
}

export function isEmptyMask(mask: GreyImage): boolean {
  for (const v of mask.data) if (v !== 0) return false;
  return true;
}

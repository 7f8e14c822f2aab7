/** Pixel-size arithmetic shared by both halves: Figma's 4096 px image limit and the daemon's sizes. */

import type { Size } from "./messages";

/** figma.createImage rejects images wider or taller than this. */
export const FIGMA_MAX_IMAGE_SIDE = 4096;

export interface Fitted extends Size {
  /** True when the size had to shrink to fit. */
  scaled: boolean;
}

/** Scale `size` down (never up) so neither side exceeds `maxSide`, keeping the aspect ratio. */
export function fitWithin(size: Size, maxSide: number = FIGMA_MAX_IMAGE_SIDE): Fitted {
  const width = Math.max(1, Math.round(size.width));
  const height = Math.max(1, Math.round(size.height));
  const longest = Math.max(width, height);
  if (longest <= maxSide) return { width, height, scaled: false };
  const k = maxSide / longest;
  return {
    width: Math.max(1, Math.min(maxSide, Math.round(width * k))),
    height: Math.max(1, Math.min(maxSide, Math.round(height * k))),
    scaled: true,
  };
}

export interface GenerationLimits {
  /** The daemon's `limits.max_generate_side`. */
  maxSide: number;
  /** The protocol's minimum width/height of a generate job. */
  minSide?: number;
  /** Width and height must be multiples of this. */
  multiple?: number;
}

/**
 * The width/height to ask the daemon for when the image should cover `target`: the same aspect,
 * the long side at most `maxSide`, both sides multiples of 8 and at least 64.
 */
export function generationSize(target: Size, limits: GenerationLimits): Size {
  const multiple = limits.multiple ?? 8;
  const minSide = limits.minSide ?? 64;
  const maxSide = Math.floor(limits.maxSide / multiple) * multiple;
  const fitted = fitWithin(target, maxSide);
  const snap = (v: number): number =>
    Math.min(maxSide, Math.max(minSide, Math.round(v / multiple) * multiple));
  return { width: snap(fitted.width), height: snap(fitted.height) };
}

/** Width and height from a PNG's IHDR chunk, or null when the bytes are not a PNG. */
export function pngSize(png: Uint8Array): Size | null {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (png.length < 24) return null;
  for (let i = 0; i < signature.length; i++) if (png[i] !== signature[i]) return null;
  // IHDR is always first: length(4) "IHDR"(4) width(4) height(4), big-endian.
  if (png[12] !== 0x49 || png[13] !== 0x48 || png[14] !== 0x44 || png[15] !== 0x52) return null;
  const u32 = (o: number): number =>
    ((png[o] ?? 0) * 0x1000000 + ((png[o + 1] ?? 0) << 16) + ((png[o + 2] ?? 0) << 8) + (png[o + 3] ?? 0)) >>> 0;
  return { width: u32(16), height: u32(20) };
}

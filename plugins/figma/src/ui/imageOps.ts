/** The pixel work the UI needs, behind an interface: canvas in the iframe, pngjs in Node tests. */

import type { Region } from "@layerbridge/common";

export interface FittedPng {
  png: Uint8Array;
  width: number;
  height: number;
  /** True when the image was downscaled to fit. */
  scaled: boolean;
  /** The size before fitting. */
  original: { width: number; height: number };
}

export interface GreyImage {
  bytes: Uint8Array;
  width: number;
  height: number;
}

export interface ImageOps {
  /** `patch` drawn over `base` (alpha-blended) with its top-left at `region`; PNG of base's size. */
  compose(base: Uint8Array, patch: Uint8Array, region: Region): Promise<Uint8Array>;
  /** The PNG, downscaled (aspect kept) when a side exceeds `maxSide`. */
  fit(png: Uint8Array, maxSide: number): Promise<FittedPng>;
  /** The PNG over an opaque white background (a sketch frame may be transparent). */
  flatten(png: Uint8Array): Promise<Uint8Array>;
  /** One byte per pixel from the PNG's luminance: a mask for the daemon (255 = repaint). */
  grey(png: Uint8Array): Promise<GreyImage>;
}

/** ImageOps on the iframe's canvas: decode with createImageBitmap, encode with toBlob. */

import type { Region } from "@layerbridge/common";
import { fitWithin } from "../shared/size";
import type { FittedPng, GreyImage, ImageOps } from "./imageOps";

async function decode(png: Uint8Array): Promise<ImageBitmap> {
  const copy = new Uint8Array(png); // a Blob needs an ArrayBuffer-backed view
  return createImageBitmap(new Blob([copy], { type: "image/png" }), {
    premultiplyAlpha: "none",
    colorSpaceConversion: "none",
  });
}

function canvas(width: number, height: number): { el: HTMLCanvasElement; ctx: CanvasRenderingContext2D } {
  const el = document.createElement("canvas");
  el.width = width;
  el.height = height;
  const ctx = el.getContext("2d", { willReadFrequently: true });
  if (ctx === null) throw new Error("This browser has no 2D canvas");
  return { el, ctx };
}

async function encode(el: HTMLCanvasElement): Promise<Uint8Array> {
  const blob = await new Promise<Blob | null>((resolve) => el.toBlob(resolve, "image/png"));
  if (blob === null) throw new Error("Could not encode the image as PNG");
  return new Uint8Array(await blob.arrayBuffer());
}

export const canvasImageOps: ImageOps = {
  async compose(base: Uint8Array, patch: Uint8Array, region: Region): Promise<Uint8Array> {
    const [under, over] = await Promise.all([decode(base), decode(patch)]);
    const { el, ctx } = canvas(under.width, under.height);
    ctx.drawImage(under, 0, 0);
    ctx.drawImage(over, region.x, region.y, region.width, region.height);
    under.close();
    over.close();
    return encode(el);
  },

  async fit(png: Uint8Array, maxSide: number): Promise<FittedPng> {
    const image = await decode(png);
    const original = { width: image.width, height: image.height };
    const { width, height, scaled } = fitWithin(original, maxSide);
    if (!scaled) {
      image.close();
      return { png, ...original, scaled: false, original };
    }
    const { el, ctx } = canvas(width, height);
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(image, 0, 0, width, height);
    image.close();
    return { png: await encode(el), width, height, scaled: true, original };
  },

  async flatten(png: Uint8Array): Promise<Uint8Array> {
    const image = await decode(png);
    const { el, ctx } = canvas(image.width, image.height);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, image.width, image.height);
    ctx.drawImage(image, 0, 0);
    image.close();
    return encode(el);
  },

  async grey(png: Uint8Array): Promise<GreyImage> {
    const image = await decode(png);
    const { width, height } = image;
    const { ctx } = canvas(width, height);
    ctx.drawImage(image, 0, 0);
    image.close();
    const rgba = ctx.getImageData(0, 0, width, height).data;
    const bytes = new Uint8Array(width * height);
    for (let i = 0, j = 0; j < bytes.length; i += 4, j++) {
      // Luminance times alpha: a transparent pixel never repaints.
      const lum = 0.299 * (rgba[i] ?? 0) + 0.587 * (rgba[i + 1] ?? 0) + 0.114 * (rgba[i + 2] ?? 0);
      bytes[j] = Math.round((lum * (rgba[i + 3] ?? 0)) / 255);
    }
    return { bytes, width, height };
  },
};

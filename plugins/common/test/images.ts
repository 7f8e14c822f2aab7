// Small test images as raw bytes.

export function gradientRgba(width: number, height: number): Uint8Array {
  const out = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      out[i] = (x * 255) / width;
      out[i + 1] = (y * 255) / height;
      out[i + 2] = 128;
      out[i + 3] = 255;
    }
  return out;
}

/** 255 inside [x0,x1)×[y0,y1), 0 elsewhere. */
export function rectMask(width: number, height: number, x0: number, y0: number, x1: number, y1: number): Uint8Array {
  const out = new Uint8Array(width * height);
  for (let y = y0; y < y1; y++) out.fill(255, y * width + x0, y * width + x1);
  return out;
}

export function isPng(bytes: Uint8Array): boolean {
  return bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
}

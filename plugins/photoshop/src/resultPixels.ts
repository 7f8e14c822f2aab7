// A result's bytes to RGBA8 for putPixels, and which format to ask results in. On loopback the
// daemon sends raw rgba8: no PNG to encode there nor to decode here (UXP decodes in plain JS).
import type { JobOutput, JobParams } from "@layerbridge/common";
import type { RgbaImage } from "./pixels.js";
import { decodePng } from "./png.js";

/** The daemon is on this machine: raw pixels cost nothing to move, PNG costs time both ends. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h);
}

export function resultFormatFor(hostname: string): NonNullable<JobParams["result_format"]> {
  return isLoopback(hostname) ? "rgba8" : "png";
}

/** The result as RGBA8; throws when its bytes do not match what its info says. */
export function resultPixels(output: JobOutput): RgbaImage {
  const { format, width, height } = output.info;
  if (format === "rgba8") {
    const expected = width * height * 4;
    if (output.bytes.length !== expected) {
      throw new Error(`result ${output.info.index + 1} is rgba8 ${width}×${height} (${expected} bytes) but ${output.bytes.length} bytes arrived`);
    }
    return { width, height, data: output.bytes };
  }
  if (format === "png") return decodePng(output.bytes);
  throw new Error(`result ${output.info.index + 1} is in ${format}, which the panel cannot place`);
}

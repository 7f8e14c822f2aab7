/**
 * One request from start to finish on the UI side: upload the exported inputs, submit the job,
 * report progress (with previews), then turn each result into a PNG Figma accepts: composited
 * onto the original where the daemon returned a region, downscaled to 4096 px with a note.
 */

import type { JobHandle, JobInputs, JobPreview, LayerbridgeClient, Limits, ResultInfo, UploadProgress } from "@layerbridge/common";
import type { FlowInput, PlacedImage } from "../shared/messages";
import { FIGMA_MAX_IMAGE_SIDE, pngSize } from "../shared/size";
import { controlFor, jobParams, type FlowOptions } from "./flowOptions";
import type { ImageOps } from "./imageOps";

export interface FlowCallbacks {
  onUpload?(progress: UploadProgress): void;
  /** The job is submitted: keep the handle to cancel it. */
  onJob?(job: JobHandle): void;
  onProgress?(step: number, steps: number, preview: JobPreview | undefined): void;
}

export interface FlowOutcome {
  jobId: string;
  images: PlacedImage[];
  /** Things the user should know (a downscale, a lowered export). */
  notes: string[];
  seconds: number | undefined;
}

/** A flow's input images by the job field each fills (image, mask, control): submitWithInputs
 * uploads what the daemon lacks and puts each hash in its own field. */
export async function inputsFor(input: FlowInput, options: FlowOptions, ops: ImageOps): Promise<JobInputs> {
  switch (input.flow) {
    case "generate": {
      const control = controlFor(input, options); // before any pixel work: no ControlNet, no job
      if (control === undefined || input.control === undefined) return {};
      // A transparent sketch frame reads as black to a ControlNet: flatten it onto white.
      return { control: [{ ...control, image: { bytes: await ops.flatten(input.control), format: "png" } }] };
    }
    case "refine":
      return { image: { bytes: input.image, format: "png" } };
    case "inpaint": {
      const mask = await ops.grey(input.mask);
      return {
        image: { bytes: input.image, format: "png" },
        mask: { bytes: mask.bytes, format: "grey8", width: mask.width, height: mask.height },
      };
    }
  }
}

export async function runFlow(
  client: LayerbridgeClient,
  input: FlowInput,
  options: FlowOptions,
  ops: ImageOps,
  callbacks: FlowCallbacks = {},
): Promise<FlowOutcome> {
  const welcome = await client.ready();
  const limits: Limits = welcome.limits;
  const params = jobParams(input, options, limits);
  const job = await client.submitWithInputs(params, await inputsFor(input, options, ops), { onUpload: callbacks.onUpload });
  callbacks.onJob?.(job);
  const off = job.on("progress", (p) => callbacks.onProgress?.(p.step, p.steps, p.preview));
  try {
    const outcome = await job.finished;
    const notes = input.note === undefined ? [] : [input.note];
    const images: PlacedImage[] = [];
    for (const output of outcome.results) {
      images.push(await toPlaceable(input, output.info, output.bytes, ops, notes));
    }
    return { jobId: outcome.jobId, images, notes, seconds: outcome.seconds };
  } finally {
    off();
  }
}

async function toPlaceable(
  input: FlowInput,
  info: ResultInfo,
  bytes: Uint8Array,
  ops: ImageOps,
  notes: string[],
): Promise<PlacedImage> {
  let png = bytes;
  const base = input.flow === "inpaint" || input.flow === "refine" ? input.image : null;
  if (base !== null && !coversWhole(info, pngSize(base))) {
    png = await ops.compose(base, png, info.region);
  }
  const fitted = await ops.fit(png, FIGMA_MAX_IMAGE_SIDE);
  if (fitted.scaled) {
    notes.push(
      `Result ${info.index + 1} (${fitted.original.width}×${fitted.original.height}) was downscaled to ` +
        `${fitted.width}×${fitted.height}: Figma takes images up to ${FIGMA_MAX_IMAGE_SIDE} px per side.`,
    );
  }
  return { png: fitted.png, width: fitted.width, height: fitted.height, seed: info.seed };
}

/** True when the result is the whole input image, so there is nothing to composite. */
function coversWhole(info: ResultInfo, base: { width: number; height: number } | null): boolean {
  if (base === null) return true;
  const r = info.region;
  return r.x === 0 && r.y === 0 && r.width === base.width && r.height === base.height &&
    info.width === base.width && info.height === base.height;
}

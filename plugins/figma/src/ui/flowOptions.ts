/** What the user set in the panel, and how it becomes the daemon's job parameters. Pure. */

import type { ControlSpec, JobParams, Limits, LoraSpec } from "@layerbridge/common";
import type { FlowInput, SketchControl } from "../shared/messages";
import { generationSize } from "../shared/size";

export interface FlowOptions {
  model: string;
  prompt: string;
  negativePrompt: string;
  /** null: the daemon picks one (and reports it with each result). */
  seed: number | null;
  steps: number;
  guidance: number;
  /** How many variations (the protocol's batch). */
  batch: number;
  /** Restyle and fill region: 0 keeps the image, 1 replaces it. */
  strength: number;
  /** Sketch to image: how the frame is read. */
  control: SketchControl;
  controlStrength: number;
  loras: LoraSpec[];
}

export const DEFAULT_OPTIONS: FlowOptions = {
  model: "",
  prompt: "",
  negativePrompt: "",
  seed: null,
  steps: 20,
  guidance: 7,
  batch: 1,
  strength: 0.6,
  control: "scribble",
  controlStrength: 1,
  loras: [],
};

/** Blob hashes, in the order `blobsFor` listed the inputs. */
export type UploadedShas = readonly string[];

/** The job for `input` with the user's options, naming the uploaded blobs by hash. */
export function jobParams(input: FlowInput, options: FlowOptions, shas: UploadedShas, limits: Limits): JobParams {
  const base: JobParams = {
    kind: "generate",
    model: options.model,
    prompt: options.prompt,
    negative_prompt: options.negativePrompt,
    steps: options.steps,
    guidance: options.guidance,
    batch: Math.min(Math.max(1, Math.round(options.batch)), limits.max_batch),
    loras: options.loras.filter((l) => l.weight !== 0),
  };
  if (options.seed !== null) base.seed = options.seed;
  const sha = (i: number): string => {
    const value = shas[i];
    if (value === undefined) throw new Error(`missing upload #${i + 1} for ${input.flow}`);
    return value;
  };
  switch (input.flow) {
    case "generate":
      return { ...base, ...generationSize(input.target, { maxSide: limits.max_generate_side }) };
    case "restyle":
      return { ...base, kind: "refine", image: sha(0), strength: options.strength };
    case "inpaint":
      return { ...base, kind: "inpaint", image: sha(0), mask: sha(1), strength: options.strength };
    case "sketch": {
      const control: ControlSpec = { type: options.control, image: sha(0), strength: options.controlStrength };
      return { ...base, ...generationSize(input.size, { maxSide: limits.max_generate_side }), control: [control] };
    }
  }
}

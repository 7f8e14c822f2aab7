/** What the user set in the panel, and how it becomes the daemon's job parameters. Pure. */

import type { ControlSpec, ControlType, JobKind, Limits, LoraSpec, ModelInfo, ParamsWithoutInputs } from "@layerbridge/common";
import { FLOW_KINDS, type FlowInput } from "../shared/messages";
import { generationSize } from "../shared/size";

// The plugin's flows are the wire's job kinds, not words of its own: this stops compiling if not.
FLOW_KINDS satisfies readonly JobKind[];

/** A registered ControlNet the user picked for the control image: sent by id, with its type. */
export interface ControlNetChoice {
  id: string;
  type: ControlType;
}

/** The map types a union ControlNet can be asked to read a sketch as (the job names one). */
export const UNION_READS: readonly ControlType[] = ["scribble", "lineart", "canny", "softedge", "depth", "normal", "openpose", "segmentation", "mlsd"];

/**
 * The panel's choices for a ControlNet: its id, or `id:type` for a union model, which follows
 * several maps and is told per job which one (ids never hold a colon).
 */
export function controlNetOptions(model: ModelInfo): { value: string; type: ControlType | "any" }[] {
  const type = model.control_type;
  if (type === "union") return UNION_READS.map((t) => ({ value: `${model.id}:${t}`, type: t }));
  return [{ value: model.id, type: type ?? "any" }];
}

/** The ControlNet a panel choice names among the daemon's models, or null ("" is "None"). */
export function controlNetChoice(models: readonly ModelInfo[], value: string): ControlNetChoice | null {
  const [id, asType] = value.split(":");
  const model = models.find((m) => m.id === id && m.kind === "controlnet");
  if (model === undefined) return null;
  const type = model.control_type;
  if (type === "union") return asType === undefined ? null : { id: model.id, type: asType as ControlType };
  // A ControlNet registered without a type follows whatever it was trained on: "none" says so.
  return { id: model.id, type: type ?? "none" };
}

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
  /** Refine and fill region: 0 keeps the image, 1 replaces it. */
  strength: number;
  /** Generate from a control image: the ControlNet that reads it (null: none picked). */
  controlNet: ControlNetChoice | null;
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
  controlNet: null,
  controlStrength: 1,
  loras: [],
};

/** The job for `input` with the user's options, without its input images: submitWithInputs
 * uploads those and fills `image`, `mask` and `control` by name. */
export function jobParams(input: FlowInput, options: FlowOptions, limits: Limits): ParamsWithoutInputs {
  const base: ParamsWithoutInputs = {
    kind: input.flow,
    model: options.model,
    prompt: options.prompt,
    negative_prompt: options.negativePrompt,
    steps: options.steps,
    guidance: options.guidance,
    batch: Math.min(Math.max(1, Math.round(options.batch)), limits.max_batch),
    loras: options.loras.filter((l) => l.weight !== 0),
  };
  if (options.seed !== null) base.seed = options.seed;
  switch (input.flow) {
    case "generate":
      return { ...base, ...generationSize(input.target, { maxSide: limits.max_generate_side }) };
    case "refine":
    case "inpaint":
      return { ...base, strength: options.strength };
  }
}

/** How the picked ControlNet reads a generate's sketch (its image travels as an input), or
 * undefined when the flow has no sketch. */
export function controlFor(input: FlowInput, options: FlowOptions): Omit<ControlSpec, "image"> | undefined {
  if (input.flow !== "generate" || input.control === undefined) return undefined;
  const net = options.controlNet;
  if (net === null) throw new Error("Pick a ControlNet to read the sketch with (ControlNet, under Generate).");
  return { type: net.type, model: net.id, strength: options.controlStrength };
}

// From the form and the document to a job: what to read, which job to send, where results land.
// Pure: the same plan drives Photoshop and the tests.
import type { Limits, ModelInfo, ParamsWithoutInputs } from "@layerbridge/common";
import type { FormValues, Mode } from "./form.js";
import { fillReadRect, generateSize, type Rect } from "./geometry.js";
import type { ColorMode, DocumentInfo, Margins, ReadRequest } from "./host/Host.js";

/** A problem with the user's input that the panel shows as is. */
export class PlanError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlanError";
  }
}

export interface JobPlan {
  mode: Mode;
  /** The job's parameters without its input images (submitWithInputs fills those by name). */
  params: ParamsWithoutInputs;
  /** What to read from the document; undefined when nothing is needed (plain generate). */
  read: ReadRequest | undefined;
  /** The input image's top-left in document pixels: results' regions are relative to it. */
  origin: { x: number; y: number };
  /** Apply the job's mask (the selection) as the result layers' mask. */
  layerMask: boolean;
  /** Expand: margins to grow the canvas by before placing. */
  grow: Margins | undefined;
  /** Generate: the box the result covers in the document, when the daemon generates it at
   * another size (its results are scaled to this box). */
  placeSize: { width: number; height: number } | undefined;
  controlTypes: { type: FormValues["controls"][number]["type"]; strength: number }[];
}

/** Colour modes whose documents hold pixel layers and convert to and from RGB: getPixels converts
 * to the requested colorSpace ("the working color profile for that color space is used to
 * convert colors"), and "Photoshop will perform color conversions when needed" on putPixels
 * (imaging.md). Indexed and Bitmap documents cannot hold the result layer at all. */
const PLACEABLE_MODES: ReadonlySet<ColorMode> = new Set(["RGB", "Grayscale", "CMYK", "Lab"]);

/** Without a daemon limit: the protocol's default max_generate_side. */
const DEFAULT_GENERATE_SIDE = 2048;

export function planJob(form: FormValues, doc: DocumentInfo, model: ModelInfo | undefined, limits: Limits | undefined): JobPlan {
  const plan = planFor(form, doc, model, limits);
  checkSize(plan, limits);
  return plan;
}

/** Refuse early (before reading pixels) what the daemon would refuse as too large. */
function checkSize(plan: JobPlan, limits: Limits | undefined): void {
  if (!plan.read || !limits) return;
  const m = plan.grow ?? {};
  const width = plan.read.rect.width + (m.left ?? 0) + (m.right ?? 0);
  const height = plan.read.rect.height + (m.top ?? 0) + (m.bottom ?? 0);
  if (width > limits.max_side || height > limits.max_side || width * height > limits.max_image_pixels) {
    throw new PlanError(
      `The image to send is ${width}×${height} px; the daemon accepts at most ${limits.max_side} px a side and ${limits.max_image_pixels} px in all. Select a smaller area.`,
    );
  }
}

function planFor(form: FormValues, doc: DocumentInfo, model: ModelInfo | undefined, limits: Limits | undefined): JobPlan {
  if (!form.model || !model) throw new PlanError("Pick a model first.");
  if (!PLACEABLE_MODES.has(doc.mode)) {
    throw new PlanError(
      `This document is in ${doc.mode} mode, which cannot hold the result layers. Convert it first with Image ▸ Mode ▸ RGB Color (Layerbridge works in RGB, Grayscale, CMYK and Lab documents).`,
    );
  }
  const canvas: Rect = { x: 0, y: 0, width: doc.width, height: doc.height };
  const batch = clampInt(form.variations, 1, limits?.max_batch ?? 8);
  const steps = clampInt(form.steps, 1, limits?.max_steps ?? 150);
  const params: JobPlan["params"] = {
    kind: "generate",
    model: form.model,
    prompt: form.prompt,
    negative_prompt: form.negativePrompt,
    steps,
    batch,
    loras: form.loras.filter((l) => l.id).map((l) => ({ id: l.id, weight: l.weight })),
  };
  if (form.seedLocked) params.seed = clampInt(form.seed, 0, 2 ** 32 - 1);
  const controlLayerIds = form.controls.map((c) => c.layerId);
  const controlTypes = form.controls.map((c) => ({ type: c.type, strength: c.strength }));
  const strength = Math.min(1, Math.max(0, form.strength));

  switch (form.mode) {
    case "generate": {
      const target = doc.selection ?? canvas;
      // at the document's pixel size, as far as the daemon generates; a smaller result is
      // scaled up to its box (a hires pass is the engine's to add)
      const size = generateSize(target, limits?.max_generate_side ?? DEFAULT_GENERATE_SIDE);
      params.kind = "generate";
      params.width = size.width;
      params.height = size.height;
      const placeSize = { width: target.width, height: target.height };
      const read: ReadRequest | undefined = controlLayerIds.length
        ? { documentId: doc.id, source: { kind: "composite" }, rect: target, withSelection: false, controlLayerIds }
        : undefined;
      return { mode: form.mode, params, read, origin: { x: target.x, y: target.y }, layerMask: false, grow: undefined, placeSize, controlTypes };
    }
    case "inpaint": {
      if (!doc.selection) throw new PlanError("Make a selection first: Fill repaints the selected area.");
      // a crop of the document: the daemon finds its context box on the canvas named here and
      // says where each result lands on it (result.placement)
      const rect = fillReadRect(doc.selection, doc, model.native_side);
      params.kind = "inpaint";
      params.strength = strength;
      params.canvas = { width: doc.width, height: doc.height, x: rect.x, y: rect.y };
      return {
        mode: form.mode,
        params,
        read: { documentId: doc.id, source: { kind: "composite" }, rect, withSelection: true, controlLayerIds },
        origin: { x: rect.x, y: rect.y },
        layerMask: true,
        grow: undefined,
        placeSize: undefined,
        controlTypes,
      };
    }
    case "refine": {
      const layer = doc.activeLayer;
      if (!layer) throw new PlanError("Select the layer to refine.");
      const rect = doc.selection ?? layer.bounds;
      if (!rect) throw new PlanError(`The layer "${layer.name}" is empty: nothing to refine.`);
      params.kind = "refine";
      params.strength = strength;
      return {
        mode: form.mode,
        params,
        read: { documentId: doc.id, source: { kind: "layer", layerId: layer.id }, rect, withSelection: doc.selection !== null, controlLayerIds },
        origin: { x: rect.x, y: rect.y },
        layerMask: doc.selection !== null,
        grow: undefined,
        placeSize: undefined,
        controlTypes,
      };
    }
    case "expand": {
      const m = form.expand;
      const margins = { left: clampInt(m.left, 0, 4096), top: clampInt(m.top, 0, 4096), right: clampInt(m.right, 0, 4096), bottom: clampInt(m.bottom, 0, 4096) };
      if (!(margins.left || margins.top || margins.right || margins.bottom)) throw new PlanError("Set how many pixels to add on at least one side.");
      params.kind = "expand";
      params.strength = strength;
      params.margins = margins;
      return {
        mode: form.mode,
        params,
        read: { documentId: doc.id, source: { kind: "composite" }, rect: canvas, withSelection: false, controlLayerIds },
        // the result covers the grown canvas; its region starts at (-left, -top) of the input
        origin: { x: margins.left, y: margins.top },
        layerMask: false,
        grow: margins,
        placeSize: undefined,
        controlTypes,
      };
    }
  }
}

function clampInt(value: number, lo: number, hi: number): number {
  const v = Math.round(Number.isFinite(value) ? value : lo);
  return Math.min(hi, Math.max(lo, v));
}

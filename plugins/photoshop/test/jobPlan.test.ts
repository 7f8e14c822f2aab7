import { describe, expect, it } from "vitest";
import type { Limits, ModelInfo } from "@layerbridge/common";
import { DEFAULT_FORM, type FormValues } from "../src/form.js";
import type { DocumentInfo } from "../src/host/Host.js";
import { contains } from "../src/geometry.js";
import { planJob, PlanError } from "../src/jobPlan.js";

const model: ModelInfo = { id: "m", name: "M", arch: "sd15" };
const limits: Limits = { max_frame_bytes: 1, max_blob_bytes: 1, max_chunk_bytes: 1, max_image_pixels: 4096 * 4096, max_side: 8192, max_generate_side: 2048, max_steps: 150, max_batch: 8 };
const doc = (patch: Partial<DocumentInfo> = {}): DocumentInfo => ({
  id: 1, title: "t", width: 1000, height: 800, mode: "RGB", resolution: 300, selection: null,
  activeLayer: { id: 5, name: "L", bounds: { x: 10, y: 20, width: 300, height: 200 }, kind: "pixel" }, layers: [], ...patch,
});
const form = (patch: Partial<FormValues>): FormValues => ({ ...DEFAULT_FORM, model: "m", ...patch });

describe("planJob", () => {
  it("fill: inpaint over the selection's context, masked, placed relative to the read region", () => {
    const p = planJob(form({ mode: "inpaint", variations: 3 }), doc({ selection: { x: 400, y: 300, width: 50, height: 40 } }), model, limits);
    expect(p.params).toMatchObject({ kind: "inpaint", batch: 3, strength: 1 });
    expect(p.read?.withSelection).toBe(true);
    expect(p.layerMask).toBe(true);
    expect(p.origin).toEqual({ x: p.read!.rect.x, y: p.read!.rect.y });
  });

  it("fill: names the canvas and the crop's origin on it, for the daemon's context box and placement", () => {
    const d = doc({ width: 4000, height: 3000, selection: { x: 2000, y: 1500, width: 50, height: 40 } });
    const p = planJob(form({ mode: "inpaint" }), d, { ...model, native_side: 128, size_multiple: 8 }, limits);
    const rect = p.read!.rect;
    expect(p.params.canvas).toEqual({ width: 4000, height: 3000, x: rect.x, y: rect.y });
    expect(contains(rect, d.selection!)).toBe(true);
    expect(rect.width * rect.height).toBeLessThan(0.05 * 4000 * 3000);
  });

  it("fill: the crop's margin reaches past the model's native side and the selection's long side", () => {
    const d = doc({ width: 8000, height: 6000, selection: { x: 4000, y: 3000, width: 900, height: 300 } });
    const small = planJob(form({ mode: "inpaint" }), d, { ...model, native_side: 128 }, limits).read!.rect;
    // the daemon's context reaches at most the long side (900) from the selection: all of it is read
    expect(small).toEqual({ x: 4000 - 964, y: 3000 - 964, width: 900 + 2 * 964, height: 300 + 2 * 964 });
    const xl = planJob(form({ mode: "inpaint" }), doc({ width: 8000, height: 6000, selection: { x: 4000, y: 3000, width: 50, height: 40 } }), { ...model, native_side: 1024 }, limits).read!.rect;
    expect(xl.x).toBe(4000 - 1088);
    // without native_side the largest common one (1024) is assumed
    const unknown = planJob(form({ mode: "inpaint" }), doc({ width: 8000, height: 6000, selection: { x: 4000, y: 3000, width: 50, height: 40 } }), { ...model, arch: "flux" }, limits).read!.rect;
    expect(unknown).toEqual(xl);
  });

  it("fill: the crop stays on the canvas, and the canvas names where", () => {
    const p = planJob(form({ mode: "inpaint" }), doc({ selection: { x: 10, y: 700, width: 50, height: 40 } }), { ...model, native_side: 128 }, limits);
    expect(p.read?.rect).toEqual({ x: 0, y: 700 - 192, width: 10 + 50 + 192, height: 100 + 192 });
    expect(p.params.canvas).toEqual({ width: 1000, height: 800, x: 0, y: 508 });
  });

  it("generate: output size from the selection, placed over it, no read without controls", () => {
    const p = planJob(form({ mode: "generate" }), doc({ selection: { x: 100, y: 50, width: 400, height: 300 } }), model, limits);
    expect(p.read).toBeUndefined();
    expect(p.params).toMatchObject({ kind: "generate", width: 400, height: 304 });
    expect(p.origin).toEqual({ x: 100, y: 50 });
    expect(p.placeSize).toEqual({ width: 400, height: 300 });
  });

  it("generate: an A4 300 ppi canvas at the daemon's largest side, placed over the whole canvas", () => {
    const a4 = doc({ width: 3508, height: 2480 });
    const p = planJob(form({ mode: "generate" }), a4, model, limits);
    expect(p.params).toMatchObject({ width: 2048, height: 1448 });
    expect(p.placeSize).toEqual({ width: 3508, height: 2480 });
    expect(p.origin).toEqual({ x: 0, y: 0 });
  });

  it("generate: a canvas within the daemon's limit is generated at its own size, not capped at 1024", () => {
    const p = planJob(form({ mode: "generate" }), doc({ width: 1600, height: 1200 }), model, limits);
    expect(p.params).toMatchObject({ width: 1600, height: 1200 });
  });

  for (const mode of ["Indexed", "Bitmap", "Duotone", "Multichannel"] as const) {
    it(`refuses a document in ${mode} mode before reading anything, naming Image ▸ Mode`, () => {
      expect(() => planJob(form({ mode: "generate" }), doc({ mode }), model, limits)).toThrow(new RegExp(`${mode} mode.*Image ▸ Mode`));
    });
  }

  for (const mode of ["RGB", "Grayscale", "CMYK", "Lab"] as const) {
    it(`plans for a document in ${mode} mode (read as RGB, converted by Photoshop)`, () => {
      expect(planJob(form({ mode: "inpaint" }), doc({ mode, selection: { x: 400, y: 300, width: 50, height: 40 } }), model, limits).params.kind).toBe("inpaint");
    });
  }

  it("refine: the active layer's bounds, its own pixels", () => {
    const p = planJob(form({ mode: "refine", strength: 0.4 }), doc(), model, limits);
    expect(p.read?.source).toEqual({ kind: "layer", layerId: 5 });
    expect(p.read?.rect).toEqual({ x: 10, y: 20, width: 300, height: 200 });
    expect(p.params.strength).toBe(0.4);
  });

  it("expand: the whole canvas, margins, placed at the grown canvas's origin", () => {
    const p = planJob(form({ mode: "expand", expand: { left: 10, top: 0, right: 20, bottom: 0 } }), doc(), model, limits);
    expect(p.params.margins).toEqual({ left: 10, top: 0, right: 20, bottom: 0 });
    expect(p.origin).toEqual({ x: 10, y: 0 });
    expect(p.grow).toEqual({ left: 10, top: 0, right: 20, bottom: 0 });
  });

  it("locks the seed only when asked and clamps steps and variations to the daemon's limits", () => {
    expect(planJob(form({ mode: "generate", seed: 5 }), doc(), model, limits).params.seed).toBeUndefined();
    const p = planJob(form({ mode: "generate", seed: 5, seedLocked: true, steps: 999, variations: 50 }), doc(), model, limits);
    expect(p.params).toMatchObject({ seed: 5, steps: 150, batch: 8 });
  });

  it("refuses clearly: no model, no selection to fill, nothing to expand, too large", () => {
    expect(() => planJob(form({ model: "" }), doc(), undefined, limits)).toThrow(PlanError);
    expect(() => planJob(form({ mode: "inpaint" }), doc(), model, limits)).toThrow(/selection/);
    expect(() => planJob(form({ mode: "expand", expand: { left: 0, top: 0, right: 0, bottom: 0 } }), doc(), model, limits)).toThrow(/at least one side/);
    expect(() => planJob(form({ mode: "refine" }), doc({ activeLayer: null }), model, limits)).toThrow(/layer/);
    const huge = doc({ width: 9000, height: 9000, activeLayer: { id: 5, name: "L", bounds: { x: 0, y: 0, width: 9000, height: 9000 }, kind: "pixel" } });
    expect(() => planJob(form({ mode: "refine" }), huge, model, limits)).toThrow(/9000×9000 px/);
  });

  it("does not depend on the document's resolution", () => {
    const a = planJob(form({ mode: "inpaint" }), doc({ resolution: 72, selection: { x: 400, y: 300, width: 50, height: 40 } }), model, limits);
    const b = planJob(form({ mode: "inpaint" }), doc({ resolution: 300, selection: { x: 400, y: 300, width: 50, height: 40 } }), model, limits);
    expect(a).toEqual(b);
  });
});

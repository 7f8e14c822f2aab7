import type { Limits } from "@layerbridge/common";
import { describe, expect, it } from "vitest";
import { controlFor, controlNetChoice, controlNetOptions, DEFAULT_OPTIONS, jobParams, type FlowOptions } from "../../src/ui/flowOptions";

const limits: Limits = {
  max_frame_bytes: 17 << 20,
  max_blob_bytes: 512 << 20,
  max_chunk_bytes: 16 << 20,
  max_image_pixels: 16384 * 8192,
  max_side: 16384,
  max_generate_side: 2048,
  max_steps: 150,
  max_batch: 8,
};
const options: FlowOptions = { ...DEFAULT_OPTIONS, model: "demo", prompt: "fox", steps: 4, seed: 9 };

describe("jobParams", () => {
  it("generates at the target's size snapped to the daemon's limits", () => {
    const params = jobParams({ flow: "generate", target: { width: 4096, height: 2050 } }, options, limits);
    expect(params).toMatchObject({ kind: "generate", model: "demo", prompt: "fox", seed: 9, width: 2048, height: 1024 });
  });

  it("sends a refine (the Restyle tab) with the strength and no size of its own", () => {
    const params = jobParams({ flow: "refine", image: new Uint8Array(), size: { width: 64, height: 64 } }, { ...options, strength: 0.3 }, limits);
    expect(params).toMatchObject({ kind: "refine", strength: 0.3 });
    expect("width" in params).toBe(false);
  });

  it("fills a region as an inpaint job", () => {
    const input = { flow: "inpaint" as const, image: new Uint8Array(), mask: new Uint8Array(), size: { width: 8, height: 8 } };
    expect(jobParams(input, options, limits)).toMatchObject({ kind: "inpaint", strength: DEFAULT_OPTIONS.strength });
  });
});

describe("controlFor", () => {
  it("reads a sketch through the ControlNet picked, named by id with its type", () => {
    const input = { flow: "generate" as const, target: { width: 300, height: 200 }, control: new Uint8Array() };
    const control = controlFor(input, { ...options, controlNet: { id: "depth-sd15", type: "canny" }, controlStrength: 0.8 });
    expect(control).toEqual({ type: "canny", model: "depth-sd15", strength: 0.8 });
  });

  it("has nothing to read without a sketch", () => {
    expect(controlFor({ flow: "generate", target: { width: 64, height: 64 } }, options)).toBeUndefined();
  });

  it("asks for a ControlNet when a sketch comes without one", () => {
    const input = { flow: "generate" as const, target: { width: 64, height: 64 }, control: new Uint8Array() };
    expect(() => controlFor(input, options)).toThrow("Pick a ControlNet");
  });

  it("finds the picked ControlNet among the daemon's models with its type", () => {
    const models = [
      { id: "demo", name: "Demo", arch: "sd15", kind: "checkpoint" as const },
      { id: "demo-cn-lineart", name: "Line art", arch: "sd15", kind: "controlnet" as const, control_type: "lineart" as const },
    ];
    expect(controlNetChoice(models, "demo-cn-lineart")).toEqual({ id: "demo-cn-lineart", type: "lineart" });
    expect(controlNetChoice(models, "")).toBeNull();
    expect(controlNetChoice(models, "demo")).toBeNull(); // a checkpoint is no ControlNet
  });

  it("offers a union ControlNet once per map it can read, and sends the one picked", () => {
    const union = { id: "cn-union", name: "Union", arch: "sdxl", kind: "controlnet" as const, control_type: "union" as const };
    const options = controlNetOptions(union);
    expect(options).toContainEqual({ value: "cn-union:depth", type: "depth" });
    expect(options).toContainEqual({ value: "cn-union:scribble", type: "scribble" });
    expect(controlNetChoice([union], "cn-union:depth")).toEqual({ id: "cn-union", type: "depth" });
    expect(controlNetChoice([union], "cn-union")).toBeNull(); // a union needs its map named
  });

  it("leaves the seed to the daemon when none is set, caps the batch, drops zero-weight LoRAs", () => {
    const params = jobParams(
      { flow: "generate", target: { width: 64, height: 64 } },
      { ...options, seed: null, batch: 20, loras: [{ id: "a", weight: 0 }, { id: "b", weight: 0.7 }] },
      limits,
    );
    expect("seed" in params).toBe(false);
    expect(params.batch).toBe(8);
    expect(params.loras).toEqual([{ id: "b", weight: 0.7 }]);
  });
});

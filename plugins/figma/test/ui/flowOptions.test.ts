import type { Limits } from "@layerbridge/common";
import { describe, expect, it } from "vitest";
import { DEFAULT_OPTIONS, jobParams, type FlowOptions } from "../../src/ui/flowOptions";

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
const A = "a".repeat(64);
const B = "b".repeat(64);

describe("jobParams", () => {
  it("generates at the target's size snapped to the daemon's limits", () => {
    const params = jobParams({ flow: "generate", target: { width: 4096, height: 2050 } }, options, [], limits);
    expect(params).toMatchObject({ kind: "generate", model: "demo", prompt: "fox", seed: 9, width: 2048, height: 1024 });
    expect(params.image).toBeUndefined();
  });

  it("restyles as a refine job with the strength", () => {
    const params = jobParams(
      { flow: "restyle", image: new Uint8Array(), size: { width: 64, height: 64 } },
      { ...options, strength: 0.3 },
      [A],
      limits,
    );
    expect(params).toMatchObject({ kind: "refine", image: A, strength: 0.3 });
    expect(params.width).toBeUndefined();
  });

  it("fills a region as an inpaint job naming image and mask", () => {
    const input = { flow: "inpaint" as const, image: new Uint8Array(), mask: new Uint8Array(), size: { width: 8, height: 8 } };
    expect(jobParams(input, options, [A, B], limits)).toMatchObject({ kind: "inpaint", image: A, mask: B });
  });

  it("reads a sketch through the chosen ControlNet type", () => {
    const params = jobParams(
      { flow: "sketch", control: new Uint8Array(), size: { width: 300, height: 200 } },
      { ...options, control: "canny", controlStrength: 0.8 },
      [A],
      limits,
    );
    expect(params).toMatchObject({ kind: "generate", width: 304, height: 200, control: [{ type: "canny", image: A, strength: 0.8 }] });
  });

  it("leaves the seed to the daemon when none is set, caps the batch, drops zero-weight LoRAs", () => {
    const params = jobParams(
      { flow: "generate", target: { width: 64, height: 64 } },
      { ...options, seed: null, batch: 20, loras: [{ id: "a", weight: 0 }, { id: "b", weight: 0.7 }] },
      [],
      limits,
    );
    expect("seed" in params).toBe(false);
    expect(params.batch).toBe(8);
    expect(params.loras).toEqual([{ id: "b", weight: 0.7 }]);
  });

  it("names a missing upload instead of sending an undefined blob", () => {
    expect(() => jobParams({ flow: "restyle", image: new Uint8Array(), size: { width: 8, height: 8 } }, options, [], limits)).toThrow(
      "missing upload #1 for restyle",
    );
  });
});

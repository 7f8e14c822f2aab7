import { describe, expect, it } from "vitest";
import { fitWithin, generationSize, pngSize } from "../../src/shared/size";
import { solidPng } from "../support/png";

describe("fitWithin", () => {
  it("keeps sizes within 4096 unchanged", () => {
    expect(fitWithin({ width: 4096, height: 100 })).toEqual({ width: 4096, height: 100, scaled: false });
  });

  it("clamps the long side to 4096 and keeps the aspect ratio", () => {
    expect(fitWithin({ width: 8000, height: 6000 })).toEqual({ width: 4096, height: 3072, scaled: true });
    expect(fitWithin({ width: 1000, height: 10000 })).toEqual({ width: 410, height: 4096, scaled: true });
  });

  it("never scales up", () => {
    expect(fitWithin({ width: 10, height: 5 }, 4096)).toEqual({ width: 10, height: 5, scaled: false });
  });
});

describe("generationSize", () => {
  it("snaps to multiples of 8 within the daemon's generate limit", () => {
    expect(generationSize({ width: 300, height: 201 }, { maxSide: 2048 })).toEqual({ width: 304, height: 200 });
    expect(generationSize({ width: 4096, height: 2048 }, { maxSide: 2048 })).toEqual({ width: 2048, height: 1024 });
  });

  it("keeps both sides at least 64", () => {
    expect(generationSize({ width: 2000, height: 10 }, { maxSide: 2048 })).toEqual({ width: 2000, height: 64 });
  });
});

describe("pngSize", () => {
  it("reads width and height from the header", () => {
    expect(pngSize(solidPng(37, 12))).toEqual({ width: 37, height: 12 });
  });

  it("returns null for bytes that are not a PNG", () => {
    expect(pngSize(new Uint8Array([1, 2, 3]))).toBeNull();
    expect(pngSize(new Uint8Array(40))).toBeNull();
  });
});

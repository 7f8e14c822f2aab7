import { describe, expect, it } from "vitest";
import { generateSize, intersect, regionToDocument } from "../src/geometry.js";
import { placeInto, toRgba, cropGrey } from "../src/pixels.js";

describe("geometry", () => {
  it("moves a returned region by the input's origin", () => {
    expect(regionToDocument({ x: 5, y: 7, width: 10, height: 20 }, { x: 100, y: 200 })).toEqual({ x: 105, y: 207, width: 10, height: 20 });
  });

  it("intersects rectangles and reports no overlap as null", () => {
    expect(intersect({ x: 0, y: 0, width: 10, height: 10 }, { x: 5, y: 5, width: 10, height: 10 })).toEqual({ x: 5, y: 5, width: 5, height: 5 });
    expect(intersect({ x: 0, y: 0, width: 10, height: 10 }, { x: 10, y: 0, width: 5, height: 5 })).toBeNull();
  });

  it("sizes a generate to the target's aspect in multiples of 8", () => {
    expect(generateSize({ width: 4000, height: 3000 }, 1024)).toEqual({ width: 1024, height: 768 });
    expect(generateSize({ width: 100, height: 30 }, 1024)).toEqual({ width: 104, height: 64 });
  });
});

describe("pixels", () => {
  it("expands RGB and grey to RGBA", () => {
    expect([...toRgba(new Uint8Array([1, 2, 3]), 1, 1, 3)]).toEqual([1, 2, 3, 255]);
    expect([...toRgba(new Uint8Array([9]), 1, 1, 1)]).toEqual([9, 9, 9, 255]);
  });

  it("places a trimmed read into the asked rectangle", () => {
    const src = new Uint8Array([1, 2, 3, 4]); // 2x2 grey at (1,1)
    const out = placeInto(src, { x: 1, y: 1, width: 2, height: 2 }, { x: 0, y: 0, width: 3, height: 3 }, 1);
    expect([...out]).toEqual([0, 0, 0, 0, 1, 2, 0, 3, 4]);
  });

  it("crops a mask to a result's region", () => {
    const mask = { width: 3, height: 3, data: new Uint8Array([0, 0, 0, 0, 255, 255, 0, 255, 255]) };
    expect([...cropGrey(mask, { x: 1, y: 1, width: 2, height: 2 }).data]).toEqual([255, 255, 255, 255]);
  });
});

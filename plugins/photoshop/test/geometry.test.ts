import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { daemonContextBox, fillReadRect, generateSize, intersect, modelGeometry, regionToDocument, contains } from "../src/geometry.js";
import { placeInto, toRgba, cropGrey } from "../src/pixels.js";
import { layerbridgeBin } from "@layerbridge/common/testing";

describe("geometry", () => {
  it("moves a returned region by the input's origin", () => {
    expect(regionToDocument({ x: 5, y: 7, width: 10, height: 20 }, { x: 100, y: 200 })).toEqual({ x: 105, y: 207, width: 10, height: 20 });
  });

  it("intersects rectangles and reports no overlap as null", () => {
    expect(intersect({ x: 0, y: 0, width: 10, height: 10 }, { x: 5, y: 5, width: 10, height: 10 })).toEqual({ x: 5, y: 5, width: 5, height: 5 });
    expect(intersect({ x: 0, y: 0, width: 10, height: 10 }, { x: 10, y: 0, width: 5, height: 5 })).toBeNull();
  });

  it("computes the daemon's context box the way the daemon does", () => {
    // x, y, w, h, canvas w, canvas h, native, multiple
    const cases: [number, number, number, number, number, number, number, number][] = [
      [100, 120, 40, 30, 2000, 1500, 512, 8],
      [0, 0, 10, 10, 300, 200, 512, 8],
      [1900, 1400, 100, 100, 2000, 1500, 1024, 16],
      [500, 10, 600, 40, 4000, 3000, 768, 8],
      [48, 40, 48, 48, 160, 128, 128, 8], // the demo model
      [701, 500, 40, 40, 1600, 1200, 128, 8],
      // half-pixel centres: the daemon (Python's round) rounds them to even
      [101, 119, 40, 31, 2000, 1500, 512, 8], // y: 134.5 - 128 = 6.5 → 6
      [103, 121, 41, 37, 2000, 1500, 1024, 16],
      [81, 9, 5, 5, 1001, 999, 128, 8], // x: 83.5 - 36 = 47.5 → 48
      [0, 0, 101, 77, 101, 77, 512, 8],
    ];
    const python = join(dirname(layerbridgeBin()), "python");
    const script =
      "import json,sys\nfrom layerbridge.daemon.engine.imaging import context_box\n" +
      "cases=json.loads(sys.argv[1])\nprint(json.dumps([context_box((x,y,x+w,y+h),(cw,ch),native=n,multiple=m) for x,y,w,h,cw,ch,n,m in cases]))";
    const expected = JSON.parse(execFileSync(python, ["-c", script, JSON.stringify(cases)], { encoding: "utf8" })) as number[][];
    cases.forEach(([x, y, w, h, cw, ch, n, m], i) => {
      const box = daemonContextBox({ x, y, width: w, height: h }, { width: cw, height: ch }, n, m);
      const [x0, y0, x1, y1] = expected[i]!;
      expect(box, `case ${i}`).toEqual({ x: x0, y: y0, width: x1! - x0!, height: y1! - y0! });
    });
  });

  it("reads only the selection's context on a big document, and it contains the daemon's box", () => {
    const sel = { x: 3000, y: 2000, width: 200, height: 150 };
    const canvas = { width: 6000, height: 4000 };
    const read = fillReadRect(sel, canvas, { native: 512, multiple: 8 });
    expect(read.width * read.height).toBeLessThan(0.05 * canvas.width * canvas.height);
    expect(contains(read, daemonContextBox(sel, canvas, 512))).toBe(true);
    expect(contains(read, sel)).toBe(true);
  });

  it("the daemon finds the same box in the crop as on the whole canvas", () => {
    const canvas = { width: 3001, height: 2003 };
    let seed = 12345;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let i = 0; i < 500; i++) {
      const model = [{ native: 128, multiple: 8 }, { native: 512, multiple: 8 }, { native: 1024, multiple: 16 }][i % 3]!;
      const width = 1 + rand(300);
      const height = 1 + rand(300);
      const sel = { x: rand(canvas.width - width), y: rand(canvas.height - height), width, height };
      const read = fillReadRect(sel, canvas, model);
      const onCanvas = daemonContextBox(sel, canvas, model.native, model.multiple);
      const inCrop = daemonContextBox({ ...sel, x: sel.x - read.x, y: sel.y - read.y }, read, model.native, model.multiple);
      expect({ ...inCrop, x: inCrop.x + read.x, y: inCrop.y + read.y }, JSON.stringify({ sel, model })).toEqual(onCanvas);
    }
  });

  it("reads the whole canvas when the model's native size is unknown or the crop is most of it", () => {
    expect(fillReadRect({ x: 10, y: 10, width: 20, height: 20 }, { width: 4000, height: 3000 }, undefined)).toEqual({ x: 0, y: 0, width: 4000, height: 3000 });
    expect(fillReadRect({ x: 10, y: 10, width: 200, height: 200 }, { width: 300, height: 300 }, { native: 512, multiple: 8 })).toEqual({ x: 0, y: 0, width: 300, height: 300 });
  });

  it("takes a checkpoint's geometry from the daemon, else from its architecture", () => {
    expect(modelGeometry({ arch: "sd15", native_side: 128, size_multiple: 8 })).toEqual({ native: 128, multiple: 8 });
    expect(modelGeometry({ arch: "sdxl", native_side: 768, size_multiple: 16 })).toEqual({ native: 768, multiple: 16 });
    expect(modelGeometry({ arch: "sd15" })).toEqual({ native: 512, multiple: 8 });
    expect(modelGeometry({ arch: "sdxl-inpaint", native_side: null })).toEqual({ native: 1024, multiple: 16 });
    expect(modelGeometry({ arch: "sd2", size_multiple: 8 })).toEqual({ native: 768, multiple: 8 });
    expect(modelGeometry({ arch: "flux" })).toBeUndefined();
    expect(modelGeometry({ arch: "flux", native_side: 1024, size_multiple: 16 })).toEqual({ native: 1024, multiple: 16 });
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

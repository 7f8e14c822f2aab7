import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { daemonContextBox, fillReadRect, generateSize, intersect, regionToDocument, contains } from "../src/geometry.js";
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
    const cases: [number, number, number, number, number, number, number][] = [
      [100, 120, 40, 30, 2000, 1500, 512],
      [0, 0, 10, 10, 300, 200, 512],
      [1900, 1400, 100, 100, 2000, 1500, 1024],
      [500, 10, 600, 40, 4000, 3000, 768],
    ];
    const python = join(dirname(layerbridgeBin()), "python");
    const script =
      "import json,sys\nfrom layerbridge.daemon.engine.imaging import context_box\n" +
      "cases=json.loads(sys.argv[1])\nprint(json.dumps([context_box((x,y,x+w,y+h),(cw,ch),native=n,multiple=8) for x,y,w,h,cw,ch,n in cases]))";
    const expected = JSON.parse(execFileSync(python, ["-c", script, JSON.stringify(cases)], { encoding: "utf8" })) as number[][];
    cases.forEach(([x, y, w, h, cw, ch, n], i) => {
      const box = daemonContextBox({ x, y, width: w, height: h }, { width: cw, height: ch }, n);
      const [x0, y0, x1, y1] = expected[i]!;
      expect(box).toEqual({ x: x0, y: y0, width: x1! - x0!, height: y1! - y0! });
    });
  });

  it("reads only the selection's context on a big document, and it contains the daemon's box", () => {
    const sel = { x: 3000, y: 2000, width: 200, height: 150 };
    const canvas = { width: 6000, height: 4000 };
    const read = fillReadRect(sel, canvas, 512);
    expect(read.width * read.height).toBeLessThan(0.05 * canvas.width * canvas.height);
    expect(contains(read, daemonContextBox(sel, canvas, 512))).toBe(true);
    expect(contains(read, sel)).toBe(true);
  });

  it("reads the whole canvas when the model's native size is unknown or the crop is most of it", () => {
    expect(fillReadRect({ x: 10, y: 10, width: 20, height: 20 }, { width: 4000, height: 3000 }, undefined)).toEqual({ x: 0, y: 0, width: 4000, height: 3000 });
    expect(fillReadRect({ x: 10, y: 10, width: 200, height: 200 }, { width: 300, height: 300 }, 512)).toEqual({ x: 0, y: 0, width: 300, height: 300 });
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

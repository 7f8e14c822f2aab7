// Where results land and what the panel says about their size (pure parts of the controller).
import { describe, expect, it } from "vitest";
import { placementBox, sizeNote } from "../src/panelController.js";

const a4 = { origin: { x: 0, y: 0 }, placeSize: { width: 3508, height: 2480 }, params: { kind: "generate" as const, model: "m", width: 2048, height: 1448 } };

describe("result placement", () => {
  it("scales a generate made at the daemon's largest side up to the whole A4 canvas", () => {
    expect(placementBox({ x: 0, y: 0, width: 2048, height: 1448 }, a4)).toEqual({ x: 0, y: 0, width: 3508, height: 2480 });
    expect(sizeNote(a4)).toBe("Generated at 2048×1448 px, scaled up to 3508×2480 px.");
  });

  it("places a generate over a selection at the selection's corner and size", () => {
    const plan = { origin: { x: 100, y: 50 }, placeSize: { width: 400, height: 300 }, params: { kind: "generate" as const, model: "m", width: 400, height: 304 } };
    expect(placementBox({ x: 0, y: 0, width: 400, height: 304 }, plan)).toEqual({ x: 100, y: 50, width: 400, height: 300 });
  });

  it("moves a fill's region by the read origin, unscaled", () => {
    const plan = { origin: { x: 30, y: 40 }, placeSize: undefined, params: { kind: "inpaint" as const, model: "m" } };
    expect(placementBox({ x: 5, y: 6, width: 20, height: 10 }, plan)).toEqual({ x: 35, y: 46, width: 20, height: 10 });
    expect(sizeNote(plan)).toBeUndefined();
  });
});

import { describe, expect, it } from "vitest";
import { resultName, rowGap, rowSlots } from "../../src/main/layout";
import { exportPlan } from "../../src/main/exportNode";

describe("rowSlots", () => {
  it("lays results out in a row to the right of the source, one gap apart", () => {
    const source = { x: 100, y: 50, width: 200, height: 100 };
    expect(rowSlots(source, 3, 20)).toEqual([
      { x: 320, y: 50 },
      { x: 540, y: 50 },
      { x: 760, y: 50 },
    ]);
  });

  it("uses a gap proportional to the size, at least 24", () => {
    expect(rowGap({ x: 0, y: 0, width: 100, height: 100 })).toBe(24);
    expect(rowGap({ x: 0, y: 0, width: 2000, height: 100 })).toBe(100);
  });
});

describe("resultName", () => {
  it("names a result with its prompt and seed", () => {
    expect(resultName("  a red   fox ", 42)).toBe("a red fox · seed 42");
  });

  it("shortens long prompts and names empty ones", () => {
    expect(resultName("x".repeat(100), 1)).toBe(`${"x".repeat(47)}… · seed 1`);
    expect(resultName("", 7)).toBe("Layerbridge · seed 7");
  });
});

describe("exportPlan", () => {
  it("exports at the wanted scale when the result fits Figma", () => {
    expect(exportPlan({ width: 512, height: 256 }, 2)).toEqual({ scale: 2, size: { width: 1024, height: 512 } });
  });

  it("lowers the scale to stay within 4096 px and says so", () => {
    const plan = exportPlan({ width: 3000, height: 1500 }, 2);
    expect(plan.scale).toBeCloseTo(4096 / 3000);
    expect(plan.size).toEqual({ width: 4096, height: 2048 });
    expect(plan.note).toContain("6000×3000");
  });
});

import { describe, expect, it } from "vitest";
import { MainController } from "../../src/main/controller";
import type { MainToUi } from "../../src/shared/messages";
import { FigmaStub } from "../support/figmaStub";
import { decodePng } from "../support/png";

// In a Display P3 file a paint's numbers are P3 coordinates. The models work in sRGB, so what
// the daemon gets must be the same colour in sRGB, not the P3 numbers read as sRGB.
describe("exports in a Display P3 file", () => {
  it("hand the daemon sRGB pixels of the colours the designer sees", async () => {
    const stub = new FigmaStub();
    stub.root.documentColorProfile = "DISPLAY_P3";
    const sketch = stub.add("FRAME", "Sketch", { x: 0, y: 0, width: 40, height: 20 });
    // sRGB's pure red, written in Display P3 coordinates.
    sketch.fills = [{ type: "SOLID", color: { r: 0.9175, g: 0.2003, b: 0.1386 } }];
    stub.select(sketch);
    const controller = new MainController(stub.api);
    await controller.handle({ type: "prepare", requestId: "r1", flow: "generate", control: true, scale: 1, maxSide: 4096 });
    const reply = stub.log.posted.at(-1) as MainToUi;
    if (reply.type !== "prepared" || reply.input.flow !== "generate" || !reply.input.control) throw new Error(JSON.stringify(reply));
    const pixel = decodePng(reply.input.control).at(5, 5);
    expect(pixel.r).toBeGreaterThanOrEqual(253);
    expect(pixel.g).toBeLessThanOrEqual(2);
    expect(pixel.b).toBeLessThanOrEqual(2);
  });
});

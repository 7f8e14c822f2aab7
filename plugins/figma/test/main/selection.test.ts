import { beforeEach, describe, expect, it } from "vitest";
import { MainController } from "../../src/main/controller";
import type { MainToUi } from "../../src/shared/messages";
import { FigmaStub, type StubNode } from "../support/figmaStub";

// Shapes that cannot mark a region are refused by name before any export: a section cannot be
// put into the temporary mask frame, text cannot be repainted without its fonts, a path with
// neither fill nor stroke paints nothing.
let stub: FigmaStub;
let controller: MainController;
let photo: StubNode;

beforeEach(() => {
  stub = new FigmaStub();
  controller = new MainController(stub.api);
  photo = stub.addImage("Photo", { x: 0, y: 0, width: 200, height: 200 }, { width: 200, height: 200 });
});

async function fillWith(mark: StubNode): Promise<{ reply: MainToUi; offered: unknown }> {
  stub.select(photo, mark);
  controller.selectionChanged();
  const selection = stub.log.posted.at(-1) as MainToUi;
  if (selection.type !== "selection") throw new Error(selection.type);
  await controller.handle({ type: "prepare", requestId: "r1", flow: "inpaint", scale: 1, maxSide: 4096 });
  return { reply: stub.log.posted.at(-1) as MainToUi, offered: selection.selection.flows.inpaint };
}

describe("what may mark the region to fill", () => {
  it("refuses a section and says what to draw instead", async () => {
    const { reply, offered } = await fillWith(stub.add("SECTION", "Hero area", { x: 0, y: 0, width: 50, height: 50 }));
    const reason = "“Hero area” is a section; draw a shape over the area to repaint instead.";
    expect(offered).toEqual({ ok: false, reason });
    expect(reply).toEqual({ type: "prepare-failed", requestId: "r1", message: reason });
    expect(stub.log.exports).toEqual([]);
  });

  it("refuses text, also inside a group", async () => {
    const group = stub.add("GROUP", "Label", { x: 0, y: 0, width: 50, height: 50 });
    stub.add("TEXT", "Sale", { x: 0, y: 0, width: 50, height: 20 }, group);
    const { reply } = await fillWith(group);
    expect(reply).toMatchObject({ type: "prepare-failed", message: expect.stringMatching(/^“Sale” is text; .*Flatten/) });
  });

  it("refuses a path with neither fill nor stroke", async () => {
    const { reply } = await fillWith(stub.add("VECTOR", "Path", { x: 0, y: 0, width: 50, height: 50 }));
    expect(reply).toEqual({
      type: "prepare-failed",
      requestId: "r1",
      message: "“Path” has neither a fill nor a stroke, so it marks nothing; give it a fill.",
    });
  });

  it("takes a path whose stroke is its only paint", async () => {
    const pen = stub.add("VECTOR", "Pen", { x: 0, y: 0, width: 50, height: 50 });
    pen.strokes = [{ type: "SOLID", color: { r: 0, g: 0, b: 0 } }];
    const { reply, offered } = await fillWith(pen);
    expect(offered).toMatchObject({ ok: true });
    expect(reply.type).toBe("prepared");
  });

  it("refuses a path whose only paints are hidden", async () => {
    const pen = stub.add("VECTOR", "Ghost", { x: 0, y: 0, width: 50, height: 50 });
    pen.fills = [{ type: "SOLID", color: { r: 0, g: 0, b: 0 }, visible: false }];
    const { reply } = await fillWith(pen);
    expect(reply).toMatchObject({ type: "prepare-failed", message: expect.stringContaining("“Ghost” has neither") });
  });
});

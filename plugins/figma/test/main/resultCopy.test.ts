import { beforeEach, describe, expect, it } from "vitest";
import { MainController } from "../../src/main/controller";
import type { FlowKind, MainToUi } from "../../src/shared/messages";
import { FigmaStub, type StubNode } from "../support/figmaStub";
import { solidPng } from "../support/png";

// A refine (Restyle) or fill result is made from the node's export, which already shows its children,
// every fill, the inner part of its strokes and the effects on its own pixels (ExportSettings:
// the node's contents within its absolute bounds). The copy that carries it must not draw them again.
let stub: FigmaStub;
let controller: MainController;

beforeEach(() => {
  stub = new FigmaStub();
  controller = new MainController(stub.api);
});

const TINT = { type: "SOLID", color: { r: 0, g: 0, b: 0 }, opacity: 0.3 };
const BORDER = { type: "SOLID", color: { r: 1, g: 0, b: 0 } };
const INNER_SHADOW = { type: "INNER_SHADOW", color: { r: 0, g: 0, b: 0, a: 0.5 }, offset: { x: 0, y: 2 }, radius: 4, visible: true, blendMode: "NORMAL" };
const DROP_SHADOW = { type: "DROP_SHADOW", color: { r: 0, g: 0, b: 0, a: 0.25 }, offset: { x: 0, y: 4 }, radius: 8, visible: true, blendMode: "NORMAL" };
const LAYER_BLUR = { type: "LAYER_BLUR", radius: 2, visible: true };
const BACKGROUND_BLUR = { type: "BACKGROUND_BLUR", radius: 6, visible: true };

/** A card: an image fill under a tint, a border, shadows inside and out, a caption on top. */
function card(): StubNode {
  const node = stub.addImage("Card", { x: 0, y: 0, width: 200, height: 100 }, { width: 200, height: 100 });
  const frame = stub.add("FRAME", "Card", { x: 0, y: 0, width: 200, height: 100 });
  frame.fills = [...node.fills, TINT];
  node.remove();
  frame.strokes = [BORDER];
  frame.strokeWeight = 4;
  frame.effects = [INNER_SHADOW, DROP_SHADOW, LAYER_BLUR, BACKGROUND_BLUR];
  stub.add("RECTANGLE", "Caption", { x: 10, y: 70, width: 120, height: 20 }, frame);
  return frame;
}

async function run(flow: FlowKind, selection: StubNode[]): Promise<StubNode> {
  stub.select(...selection);
  await controller.handle({ type: "prepare", requestId: "r1", flow, control: false, scale: 1, maxSide: 4096 });
  const results = [{ png: solidPng(200, 100), width: 200, height: 100, seed: 9 }];
  await controller.handle({ type: "place", requestId: "r1", prompt: "dusk", model: "demo", results });
  const placed = stub.log.posted.at(-1) as MainToUi;
  if (placed.type !== "placed") throw new Error(JSON.stringify(placed));
  const node = stub.allNodes().find((n) => n.id === placed.nodeIds[0]);
  if (node === undefined) throw new Error("nothing placed");
  return node;
}

describe("the copy that carries a refine", () => {
  it("shows the result alone: no tint, caption, inside border or inner effects over it", async () => {
    const source = card();
    const copy = await run("refine", [source]);
    expect(stub.log.exports[0]?.rendered).toEqual(["Card", "Caption"]); // what the result already holds
    expect(copy.fills).toEqual([{ type: "IMAGE", imageHash: stub.log.createdImages[0], scaleMode: "FILL" }]);
    expect(copy.children).toEqual([]);
    expect(copy.strokes).toEqual([]);
    expect(copy.effects).toEqual([DROP_SHADOW, BACKGROUND_BLUR]);
    expect([copy.width, copy.height]).toEqual([200, 100]);
  });

  it("leaves the source as it was", async () => {
    const source = card();
    await run("refine", [source]);
    expect(source.fills).toHaveLength(2);
    expect(source.strokes).toEqual([BORDER]);
    expect(source.effects).toHaveLength(4);
    expect(source.children.map((c) => c.name)).toEqual(["Caption"]);
  });

  it("keeps an outside border whole and the outer half of a centred one", async () => {
    const outside = card();
    outside.strokeAlign = "OUTSIDE";
    const a = await run("refine", [outside]);
    expect([a.strokes, a.strokeAlign, a.strokeWeight]).toEqual([[BORDER], "OUTSIDE", 4]);

    const centred = card();
    centred.strokeAlign = "CENTER";
    const b = await run("refine", [centred]);
    expect([b.strokes, b.strokeAlign, b.strokeWeight]).toEqual([[BORDER], "OUTSIDE", 2]);
  });

  it("keeps the size of an auto-layout frame whose children went", async () => {
    const source = card();
    Object.assign(source, { layoutMode: "HORIZONTAL" });
    const copy = await run("refine", [source]);
    expect((copy as unknown as { layoutMode: string }).layoutMode).toBe("NONE");
    expect([copy.width, copy.height]).toEqual([200, 100]);
  });
});

describe("the copy that carries a filled region", () => {
  it("drops the overlays the export held, like a refine's", async () => {
    const source = card();
    const mark = stub.add("ELLIPSE", "Mark", { x: 20, y: 20, width: 30, height: 30 });
    const copy = await run("inpaint", [source, mark]);
    expect(copy.fills).toEqual([{ type: "IMAGE", imageHash: stub.log.createdImages[0], scaleMode: "FILL" }]);
    expect([copy.children, copy.strokes, copy.effects]).toEqual([[], [], [DROP_SHADOW, BACKGROUND_BLUR]]);
  });
});

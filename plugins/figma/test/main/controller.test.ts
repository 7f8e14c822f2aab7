import { beforeEach, describe, expect, it } from "vitest";
import { MainController } from "../../src/main/controller";
import { PLUGIN_DATA_KEY } from "../../src/main/placeResults";
import { SETTINGS_KEY } from "../../src/main/settings";
import type { FlowInput, MainToUi } from "../../src/shared/messages";
import { FigmaStub, type StubNode } from "../support/figmaStub";
import { decodePng, solidPng } from "../support/png";

let stub: FigmaStub;
let controller: MainController;

beforeEach(() => {
  stub = new FigmaStub();
  controller = new MainController(stub.api);
});

function lastPosted(): MainToUi {
  return stub.log.posted.at(-1) as MainToUi;
}

async function prepare(flow: FlowInput["flow"], scale = 1, maxSide = 4096, control = false): Promise<FlowInput> {
  await controller.handle({ type: "prepare", requestId: "r1", flow, control, scale, maxSide });
  const reply = lastPosted();
  if (reply.type !== "prepared") throw new Error(`expected prepared, got ${JSON.stringify(reply)}`);
  return reply.input;
}

function imageHashOf(node: StubNode): string | undefined {
  const paint = node.fills.find((f) => (f as { type: string }).type === "IMAGE") as { imageHash?: string } | undefined;
  return paint?.imageHash;
}

describe("settings", () => {
  it("sends stored settings and the selection when the UI is ready", async () => {
    await stub.clientStorage.setAsync(SETTINGS_KEY, { url: "ws://localhost:9000", token: "t0k", junk: 1 });
    await controller.handle({ type: "ui-ready" });
    const init = lastPosted();
    expect(init.type).toBe("init");
    if (init.type !== "init") return;
    expect(init.settings).toEqual({ url: "ws://localhost:9000", token: "t0k", model: "", prompt: "" });
    expect(init.selection.label).toBe("Nothing selected");
  });

  it("stores the pairing token in clientStorage", async () => {
    const settings = { url: "ws://localhost:7842", token: "secret", model: "demo", prompt: "a fox" };
    await controller.handle({ type: "save-settings", settings });
    expect(await stub.clientStorage.getAsync(SETTINGS_KEY)).toEqual(settings);
  });

  it("ignores messages that are not the UI's", async () => {
    await controller.handle({ type: "bogus" });
    await controller.handle("hello");
    expect(stub.log.posted).toEqual([]);
  });
});

describe("selection", () => {
  it("tells the UI which flows a frame allows", () => {
    stub.select(stub.add("FRAME", "Hero", { x: 0, y: 0, width: 1200, height: 800 }));
    controller.selectionChanged();
    const msg = lastPosted();
    if (msg.type !== "selection") throw new Error(msg.type);
    expect(msg.selection.label).toBe("Frame “Hero” 1200×800");
    expect(msg.selection.flows.generate.ok).toBe(true);
    expect(msg.selection.control).toEqual({ ok: true, summary: "Use Frame “Hero” 1200×800 as the sketch" });
    expect(msg.selection.flows.refine).toEqual({ ok: false, reason: expect.stringContaining("image") });
    expect(msg.selection.flows.inpaint.ok).toBe(false);
  });

  it("offers fill region for an image plus a shape over it", () => {
    const image = stub.addImage("Photo", { x: 0, y: 0, width: 400, height: 300 }, { width: 800, height: 600 });
    const shape = stub.add("ELLIPSE", "Blob", { x: 50, y: 50, width: 100, height: 100 });
    stub.select(image, shape);
    controller.selectionChanged();
    const msg = lastPosted();
    if (msg.type !== "selection") throw new Error(msg.type);
    expect(msg.selection.flows.inpaint).toEqual({ ok: true, summary: "Repaint Rectangle “Photo” 400×300 under 1 shape" });
  });

  it("refuses a mask shape that misses the image", async () => {
    const image = stub.addImage("Photo", { x: 0, y: 0, width: 400, height: 300 }, { width: 400, height: 300 });
    const shape = stub.add("RECTANGLE", "Far", { x: 1000, y: 0, width: 10, height: 10 });
    stub.select(image, shape);
    await controller.handle({ type: "prepare", requestId: "r1", flow: "inpaint", scale: 1, maxSide: 4096 });
    expect(lastPosted()).toEqual({ type: "prepare-failed", requestId: "r1", message: "“Far” does not overlap the image." });
    expect(controller.pendingCount).toBe(0);
  });
});

describe("generate into frame", () => {
  it("asks for the node's size times the scale", async () => {
    stub.select(stub.add("FRAME", "Card", { x: 0, y: 0, width: 320, height: 200 }));
    expect(await prepare("generate", 2)).toEqual({ flow: "generate", target: { width: 640, height: 400 } });
  });

  it("clamps to 4096 px per side, keeps the aspect and notes it", async () => {
    stub.select(stub.add("FRAME", "Banner", { x: 0, y: 0, width: 3000, height: 1500 }));
    const input = await prepare("generate", 2);
    expect(input).toMatchObject({ flow: "generate", target: { width: 4096, height: 2048 } });
    expect(input.note).toContain("4096");
  });

  it("puts one result into the frame as an image fill over its background", async () => {
    const frame = stub.add("FRAME", "Card", { x: 0, y: 0, width: 320, height: 200 });
    frame.fills = [{ type: "SOLID", color: { r: 1, g: 1, b: 1 } }];
    stub.select(frame);
    await prepare("generate");
    const png = solidPng(320, 200);
    await controller.handle({
      type: "place",
      requestId: "r1",
      prompt: "a fox",
      model: "demo",
      results: [{ png, width: 320, height: 200, seed: 7 }],
    });
    expect(lastPosted()).toEqual({ type: "placed", requestId: "r1", nodeIds: [frame.id] });
    expect(frame.fills).toHaveLength(2);
    expect(frame.fills[1]).toMatchObject({ type: "IMAGE", scaleMode: "FILL", imageHash: stub.log.createdImages[0] });
    expect(JSON.parse(frame.getPluginData(PLUGIN_DATA_KEY))).toEqual({ prompt: "a fox", model: "demo", seed: 7, flow: "generate" });
    expect(stub.log.notified).toEqual([{ message: "Layerbridge: placed 1 image", error: false }]);
    expect(controller.pendingCount).toBe(0);
  });

  it("lays variations out as a row of frames beside the source", async () => {
    const parent = stub.add("FRAME", "Board", { x: 1000, y: 1000, width: 3000, height: 3000 });
    const frame = stub.add("FRAME", "Card", { x: 100, y: 40, width: 200, height: 100 }, parent);
    stub.select(frame);
    await prepare("generate");
    const results = [1, 2, 3].map((seed) => ({ png: solidPng(200, 104), width: 200, height: 104, seed }));
    await controller.handle({ type: "place", requestId: "r1", prompt: "neon city", model: "demo", results });
    const placed = lastPosted();
    if (placed.type !== "placed") throw new Error(JSON.stringify(placed));
    expect(placed.nodeIds).toHaveLength(3);
    const frames = parent.children.filter((n) => placed.nodeIds.includes(n.id));
    expect(frames.map((f) => [f.type, f.name, f.x, f.y, f.width, f.height])).toEqual([
      ["FRAME", "neon city · seed 1", 324, 40, 200, 100],
      ["FRAME", "neon city · seed 2", 548, 40, 200, 100],
      ["FRAME", "neon city · seed 3", 772, 40, 200, 100],
    ]);
    expect(frames.map(imageHashOf)).toEqual(stub.log.createdImages);
    expect(frame.fills).toEqual([]); // the source keeps its own fills
    expect(parent.children.map((n) => n.name)).toEqual(["Card", "neon city · seed 1", "neon city · seed 2", "neon city · seed 3"]);
  });

  it("refuses a result over 4096 px with a clear message instead of Figma's", async () => {
    stub.select(stub.add("FRAME", "Card", { x: 0, y: 0, width: 320, height: 200 }));
    await prepare("generate");
    const results = [{ png: solidPng(4097, 8), width: 4097, height: 8, seed: 1 }];
    await controller.handle({ type: "place", requestId: "r1", prompt: "", model: "demo", results });
    expect(lastPosted()).toEqual({
      type: "place-failed",
      requestId: "r1",
      message: "Result 1 is 4097×8; Figma takes at most 4096 px per side",
    });
    expect(stub.log.createdImages).toEqual([]);
  });

  it("fails placing when the frame was deleted meanwhile", async () => {
    const frame = stub.add("FRAME", "Card", { x: 0, y: 0, width: 64, height: 64 });
    stub.select(frame);
    await prepare("generate");
    frame.remove();
    const results = [{ png: solidPng(64, 64), width: 64, height: 64, seed: 1 }];
    await controller.handle({ type: "place", requestId: "r1", prompt: "", model: "demo", results });
    expect(lastPosted()).toMatchObject({ type: "place-failed", message: "The layer this was made for has been deleted" });
  });

  it("forgets an abandoned request", async () => {
    stub.select(stub.add("FRAME", "Card", { x: 0, y: 0, width: 64, height: 64 }));
    await prepare("generate");
    expect(controller.pendingCount).toBe(1);
    await controller.handle({ type: "abandon", requestId: "r1" });
    expect(controller.pendingCount).toBe(0);
  });
});

describe("fill region", () => {
  it("exports the image at its native resolution and renders the shape as a white mask", async () => {
    const image = stub.addImage("Photo", { x: 10, y: 20, width: 400, height: 300 }, { width: 800, height: 600 });
    const blob = stub.add("RECTANGLE", "Mark", { x: 110, y: 70, width: 100, height: 50 });
    blob.fills = [{ type: "SOLID", color: { r: 1, g: 0, b: 0 } }];
    blob.opacity = 0.3;
    stub.select(image, blob);
    const input = await prepare("inpaint");
    if (input.flow !== "inpaint") throw new Error(input.flow);
    expect(input.size).toEqual({ width: 800, height: 600 });
    expect(input.note).toBeUndefined();

    const exported = decodePng(input.image);
    expect([exported.width, exported.height]).toEqual([800, 600]);
    const mask = decodePng(input.mask);
    expect([mask.width, mask.height]).toEqual([800, 600]);
    // The shape covers x 100..200, y 50..100 of the image: 200..400, 100..200 at 2x.
    expect(mask.at(300, 150)).toEqual({ r: 255, g: 255, b: 255, a: 255 });
    expect(mask.at(201, 101)).toEqual({ r: 255, g: 255, b: 255, a: 255 });
    expect(mask.at(199, 150)).toEqual({ r: 0, g: 0, b: 0, a: 255 });
    expect(mask.at(300, 201)).toEqual({ r: 0, g: 0, b: 0, a: 255 });
    expect(mask.at(0, 0)).toEqual({ r: 0, g: 0, b: 0, a: 255 });

    const [imageExport, maskExport] = stub.log.exports;
    const settings = { format: "PNG", constraint: { type: "SCALE", value: 2 }, useAbsoluteBounds: true, colorProfile: "SRGB" };
    expect(imageExport?.settings).toEqual(settings);
    expect(maskExport?.settings).toEqual(settings);
    expect(maskExport?.nodeName).toBe("Layerbridge mask (temporary)");
    expect(maskExport?.rendered).toEqual(["Layerbridge mask (temporary)", "Mark"]);
    // The temporary frame is gone, and the user's shape is untouched.
    expect(stub.allNodes().map((n) => n.name)).toEqual(["Photo", "Mark"]);
    expect(blob.fills).toEqual([{ type: "SOLID", color: { r: 1, g: 0, b: 0 } }]);
    expect(blob.opacity).toBe(0.3);
  });

  it("masks with a stroke-only pen path and an ellipse", async () => {
    const image = stub.addImage("Photo", { x: 0, y: 0, width: 100, height: 100 }, { width: 100, height: 100 });
    const pen = stub.add("VECTOR", "Pen", { x: 0, y: 0, width: 20, height: 20 });
    pen.strokes = [{ type: "SOLID", color: { r: 0, g: 0, b: 1 } }];
    const oval = stub.add("ELLIPSE", "Oval", { x: 50, y: 50, width: 40, height: 40 });
    stub.select(image, pen, oval);
    const input = await prepare("inpaint");
    if (input.flow !== "inpaint") throw new Error(input.flow);
    const mask = decodePng(input.mask);
    expect(mask.at(70, 70).r).toBe(255); // oval centre
    expect(mask.at(52, 52).r).toBe(0); // oval's corner lies outside the ellipse
    const copies = stub.log.exports[1]?.rendered;
    expect(copies).toEqual(["Layerbridge mask (temporary)", "Pen", "Oval"]);
    expect(pen.strokes).toEqual([{ type: "SOLID", color: { r: 0, g: 0, b: 1 } }]);
  });

  it("lowers the export of a huge image to 4096 px and says so", async () => {
    const image = stub.addImage("Poster", { x: 0, y: 0, width: 1000, height: 500 }, { width: 6000, height: 3000 });
    const blob = stub.add("RECTANGLE", "Mark", { x: 10, y: 10, width: 10, height: 10 });
    stub.select(image, blob);
    const input = await prepare("inpaint");
    if (input.flow !== "inpaint") throw new Error(input.flow);
    expect(input.size).toEqual({ width: 4096, height: 2048 });
    expect(input.note).toContain("6000×3000");
    expect(decodePng(input.mask).width).toBe(4096);
  });

  it("hides shapes inside the image frame while exporting it; the copy holds only the result", async () => {
    const frame = stub.add("FRAME", "Shot", { x: 0, y: 0, width: 200, height: 100 });
    frame.fills = stub.addImage("tmp", { x: 0, y: 0, width: 1, height: 1 }, { width: 200, height: 100 }).fills;
    stub.allNodes().find((n) => n.name === "tmp")?.remove();
    const inner = stub.add("RECTANGLE", "Inner mark", { x: 10, y: 10, width: 30, height: 30 }, frame);
    const keep = stub.add("RECTANGLE", "Logo", { x: 150, y: 10, width: 30, height: 30 }, frame);
    stub.select(frame, inner);
    await prepare("inpaint");
    expect(stub.log.exports[0]?.rendered).toEqual(["Shot", "Logo"]);
    expect(inner.visible).toBe(true);

    await controller.handle({
      type: "place",
      requestId: "r1",
      prompt: "sky",
      model: "demo",
      results: [{ png: solidPng(200, 100), width: 200, height: 100, seed: 5 }],
    });
    const placed = lastPosted();
    if (placed.type !== "placed") throw new Error(JSON.stringify(placed));
    const copy = stub.allNodes().find((n) => n.id === placed.nodeIds[0]);
    expect(copy?.name).toBe("sky · seed 5");
    // The logo is in the export, so in the result: a copy of it on top would show it twice.
    expect(copy?.children).toEqual([]);
    expect(frame.children).toEqual([inner, keep]);
  });

  it("puts the result on a copy of the image beside it, named with prompt and seed", async () => {
    const image = stub.addImage("Photo", { x: 0, y: 0, width: 400, height: 300 }, { width: 400, height: 300 });
    const originalHash = imageHashOf(image);
    stub.select(image, stub.add("RECTANGLE", "Mark", { x: 5, y: 5, width: 10, height: 10 }));
    await prepare("inpaint");
    await controller.handle({
      type: "place",
      requestId: "r1",
      prompt: "a cat",
      model: "demo",
      results: [{ png: solidPng(400, 300), width: 400, height: 300, seed: 1234 }],
    });
    const placed = lastPosted();
    if (placed.type !== "placed") throw new Error(JSON.stringify(placed));
    const copy = stub.allNodes().find((n) => n.id === placed.nodeIds[0]);
    expect(copy).toMatchObject({ type: "RECTANGLE", name: "a cat · seed 1234", x: 424, y: 0, width: 400, height: 300 });
    expect(copy && imageHashOf(copy)).toBe(stub.log.createdImages[0]);
    expect(imageHashOf(image)).toBe(originalHash);
    expect(image.name).toBe("Photo");
  });
});

describe("placement inside frames", () => {
  async function refineAndPlace(image: StubNode): Promise<StubNode> {
    stub.select(image);
    await prepare("refine");
    const results = [{ png: solidPng(300, 200), width: 300, height: 200, seed: 1 }];
    await controller.handle({ type: "place", requestId: "r1", prompt: "", model: "demo", results });
    const placed = lastPosted();
    if (placed.type !== "placed") throw new Error(JSON.stringify(placed));
    const node = stub.allNodes().find((n) => n.id === placed.nodeIds[0]);
    if (node === undefined) throw new Error("no placed node");
    return node;
  }

  it("puts a result on the page beside the image when the image's frame clips content", async () => {
    const screen = stub.add("FRAME", "Screen", { x: 100, y: 50, width: 500, height: 400 });
    screen.clipsContent = true;
    const photo = stub.addImage("Photo", { x: 200, y: 100, width: 300, height: 200 }, { width: 300, height: 200 }, screen);
    const copy = await refineAndPlace(photo);
    // Inside the frame it would sit at x 524, past the frame's right edge, so clipped from view.
    expect(copy.parent?.type).toBe("PAGE");
    expect([copy.x, copy.y, copy.width, copy.height]).toEqual([624, 150, 300, 200]);
    expect(stub.currentPage.children.map((n) => n.id)).toEqual([screen.id, copy.id]);
    expect(screen.children.map((n) => n.name)).toEqual(["Photo"]);
  });

  it("keeps an auto-layout frame's flow as it was", async () => {
    const card = stub.add("FRAME", "Card", { x: 0, y: 0, width: 340, height: 240 });
    Object.assign(card, { layoutMode: "VERTICAL" });
    const photo = stub.addImage("Photo", { x: 20, y: 20, width: 300, height: 200 }, { width: 300, height: 200 }, card);
    const copy = await refineAndPlace(photo);
    expect(card.children.map((n) => n.id)).toEqual([photo.id]);
    expect([copy.parent?.type, copy.x, copy.y]).toEqual(["PAGE", 344, 20]);
  });
});

describe("refine, and generate from a sketch", () => {
  it("exports the image to refine at its native resolution", async () => {
    stub.select(stub.addImage("Photo", { x: 0, y: 0, width: 256, height: 128 }, { width: 1024, height: 512 }));
    const input = await prepare("refine");
    if (input.flow !== "refine") throw new Error(input.flow);
    expect(input.size).toEqual({ width: 1024, height: 512 });
    expect(decodePng(input.image).width).toBe(1024);
  });

  it("exports a letterboxed (FIT) image at the resolution it is shown at, not below", async () => {
    // 2000×1000 px fitted into 400×400 units: 5 px per unit across, letterboxed vertically.
    const image = stub.addImage("Letterbox", { x: 0, y: 0, width: 400, height: 400 }, { width: 2000, height: 1000 });
    image.fills = [{ ...(image.fills[0] as object), scaleMode: "FIT" }];
    stub.select(image);
    const input = await prepare("refine");
    if (input.flow !== "refine") throw new Error(input.flow);
    expect(input.size).toEqual({ width: 2000, height: 2000 });
  });

  it("exports a cropped-to-fill (FILL) image at the resolution of the part that shows, not above", async () => {
    // 800×300 px covering 400×300 units: 1 px per unit, the sides cut off.
    stub.select(stub.addImage("Cover", { x: 0, y: 0, width: 400, height: 300 }, { width: 800, height: 300 }));
    const input = await prepare("refine");
    if (input.flow !== "refine") throw new Error(input.flow);
    expect(input.size).toEqual({ width: 400, height: 300 });
  });

  it("bounds a refine's export by the daemon's generate limit", async () => {
    stub.select(stub.addImage("Photo", { x: 0, y: 0, width: 1000, height: 500 }, { width: 3000, height: 1500 }));
    const input = await prepare("refine", 1, 2048);
    if (input.flow !== "refine") throw new Error(input.flow);
    expect(input.size).toEqual({ width: 2048, height: 1024 });
    expect(input.note).toContain("3000×1500");
  });

  it("exports the sketch frame at the chosen scale as the control image", async () => {
    const sketch = stub.add("FRAME", "Sketch", { x: 0, y: 0, width: 300, height: 200 });
    sketch.fills = [{ type: "SOLID", color: { r: 1, g: 1, b: 1 } }];
    stub.add("RECTANGLE", "stroke", { x: 10, y: 10, width: 100, height: 4 }, sketch).fills = [
      { type: "SOLID", color: { r: 0, g: 0, b: 0 } },
    ];
    stub.select(sketch);
    const input = await prepare("generate", 2, 4096, true);
    if (input.flow !== "generate" || input.control === undefined) throw new Error(JSON.stringify(input));
    expect(input.target).toEqual({ width: 600, height: 400 });
    const control = decodePng(input.control);
    expect(control.at(50, 25)).toEqual({ r: 0, g: 0, b: 0, a: 255 });
    expect(control.at(50, 100)).toEqual({ r: 255, g: 255, b: 255, a: 255 });
  });

  it("places a sketch's result as a new frame beside the sketch", async () => {
    const sketch = stub.add("FRAME", "Sketch", { x: 0, y: 0, width: 300, height: 200 });
    stub.select(sketch);
    await prepare("generate", 1, 4096, true);
    await controller.handle({
      type: "place",
      requestId: "r1",
      prompt: "castle",
      model: "demo",
      results: [{ png: solidPng(304, 200), width: 304, height: 200, seed: 3 }],
    });
    const placed = lastPosted();
    if (placed.type !== "placed") throw new Error(JSON.stringify(placed));
    const node = stub.allNodes().find((n) => n.id === placed.nodeIds[0]);
    expect(node).toMatchObject({ type: "FRAME", name: "castle · seed 3", x: 324, y: 0, width: 300, height: 200 });
    expect(sketch.fills).toEqual([]);
    expect(sketch.parent?.children).toEqual([sketch, node]);
  });
});

describe("undo", () => {
  async function refineRun(image: StubNode, seed: number): Promise<void> {
    stub.select(image);
    await controller.handle({ type: "prepare", requestId: `r${seed}`, flow: "refine", scale: 1, maxSide: 4096 });
    const results = [{ png: solidPng(100, 100), width: 100, height: 100, seed }];
    await controller.handle({ type: "place", requestId: `r${seed}`, prompt: "dusk", model: "demo", results });
  }

  it("makes each placed run one undo step, so Cmd+Z takes back only the last", async () => {
    const photo = stub.addImage("Photo", { x: 0, y: 0, width: 100, height: 100 }, { width: 100, height: 100 });
    stub.log.history.length = 0; // the user's drawing: Figma commits that itself
    await refineRun(photo, 1);
    await refineRun(photo, 2);
    // One step per run: the copy and the result's fill on it.
    expect(stub.undoSteps()).toEqual([
      ["clone Photo", "fills Photo"],
      ["clone Photo", "fills Photo"],
    ]);
    expect(stub.log.history.at(-1)).toBe("commitUndo");
  });

  it("commits a generate into the frame as its own step", async () => {
    const card = stub.add("FRAME", "Card", { x: 0, y: 0, width: 64, height: 64 });
    stub.select(card);
    await prepare("generate");
    const results = [{ png: solidPng(64, 64), width: 64, height: 64, seed: 1 }];
    await controller.handle({ type: "place", requestId: "r1", prompt: "", model: "demo", results });
    expect(stub.undoSteps()).toEqual([["fills Card"]]);
    expect(stub.log.history.at(-1)).toBe("commitUndo");
  });

  it("commits what a failed placement changed, so it does not join the next run's step", async () => {
    stub.select(stub.add("FRAME", "Card", { x: 0, y: 0, width: 64, height: 64 }));
    await prepare("generate");
    const results = [{ png: solidPng(64, 64), width: 64, height: 64, seed: 1 }, { png: new Uint8Array(3), width: 1, height: 1, seed: 2 }];
    await controller.handle({ type: "place", requestId: "r1", prompt: "", model: "demo", results });
    expect(lastPosted()).toMatchObject({ type: "place-failed", message: "Result 2 is not a PNG" });
    expect(stub.log.history.at(-1)).toBe("commitUndo");
  });
});

describe("closing the plugin", () => {
  /** Holds the export of the node named `name` until the test lets it go (never, here). */
  function holdExportOf(name: string): Promise<void> {
    return new Promise<void>((started) => {
      stub.beforeExport = (node) => {
        if (node.name !== name) return Promise.resolve();
        started();
        return new Promise<void>(() => undefined);
      };
    });
  }

  function frameWithMark(): { frame: StubNode; mark: StubNode } {
    const frame = stub.add("FRAME", "Shot", { x: 0, y: 0, width: 100, height: 100 });
    frame.fills = [{ type: "IMAGE", imageHash: "0".repeat(40), scaleMode: "FILL" }];
    const mark = stub.add("RECTANGLE", "Mark", { x: 10, y: 10, width: 20, height: 20 }, frame);
    stub.select(frame, mark);
    return { frame, mark };
  }

  it("shows again a mask shape hidden by an export still under way", async () => {
    const { mark } = frameWithMark();
    const started = holdExportOf("Shot");
    void controller.handle({ type: "prepare", requestId: "r1", flow: "inpaint", scale: 1, maxSide: 4096 });
    await started;
    expect(mark.visible).toBe(false);
    controller.closing();
    expect(mark.visible).toBe(true);
    expect(lastPosted()).toEqual({ type: "closing" });
  });

  it("removes the temporary mask frame of an export still under way", async () => {
    frameWithMark();
    const started = holdExportOf("Layerbridge mask (temporary)");
    void controller.handle({ type: "prepare", requestId: "r1", flow: "inpaint", scale: 1, maxSide: 4096 });
    await started;
    expect(stub.currentPage.children.map((n) => n.name)).toEqual(["Shot", "Layerbridge mask (temporary)"]);
    controller.closing();
    expect(stub.currentPage.children.map((n) => n.name)).toEqual(["Shot"]);
    expect(controller.pendingCount).toBe(0);
  });
});

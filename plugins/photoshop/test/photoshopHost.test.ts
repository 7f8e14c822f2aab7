// The host adapter against the recording Photoshop stand-in: modal scopes, history, layer order.
import { beforeEach, describe, expect, it } from "vitest";
import { PhotoshopHost } from "../src/host/photoshopHost.js";
import { HostBusyError } from "../src/host/Host.js";
import { MockDocument, mock, modalBusyError, resetMock } from "./mocks/photoshop.js";

const host = new PhotoshopHost();
let doc: MockDocument;

beforeEach(() => {
  doc = new MockDocument(7, 200, 100);
  resetMock(doc);
});

const fns = () => mock.calls.map((c) => c.fn);

describe("PhotoshopHost", () => {
  it("describes the document: size, selection box, layers; without a modal scope", async () => {
    doc.selectRect(20, 10, 60, 50);
    const info = await host.describeDocument();
    expect(info).toMatchObject({ id: 7, width: 200, height: 100, selection: { x: 20, y: 10, width: 40, height: 40 } });
    expect(info?.layers.map((l) => l.name)).toEqual(["Background"]);
    expect(mock.calls).toEqual([]);
  });

  it("reads pixels and the selection inside one modal scope, over the asked rect", async () => {
    doc.selectRect(20, 10, 60, 50);
    const got = await host.read({ documentId: 7, source: { kind: "composite" }, rect: { x: 10, y: 0, width: 80, height: 60 }, withSelection: true, controlLayerIds: [] });
    expect(fns()).toEqual(["executeAsModal:enter", "getPixels", "getSelection", "executeAsModal:exit"]);
    expect(mock.calls[1]?.args?.["sourceBounds"]).toEqual({ left: 10, top: 0, right: 90, bottom: 60 });
    expect(got.image.width).toBe(80);
    expect(got.image.data.length).toBe(80 * 60 * 4);
    expect(got.mask?.data[(10 * 80) + 10]).toBe(255); // doc (20,10)
    expect(got.mask?.data[(9 * 80) + 10]).toBe(0);
    expect(got.mask?.data[(10 * 80) + 9]).toBe(0);
  });

  it("places a result: one modal scope, history suspended, group then layer then pixels then mask", async () => {
    const image = { width: 4, height: 3, data: new Uint8Array(48).fill(200) };
    const mask = { width: 4, height: 3, data: new Uint8Array(12).fill(255) };
    const placed = await host.place({
      documentId: 7, groupName: "Fill: a door", groupId: undefined, layerName: "a door · seed 1 · #1",
      image, at: { x: 30, y: 20 }, mask, growCanvas: undefined, historyName: "Layerbridge: Fill: a door",
    });
    expect(fns()).toEqual([
      "executeAsModal:enter", "suspendHistory", "createLayerGroup", "createPixelLayer", "layer.move",
      "createImageDataFromBuffer", "putPixels", "createImageDataFromBuffer", "putLayerMask", "resumeHistory", "executeAsModal:exit",
    ]);
    expect(mock.calls.every((c) => c.fn.startsWith("executeAsModal") || c.modal)).toBe(true);
    expect(mock.calls.find((c) => c.fn === "putPixels")?.args?.["targetBounds"]).toEqual({ left: 30, top: 20, right: 34, bottom: 23 });
    expect(mock.calls.find((c) => c.fn === "putLayerMask")?.args?.["targetBounds"]).toEqual({ left: 30, top: 20, right: 34, bottom: 23 });
    expect(mock.calls.find((c) => c.fn === "resumeHistory")?.args).toEqual({ commit: true });
    const group = doc.findLayer(placed.groupId);
    expect(group?.name).toBe("Fill: a door");
    expect(group?.layers?.map((l) => l.name)).toEqual(["a door · seed 1 · #1"]);
  });

  it("adds a reveal-all mask first when Photoshop will only write into an existing one", async () => {
    mock.masksMustExist = true;
    const image = { width: 4, height: 3, data: new Uint8Array(48).fill(200) };
    const mask = { width: 4, height: 3, data: new Uint8Array(12).fill(128) };
    const placed = await host.place({
      documentId: 7, groupName: "Fill", groupId: undefined, layerName: "v1",
      image, at: { x: 30, y: 20 }, mask, growCanvas: undefined, historyName: "h",
    });
    expect(fns().slice(fns().indexOf("putPixels") + 1)).toEqual([
      "createImageDataFromBuffer", "putLayerMask", "batchPlay", "batchPlay", "putLayerMask", "resumeHistory", "executeAsModal:exit",
    ]);
    const select = mock.calls.find((c) => c.fn === "batchPlay")?.args;
    expect(select?.["_target"]).toEqual([{ _ref: "layer", _id: placed.layerId }]);
    const layer = doc.findLayer(placed.layerId);
    expect(layer?.mask?.bounds).toEqual({ left: 30, top: 20, right: 34, bottom: 23 });
    expect(Array.from(layer?.mask?.data ?? [])).toEqual(Array(12).fill(128));
    expect(mock.calls.find((c) => c.fn === "resumeHistory")?.args).toEqual({ commit: true });
  });

  it("adds the mask to the result's own document when another document is active", async () => {
    mock.masksMustExist = true;
    const other = new MockDocument(8, 50, 50);
    for (let i = 0; i < 4; i++) other.addLayer(`other ${i}`, "pixel"); // layer ids overlap doc 7's
    mock.documents.push(other);
    mock.activeDocument = other; // the designer switched documents while the job ran
    const image = { width: 4, height: 3, data: new Uint8Array(48).fill(200) };
    const mask = { width: 4, height: 3, data: new Uint8Array(12).fill(128) };
    const placed = await host.place({
      documentId: 7, groupName: "Fill", groupId: undefined, layerName: "v1",
      image, at: { x: 30, y: 20 }, mask, growCanvas: undefined, historyName: "h",
    });
    expect(doc.findLayer(placed.layerId)?.mask?.bounds).toEqual({ left: 30, top: 20, right: 34, bottom: 23 });
    expect(other.layers.every((l) => l.mask === null)).toBe(true);
    expect(mock.activeDocument).toBe(other); // and the designer stays where they were
    expect(mock.calls.find((c) => c.fn === "resumeHistory")?.args).toEqual({ commit: true });
  });

  it("puts later variations into the same group as siblings", async () => {
    const image = { width: 2, height: 2, data: new Uint8Array(16) };
    const base = { documentId: 7, groupName: "G", layerName: "v1", image, at: { x: 0, y: 0 }, mask: undefined, growCanvas: undefined, historyName: "h" };
    const first = await host.place({ ...base, groupId: undefined });
    await host.place({ ...base, groupId: first.groupId, layerName: "v2" });
    expect(fns().filter((f) => f === "createLayerGroup")).toHaveLength(1);
    expect(doc.findLayer(first.groupId)?.layers?.map((l) => l.name)).toEqual(["v2", "v1"]);
  });

  it("grows the canvas by exact margins before placing an expand result", async () => {
    const image = { width: 2, height: 2, data: new Uint8Array(16) };
    await host.place({ documentId: 7, groupName: "G", groupId: undefined, layerName: "x", image, at: { x: 0, y: 0 }, mask: undefined, growCanvas: { left: 10, top: 0, right: 30, bottom: 5 }, historyName: "h" });
    const resizes = mock.calls.filter((c) => c.fn === "resizeCanvas").map((c) => c.args);
    expect(resizes).toEqual([
      { width: 210, height: 100, anchor: "bottom-right" },
      { width: 240, height: 105, anchor: "top-left" },
    ]);
    expect(fns().indexOf("resizeCanvas")).toBeGreaterThan(fns().indexOf("suspendHistory"));
  });

  it("rolls the history back when placing fails", async () => {
    const bad = { width: 4, height: 4, data: new Uint8Array(3) };
    await expect(
      host.place({ documentId: 7, groupName: "G", groupId: undefined, layerName: "x", image: bad, at: { x: 0, y: 0 }, mask: undefined, growCanvas: undefined, historyName: "h" }),
    ).rejects.toThrow(/createImageDataFromBuffer/);
    expect(mock.calls.find((c) => c.fn === "resumeHistory")?.args).toEqual({ commit: false });
    expect(fns().at(-1)).toBe("executeAsModal:exit");
  });

  it("waits for another plugin's modal state to end instead of failing", async () => {
    mock.busyScopes = 2;
    const got = await host.read({ documentId: 7, source: { kind: "composite" }, rect: { x: 0, y: 0, width: 4, height: 4 }, withSelection: false, controlLayerIds: [] });
    expect(got.image.width).toBe(4);
    expect(fns().filter((f) => f === "executeAsModal:refused")).toHaveLength(2);
  });

  it("asks Photoshop (25.10+) to queue each modal scope for a while, not the default second", async () => {
    await host.read({ documentId: 7, source: { kind: "composite" }, rect: { x: 0, y: 0, width: 4, height: 4 }, withSelection: false, controlLayerIds: [] });
    expect(mock.calls[0]?.args?.["timeOut"]).toBeGreaterThanOrEqual(10);
  });

  it("knows Photoshop is busy by the error's number, whatever its text, and says so", async () => {
    mock.busyScopes = 1000;
    const image = { width: 2, height: 2, data: new Uint8Array(16) };
    const placing = host.place({ documentId: 7, groupName: "G", groupId: undefined, layerName: "x", image, at: { x: 0, y: 0 }, mask: undefined, growCanvas: undefined, historyName: "h" });
    await expect(placing).rejects.toBeInstanceOf(HostBusyError);
    expect(modalBusyError().message).not.toMatch(/modal state/);
  });

  it("does not retry a failure that is not a busy Photoshop", async () => {
    const bad = { width: 4, height: 4, data: new Uint8Array(3) };
    await expect(
      host.place({ documentId: 7, groupName: "G", groupId: undefined, layerName: "x", image: bad, at: { x: 0, y: 0 }, mask: undefined, growCanvas: undefined, historyName: "h" }),
    ).rejects.not.toBeInstanceOf(HostBusyError);
    expect(fns().filter((f) => f === "executeAsModal:enter")).toHaveLength(1);
  });

  for (const depth of [16, 32] as const) {
    it(`reads a ${depth}-bit document's selection as an 8-bit mask (0..32768 / 0..1 data scaled)`, async () => {
      doc.depth = depth;
      doc.selectRect(20, 10, 60, 50);
      const got = await host.read({ documentId: 7, source: { kind: "composite" }, rect: { x: 10, y: 0, width: 80, height: 60 }, withSelection: true, controlLayerIds: [] });
      expect(got.mask?.data[10 * 80 + 10]).toBe(255);
      expect(got.mask?.data[9 * 80 + 10]).toBe(0);
    });
  }

  it("scales a 16-bit half-selected pixel to half grey", async () => {
    doc.depth = 16;
    doc.selectionMask[0] = 128;
    const got = await host.read({ documentId: 7, source: { kind: "composite" }, rect: { x: 0, y: 0, width: 2, height: 2 }, withSelection: true, controlLayerIds: [] });
    expect(got.mask?.data[0]).toBe(128);
  });

  it("reports the document's colour mode by its menu name", async () => {
    doc.mode = "indexedColorMode";
    expect((await host.describeDocument())?.mode).toBe("Indexed");
    doc.mode = "CMYKColorMode";
    expect((await host.describeDocument())?.mode).toBe("CMYK");
  });

  it("gives a layer's bounds without its effects (a drop shadow's margin is not the layer)", async () => {
    const layer = doc.activeLayers[0]!;
    layer.pixels = { bounds: { left: 30, top: 20, right: 70, bottom: 60 }, data: new Uint8Array(40 * 40 * 4) };
    layer.effectsMargin = 12;
    expect((await host.describeDocument())?.activeLayer?.bounds).toEqual({ x: 30, y: 20, width: 40, height: 40 });
  });

  it("scales a result generated smaller than its box up to the box, anchored at its corner", async () => {
    const image = { width: 50, height: 25, data: new Uint8Array(50 * 25 * 4).fill(7) };
    const placed = await host.place({ documentId: 7, groupName: "G", groupId: undefined, layerName: "x", image, at: { x: 40, y: 30 }, size: { width: 150, height: 75 }, mask: undefined, growCanvas: undefined, historyName: "h" });
    expect(doc.findLayer(placed.layerId)?.boundsNoEffects).toEqual({ left: 40, top: 30, right: 190, bottom: 105 });
    expect(fns().indexOf("layer.scale")).toBeGreaterThan(fns().indexOf("putPixels"));
    expect(fns().indexOf("layer.scale")).toBeLessThan(fns().indexOf("resumeHistory"));
  });

  it("does not scale a result that already has its box's size", async () => {
    const image = { width: 4, height: 4, data: new Uint8Array(64) };
    await host.place({ documentId: 7, groupName: "G", groupId: undefined, layerName: "x", image, at: { x: 0, y: 0 }, size: { width: 4, height: 4 }, mask: undefined, growCanvas: undefined, historyName: "h" });
    expect(fns()).not.toContain("layer.scale");
  });

  it("places at the same pixels whatever the document's resolution", async () => {
    const image = { width: 2, height: 2, data: new Uint8Array(16) };
    for (const dpi of [72, 300]) {
      resetMock(new MockDocument(7, 200, 100, dpi));
      await host.place({ documentId: 7, groupName: "G", groupId: undefined, layerName: "x", image, at: { x: 13, y: 17 }, mask: undefined, growCanvas: undefined, historyName: "h" });
      expect(mock.calls.find((c) => c.fn === "putPixels")?.args?.["targetBounds"]).toEqual({ left: 13, top: 17, right: 15, bottom: 19 });
    }
  });
});

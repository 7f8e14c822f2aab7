// End to end: the panel's controller and the real host adapter (over the recording Photoshop
// stand-in) drive a real daemon through @layerbridge/common, as in Photoshop.
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";
import type { WebSocketLike } from "@layerbridge/common";
import { DEFAULT_FORM, type FormValues } from "../src/form.js";
import { rectFromBounds } from "../src/geometry.js";
import { PhotoshopHost } from "../src/host/photoshopHost.js";
import { PanelController, type PanelEvents } from "../src/panelController.js";
import { MemoryTokenStore } from "../src/tokenStore.js";
import { MockDocument, mock, resetMock } from "./mocks/photoshop.js";

const port = inject("daemonPort");
const token = inject("daemonToken");

let controllers: PanelController[] = [];
let binarySends = 0;
let sockets: WebSocket[] = [];
/** Every text message the daemon sent the panels, parsed. */
let received: Record<string, unknown>[] = [];

function makePanel(options: { token?: string; port?: number } = {}): PanelController {
  const c = new PanelController({
    host: new PhotoshopHost(),
    tokens: new MemoryTokenStore(options.token ?? token),
    createSocket: (url): WebSocketLike => {
      const ws = new WebSocket(url);
      sockets.push(ws);
      ws.on("message", (data, isBinary) => {
        if (!isBinary) received.push(JSON.parse(String(data)) as Record<string, unknown>);
      });
      const send = ws.send.bind(ws);
      ws.send = ((data: string | ArrayBuffer) => {
        if (typeof data !== "string") binarySends++;
        send(data);
      }) as typeof ws.send;
      return ws;
    },
    clientInfo: { name: "photoshop-tests", kind: "photoshop", version: "0.1.0" },
    port: options.port ?? port,
    reconnect: { initialMs: 50, maxMs: 200, maxAttempts: 2 },
    heartbeatMs: 0,
    placeRetryMs: 20,
  });
  controllers.push(c);
  return c;
}

async function ready(c: PanelController): Promise<void> {
  await c.start();
  await new Promise<void>((resolve, reject) => {
    if (c.snapshot.connection === "ready" && c.snapshot.checkpoints.length) return resolve();
    const off = c.on("change", (s) => {
      if (s.connection === "ready" && s.checkpoints.length) {
        off();
        resolve();
      }
      if (s.message?.kind === "error") reject(new Error(`${s.message.title}: ${s.message.detail}`));
    });
  });
}

const form = (patch: Partial<FormValues>): FormValues => ({ ...DEFAULT_FORM, model: "demo", prompt: "a red door", steps: 2, variations: 1, ...patch });

let doc: MockDocument;
beforeEach(() => {
  doc = new MockDocument(1, 160, 128, 300);
  resetMock(doc);
  binarySends = 0;
  sockets = [];
  received = [];
});
afterEach(() => {
  for (const c of controllers) c.disconnect();
  controllers = [];
});

// generous: the daemon shares a small CI box, and the first job of a kind loads its pipeline
describe("panel against a real daemon", { timeout: 240_000 }, () => {
  it("fills a selection: the patch lands over the selection, masked, in a named group, one undo step", async () => {
    const panel = makePanel();
    await ready(panel);
    doc.selectRect(48, 40, 96, 88);
    const placed: PanelEvents["placed"][] = [];
    panel.on("placed", (p) => placed.push(p));
    await panel.run(form({ mode: "inpaint", variations: 2, seedLocked: true, seed: 11 }));
    expect(panel.snapshot.message).toMatchObject({ kind: "info" });
    expect(panel.snapshot.job.stage).toBe("done");
    expect(placed).toHaveLength(2);
    const sel = { x: 48, y: 40, width: 48, height: 48 };
    for (const p of placed) {
      // the daemon returns the patch's box: inside the selection's box, covering nearly all of it
      expect(p.x).toBeGreaterThanOrEqual(sel.x - 1);
      expect(p.y).toBeGreaterThanOrEqual(sel.y - 1);
      expect(p.x + p.width).toBeLessThanOrEqual(sel.x + sel.width + 1);
      expect(p.y + p.height).toBeLessThanOrEqual(sel.y + sel.height + 1);
      expect(p.width * p.height).toBeGreaterThan(0.6 * sel.width * sel.height);
    }
    const puts = mock.calls.filter((c) => c.fn === "putPixels");
    const masks = mock.calls.filter((c) => c.fn === "putLayerMask");
    expect(puts).toHaveLength(2);
    expect(masks.map((m) => m.args?.["targetBounds"])).toEqual(puts.map((p) => p.args?.["targetBounds"]));
    // read in one modal scope; each result written in its own scope with history suspended
    const scopes = mock.calls.filter((c) => c.fn === "executeAsModal:enter").map((c) => c.args?.["commandName"]);
    expect(scopes).toEqual(["Layerbridge: read pixels", "Layerbridge: place result", "Layerbridge: place result"]);
    expect(mock.calls.filter((c) => c.fn === "suspendHistory")).toHaveLength(2);
    expect(mock.calls.filter((c) => c.fn === "resumeHistory").every((c) => c.args?.["commit"] === true)).toBe(true);
    const group = doc.layers.find((l) => l.kind === "group");
    expect(group?.name).toBe("Fill: a red door");
    expect(group?.layers?.map((l) => l.name).sort()).toEqual(["a red door · seed 11 · #1", "a red door · seed 12 · #2"]);
    // the mask placed is the selection: opaque inside it
    const layer = group!.layers![0]!;
    expect(layer.mask?.data.some((v) => v === 255)).toBe(true);
  });

  it("does not upload an unchanged document twice", async () => {
    const panel = makePanel();
    await ready(panel);
    doc.composite[0] = Math.floor(Math.random() * 256); // pixels no earlier test uploaded
    doc.selectRect(10, 10, 40, 40);
    await panel.run(form({ mode: "inpaint" }));
    const first = binarySends;
    expect(first).toBeGreaterThan(0);
    await panel.run(form({ mode: "inpaint", prompt: "a blue door" }));
    expect(panel.snapshot.job.stage).toBe("done");
    expect(binarySends).toBe(first);
  });

  it("reads only the selection's context on a big document and places the result where the daemon says", async () => {
    doc = new MockDocument(1, 1600, 1200);
    resetMock(doc);
    const panel = makePanel();
    await ready(panel);
    doc.selectRect(701, 503, 742, 542); // odd: the daemon finds the context box on the canvas
    await panel.run(form({ mode: "inpaint" }));
    expect(panel.snapshot.job.stage).toBe("done");
    const read = rectFromBounds(mock.calls.find((c) => c.fn === "getPixels")?.args?.["sourceBounds"] as { left: number; right: number; top: number; bottom: number });
    expect(read.width * read.height).toBeLessThan(0.25 * 1600 * 1200);
    const result = received.find((m) => m["type"] === "job.result")?.["result"] as { format: string; region: unknown; placement: { x: number; y: number; width: number; height: number }; params: { canvas: unknown } };
    // the job named its canvas and the crop's origin; the daemon answered with the result's place on it
    expect(result.params.canvas).toEqual({ width: 1600, height: 1200, x: read.x, y: read.y });
    const put = mock.calls.find((c) => c.fn === "putPixels")?.args?.["targetBounds"];
    const p = result.placement;
    expect(put).toEqual({ left: p.x, top: p.y, right: p.x + p.width, bottom: p.y + p.height });
    expect(p).toEqual({ x: 701, y: 503, width: 41, height: 39 });
    // from a daemon on this machine the pixels come raw: no PNG encoded there or decoded here
    expect(result.format).toBe("rgba8");
  });

  it("generates variations as sibling layers named with prompt and seed", async () => {
    const panel = makePanel();
    await ready(panel);
    await panel.run(form({ mode: "generate", variations: 3, prompt: "a lighthouse" }));
    expect(panel.snapshot.job.stage).toBe("done");
    const group = doc.layers.find((l) => l.kind === "group");
    expect(group?.name).toBe("Generate: a lighthouse");
    expect(group?.layers).toHaveLength(3);
    for (const l of group!.layers!) expect(l.name).toMatch(/^a lighthouse · seed \d+ · #\d$/);
    expect(mock.calls.some((c) => c.fn === "getPixels")).toBe(false);
    expect(panel.snapshot.lastSeed).toBeTypeOf("number");
  });

  it("keeps results while Photoshop is busy, shows what waits, and places them when it is free", async () => {
    const panel = makePanel();
    await ready(panel);
    const waiting: number[] = [];
    panel.on("change", (s) => s.job.waiting > 0 && waiting.push(s.job.waiting));
    // busy from the first result on: two placing attempts (four refusals each) fail, then it is free
    const off = panel.on("change", (s) => {
      if (s.job.stage === "placing") {
        off();
        mock.busyScopes = 8;
      }
    });
    await panel.run(form({ mode: "generate", variations: 2, prompt: "a lighthouse" }));
    expect(panel.snapshot.job.stage).toBe("done");
    expect(waiting.length).toBeGreaterThan(0);
    expect(mock.calls.filter((c) => c.fn === "executeAsModal:refused")).toHaveLength(8);
    expect(mock.calls.filter((c) => c.fn === "putPixels")).toHaveLength(2);
    expect(panel.snapshot.job.waiting).toBe(0);
  });

  it("goes on with the other variations after one fails to place, and says how many went in", async () => {
    const panel = makePanel();
    await ready(panel);
    mock.failingPuts = 1;
    await panel.run(form({ mode: "generate", variations: 3, prompt: "a lighthouse" }));
    expect(mock.calls.filter((c) => c.fn === "putPixels")).toHaveLength(2);
    expect(panel.snapshot.job.stage).toBe("failed");
    expect(panel.snapshot.message).toMatchObject({ kind: "error", title: "Placed 2 of 3 results", code: "placement" });
    expect(panel.snapshot.message?.detail).toMatch(/not a pixel layer/);
  });

  it("generates over the whole canvas at the document's size and says so", async () => {
    const panel = makePanel();
    await ready(panel);
    await panel.run(form({ mode: "generate", prompt: "a field" }));
    expect(panel.snapshot.job.stage).toBe("done");
    const layer = doc.layers.find((l) => l.kind === "group")!.layers![0]!;
    expect(layer.boundsNoEffects).toEqual({ left: 0, top: 0, right: 160, bottom: 128 });
    expect(panel.snapshot.job.note).toBe("Generated at 160×128 px, the document's size.");
  });

  it("refines the active layer in place", async () => {
    const panel = makePanel();
    await ready(panel);
    await panel.run(form({ mode: "refine", strength: 0.5 }));
    expect(panel.snapshot.job.stage).toBe("done");
    expect(mock.calls.find((c) => c.fn === "getPixels")?.args?.["layerID"]).toBe(doc.layers.at(-1)?.id);
    expect(mock.calls.find((c) => c.fn === "putPixels")?.args?.["targetBounds"]).toEqual({ left: 0, top: 0, right: 160, bottom: 128 });
  });

  it("expands the canvas and places the result over the grown canvas", async () => {
    const panel = makePanel();
    await ready(panel);
    await panel.run(form({ mode: "expand", expand: { left: 16, top: 0, right: 32, bottom: 8 } }));
    expect(panel.snapshot.message?.kind, panel.snapshot.message?.detail).toBe("info");
    expect(doc.width).toBe(160 + 48);
    expect(doc.height).toBe(128 + 8);
    expect(mock.calls.find((c) => c.fn === "putPixels")?.args?.["targetBounds"]).toEqual({ left: 0, top: 0, right: 208, bottom: 136 });
  });

  it("applies a LoRA and a control layer read over the same region", async () => {
    const panel = makePanel();
    await ready(panel);
    expect(panel.snapshot.loras.map((l) => l.id)).toContain("demo-lora");
    const sketch = doc.addLayer("Sketch", "pixel");
    sketch.pixels = { bounds: { left: 0, top: 0, right: 160, bottom: 128 }, data: new Uint8Array(160 * 128 * 4).fill(200) };
    doc.selectRect(40, 40, 80, 80);
    await panel.run(form({ mode: "inpaint", loras: [{ id: "demo-lora", weight: 0.6 }], controls: [{ layerId: sketch.id, type: "canny", strength: 0.8 }] }));
    expect(panel.snapshot.message?.kind, panel.snapshot.message?.detail).toBe("info");
    const reads = mock.calls.filter((c) => c.fn === "getPixels").map((c) => c.args);
    expect(reads).toHaveLength(2);
    expect(reads[1]?.["layerID"]).toBe(sketch.id);
    expect(reads[1]?.["sourceBounds"]).toEqual(reads[0]?.["sourceBounds"]);
  });

  it("survives a dropped connection mid-job: reconnects, fetches the job, places its results", async () => {
    const panel = makePanel();
    await ready(panel);
    const states: string[] = [];
    panel.on("change", (s) => states.at(-1) !== s.connection && states.push(s.connection));
    const running = new Promise<void>((resolve) => {
      const off = panel.on("change", (s) => s.job.stage === "running" && s.job.step >= 1 && (off(), resolve()));
    });
    const run = panel.run(form({ mode: "generate", steps: 6, variations: 2, prompt: "a harbour" }));
    await running;
    sockets[0]!.terminate(); // a network drop, no close handshake
    await run;
    expect(states).toContain("reconnecting");
    expect(panel.snapshot.connection).toBe("ready");
    expect(panel.snapshot.job.stage).toBe("done");
    expect(mock.calls.filter((c) => c.fn === "putPixels")).toHaveLength(2);
  });

  it("cancels a running job and says so", async () => {
    const panel = makePanel();
    await ready(panel);
    const running = new Promise<void>((resolve) => {
      const off = panel.on("change", (s) => {
        if (s.job.stage === "running" && s.job.step >= 1) {
          off();
          resolve();
        }
      });
    });
    const run = panel.run(form({ mode: "generate", steps: 150 }));
    await running;
    await panel.cancel();
    await run;
    expect(panel.snapshot.job.stage).toBe("cancelled");
    expect(panel.snapshot.message?.title).toBe("Cancelled");
    expect(mock.calls.some((c) => c.fn === "putPixels")).toBe(false);
  });

  it("shows the daemon's error for an unknown model, naming the field", async () => {
    const panel = makePanel();
    await ready(panel);
    // a model the daemon once listed but has since removed
    panel.snapshot.checkpoints.push({ id: "removed-model", name: "gone", arch: "sd15" });
    await panel.run(form({ mode: "generate", model: "removed-model" }));
    expect(panel.snapshot.job.stage).toBe("failed");
    expect(panel.snapshot.message).toMatchObject({ kind: "error", title: "The model is not installed", code: "unknown_model" });
    expect(panel.snapshot.message?.detail).toMatch(/model/);
  });

  it("explains a refused token", async () => {
    const panel = makePanel({ token: "lb_wrong" });
    await panel.start();
    await new Promise<void>((resolve) => {
      const off = panel.on("change", (s) => s.message && (off(), resolve()));
    });
    expect(panel.snapshot.message).toMatchObject({ kind: "error", title: "Not paired", code: "unauthorized" });
    expect(panel.snapshot.connection).toBe("closed");
  });

  it("asks for a selection before a fill", async () => {
    const panel = makePanel();
    await ready(panel);
    await panel.run(form({ mode: "inpaint" }));
    expect(panel.snapshot.message).toMatchObject({ kind: "error", title: "Cannot run yet" });
    expect(panel.snapshot.message?.detail).toMatch(/selection/);
    expect(mock.calls).toEqual([]);
  });

  it("says when no daemon answers", async () => {
    const panel = makePanel({ port: 1 });
    await panel.start();
    await new Promise<void>((resolve) => {
      const off = panel.on("change", (s) => s.message && (off(), resolve()));
    });
    expect(panel.snapshot.message).toMatchObject({ kind: "error", title: "Cannot reach the Layerbridge daemon", code: "connection" });
  });
});

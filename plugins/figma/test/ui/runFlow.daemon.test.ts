import { LayerbridgeClient, sha256HexSync, type JobParams } from "@layerbridge/common";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";
import { DEFAULT_OPTIONS, type FlowOptions } from "../../src/ui/flowOptions";
import { runFlow } from "../../src/ui/runFlow";
import type { Region } from "@layerbridge/common";
import type { ImageOps } from "../../src/ui/imageOps";
import { decodePng, encodePng, solidPng } from "../support/png";
import { pngImageOps } from "../support/pngImageOps";

// The UI's client code (runFlow over @layerbridge/common) in Node against a real daemon, with the
// Origin a Figma iframe sends.
const daemon = inject("daemon");
let client: LayerbridgeClient;
/** The params of every job.submit the client sent, read off the wire. */
let submitted: JobParams[];

function connect(token = daemon.token): LayerbridgeClient {
  return new LayerbridgeClient({
    url: daemon.url,
    token,
    client: { name: "figma-test", kind: "figma", version: "0.1.0" },
    createSocket: (url) => {
      const socket = new WebSocket(url, { headers: { Origin: "null" } });
      const send = socket.send.bind(socket);
      socket.send = ((data: string | ArrayBuffer) => {
        if (typeof data === "string") {
          const message = JSON.parse(data) as { type: string; params?: JobParams };
          if (message.type === "job.submit" && message.params) submitted.push(message.params);
        }
        send(data);
      }) as typeof socket.send;
      return socket;
    },
    reconnect: false,
  });
}

const options = (over: Partial<FlowOptions>): FlowOptions => ({
  ...DEFAULT_OPTIONS,
  model: "demo",
  prompt: "a lighthouse at dusk",
  steps: 2,
  seed: 1234,
  ...over,
});

beforeEach(async () => {
  submitted = [];
  client = connect();
  await client.connect();
});

afterEach(() => client.close());

describe("runFlow against a real daemon", () => {
  it("generates an image at the node's size with progress", async () => {
    const steps: number[] = [];
    const outcome = await runFlow(
      client,
      { flow: "generate", target: { width: 64, height: 64 } },
      options({}),
      pngImageOps,
      { onProgress: (step) => steps.push(step) },
    );
    expect(outcome.images).toHaveLength(1);
    const [image] = outcome.images;
    expect(image?.seed).toBe(1234);
    expect([image?.width, image?.height]).toEqual([64, 64]);
    const png = decodePng(image?.png ?? new Uint8Array());
    expect([png.width, png.height]).toEqual([64, 64]);
    expect(steps.length).toBeGreaterThan(0);
  });

  it("returns one image per variation, each with its own seed", async () => {
    const outcome = await runFlow(
      client,
      { flow: "generate", target: { width: 64, height: 64 } },
      options({ batch: 3, seed: 10 }),
      pngImageOps,
    );
    expect(outcome.images.map((i) => i.seed)).toEqual([10, 11, 12]);
  });

  it("refines an image at its size", async () => {
    const image = solidPng(64, 64);
    const outcome = await runFlow(
      client,
      { flow: "refine", image, size: { width: 64, height: 64 } },
      options({ strength: 0.5 }),
      pngImageOps,
    );
    expect(submitted[0]).toMatchObject({ kind: "refine", image: sha256HexSync(image), strength: 0.5 });
    const png = decodePng(outcome.images[0]?.png ?? new Uint8Array());
    expect([png.width, png.height]).toEqual([64, 64]);
  });

  it("keeps the right and bottom pixels a refine could not cover", async () => {
    const outcome = await runFlow(
      client,
      { flow: "refine", image: solidPng(70, 66, { r: 1, g: 2, b: 3, a: 255 }), size: { width: 70, height: 66 } },
      options({ strength: 0.5 }),
      pngImageOps,
    );
    const png = decodePng(outcome.images[0]?.png ?? new Uint8Array());
    expect([png.width, png.height]).toEqual([70, 66]);
    expect(png.at(69, 65)).toEqual({ r: 1, g: 2, b: 3, a: 255 });
  });

  it("reports a refused token as a DaemonError the UI can explain", async () => {
    const stranger = connect("lb_not-a-real-token");
    await expect(stranger.connect()).rejects.toMatchObject({ code: "unauthorized" });
    stranger.close();
  });

  it("cancels a running job", async () => {
    let cancelled: Promise<void> | undefined;
    const run = runFlow(
      client,
      { flow: "generate", target: { width: 64, height: 64 } },
      options({ steps: 50, batch: 4 }),
      pngImageOps,
      { onJob: (job) => (cancelled = job.cancel()) },
    );
    await expect(run).rejects.toMatchObject({ name: "JobCancelledError" });
    await cancelled;
  });
});

describe("inpaint and generate from a sketch against a real daemon", () => {
  it("fills a region and composites the patch onto the original", async () => {
    const image = solidPng(96, 64, { r: 10, g: 200, b: 30, a: 255 });
    const mask = new Uint8Array(96 * 64 * 4);
    for (let y = 0; y < 64; y++) {
      for (let x = 0; x < 96; x++) {
        const inside = x >= 40 && x < 56 && y >= 24 && y < 40;
        mask.set(inside ? [255, 255, 255, 255] : [0, 0, 0, 255], (y * 96 + x) * 4);
      }
    }
    const regions: Region[] = [];
    const ops: ImageOps = { ...pngImageOps, compose: (b, p, r) => (regions.push(r), pngImageOps.compose(b, p, r)) };
    const outcome = await runFlow(
      client,
      { flow: "inpaint", image, mask: encodePng(96, 64, mask), size: { width: 96, height: 64 } },
      options({ model: "demo-inpaint", strength: 1 }),
      ops,
    );
    // The daemon returns a patch around the mask, not the whole picture; the UI puts it back.
    expect(regions).toHaveLength(1);
    const [region] = regions;
    expect(region && region.width * region.height).toBeLessThan(96 * 64);
    const png = decodePng(outcome.images[0]?.png ?? new Uint8Array());
    expect([png.width, png.height]).toEqual([96, 64]);
    expect(png.at(0, 0)).toEqual({ r: 10, g: 200, b: 30, a: 255 }); // far from the mask: untouched
    // each upload's hash went into its own field: the PNG as image, the grey8 mask as mask
    const grey = await pngImageOps.grey(encodePng(96, 64, mask));
    expect(submitted).toHaveLength(1);
    expect(submitted[0]).toMatchObject({ kind: "inpaint", image: sha256HexSync(image), mask: sha256HexSync(grey.bytes) });
  });

  it("turns a sketch into an image through a ControlNet", async () => {
    const sketch = solidPng(64, 64, { r: 0, g: 0, b: 0, a: 0 });
    const outcome = await runFlow(
      client,
      { flow: "generate", target: { width: 64, height: 64 }, control: sketch },
      options({ controlNet: { id: "demo-cn-scribble", type: "scribble" } }),
      pngImageOps,
    );
    expect(outcome.images).toHaveLength(1);
    expect(decodePng(outcome.images[0]?.png ?? new Uint8Array()).width).toBe(64);
    // the flattened sketch is the control image, with the ControlNet and strength picked
    const flat = await pngImageOps.flatten(sketch);
    expect(submitted[0]?.control).toEqual([{ type: "scribble", model: "demo-cn-scribble", image: sha256HexSync(flat), strength: 1 }]);
    expect(submitted[0]?.image ?? null).toBeNull();
  });
});

import { LayerbridgeClient } from "@layerbridge/common";
import { afterEach, beforeEach, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";
import { DEFAULT_OPTIONS, type FlowOptions } from "../../src/ui/flowOptions";
import { runFlow } from "../../src/ui/runFlow";
import { decodePng, solidPng } from "../support/png";
import { pngImageOps } from "../support/pngImageOps";

// The UI's client code (runFlow over @layerbridge/common) in Node against a real daemon, with the
// Origin a Figma iframe sends.
const daemon = inject("daemon");
let client: LayerbridgeClient;

function connect(token = daemon.token): LayerbridgeClient {
  return new LayerbridgeClient({
    url: daemon.url,
    token,
    client: { name: "figma-test", kind: "figma", version: "0.1.0" },
    createSocket: (url) => new WebSocket(url, { headers: { Origin: "null" } }),
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

  it("restyles an image at its size", async () => {
    const outcome = await runFlow(
      client,
      { flow: "restyle", image: solidPng(64, 64), size: { width: 64, height: 64 } },
      options({ strength: 0.5 }),
      pngImageOps,
    );
    const png = decodePng(outcome.images[0]?.png ?? new Uint8Array());
    expect([png.width, png.height]).toEqual([64, 64]);
  });

  it("keeps the right and bottom pixels a restyle could not cover", async () => {
    const outcome = await runFlow(
      client,
      { flow: "restyle", image: solidPng(70, 66, { r: 1, g: 2, b: 3, a: 255 }), size: { width: 70, height: 66 } },
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

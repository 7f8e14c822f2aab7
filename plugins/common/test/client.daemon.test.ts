// The client against a real daemon (Node + ws): pair, generate, upload, fill, cancel, reconnect.
import { afterEach, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";
import { LayerbridgeClient, type LayerbridgeClientOptions } from "../src/client.js";
import { DaemonError, JobCancelledError } from "../src/errors.js";
import { decodeFrame } from "../src/frames.js";
import type { JobProgressEvent } from "../src/jobHandle.js";
import { sha256Hex } from "../src/sha256.js";
import type { ErrorMessage } from "../src/protocol.js";
import type { WebSocketLike } from "../src/socket.js";
import { gradientRgba, isPng, rectMask } from "./images.js";

const url = inject("daemonUrl");
const token = inject("daemonToken");
const clients: LayerbridgeClient[] = [];

interface Tracked {
  sockets: WebSocket[];
  binarySends: number;
  /** Headers of the blob.put frames sent. */
  puts: Record<string, unknown>[];
  /** While set, binary frames are held here (in order) instead of sent; call each to send it. */
  held: (() => void)[] | undefined;
}

function connectClient(options: Partial<LayerbridgeClientOptions> = {}): { client: LayerbridgeClient; tracked: Tracked } {
  const tracked: Tracked = { sockets: [], binarySends: 0, puts: [], held: undefined };
  const client = new LayerbridgeClient({
    url,
    token,
    client: { name: "common-tests", kind: "test", version: "0.1.0" },
    createSocket: (u) => {
      const ws = new WebSocket(u);
      const send = ws.send.bind(ws);
      ws.send = ((data: string | ArrayBuffer) => {
        if (typeof data !== "string") {
          tracked.binarySends++;
          tracked.puts.push(decodeFrame(new Uint8Array(data)).header as Record<string, unknown>);
          if (tracked.held) {
            tracked.held.push(() => send(data));
            return;
          }
        }
        send(data);
      }) as typeof ws.send;
      tracked.sockets.push(ws);
      return ws as WebSocketLike;
    },
    reconnect: { initialMs: 50, maxMs: 200 },
    ...options,
  });
  clients.push(client);
  return { client, tracked };
}

afterEach(() => {
  while (clients.length) clients.pop()?.close();
});

// generous: the daemon shares a small CI box, and the first job of a kind loads its pipeline
describe("common client against a real daemon", { timeout: 120_000 }, () => {
  it("pairs: a paired token gets welcome with the demo model and limits", async () => {
    const { client } = connectClient();
    const welcome = await client.connect();
    expect(welcome.protocol).toBe(1);
    expect(welcome.scope).toBe("client");
    expect(welcome.models.map((m) => m.id)).toContain("demo");
    expect(welcome.limits.max_chunk_bytes).toBeGreaterThan(0);
    const status = await client.status();
    expect(status.type).toBe("status.reply");
  });

  it("rejects a wrong token with unauthorized and does not retry", async () => {
    const { client, tracked } = connectClient({ token: "lb_not-a-real-token" });
    const err = await client.connect().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonError);
    expect((err as DaemonError).code).toBe("unauthorized");
    await new Promise((r) => setTimeout(r, 200));
    expect(tracked.sockets).toHaveLength(1);
    expect(client.state).toBe("closed");
  });

  it("generates variations with progress and PNG results whose hash matches", async () => {
    const { client } = connectClient();
    await client.connect();
    const job = client.submit({ kind: "generate", model: "demo", prompt: "a lighthouse", width: 64, height: 64, steps: 3, batch: 2, seed: 42 });
    const progress: JobProgressEvent[] = [];
    job.on("progress", (p) => progress.push(p));
    const { results } = await job.finished;
    expect(results.map((r) => r.info.index)).toEqual([0, 1]);
    for (const r of results) {
      expect(isPng(r.bytes)).toBe(true);
      expect(await sha256Hex(r.bytes)).toBe(r.info.blob);
      expect(r.info.region).toEqual({ x: 0, y: 0, width: 64, height: 64 });
    }
    expect(results[0]?.info.seed).toBe(42);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)?.steps).toBeGreaterThan(0);
  });

  it("uploads a blob once: the second upload of the same bytes sends no binary frame", async () => {
    const { client, tracked } = connectClient({ chunkBytes: 4096 });
    await client.connect();
    const image = gradientRgba(64, 48);
    image[0] = Math.floor(Math.random() * 255); // fresh bytes for this run
    const [sha] = await client.upload([{ bytes: image, format: "rgba8", width: 64, height: 48 }]);
    expect(sha).toBe(await sha256Hex(image));
    expect(tracked.binarySends).toBe(Math.ceil(image.length / 4096));
    const before = tracked.binarySends;
    await client.upload([{ bytes: image, format: "rgba8", width: 64, height: 48 }]);
    expect(tracked.binarySends).toBe(before);
  });

  it("an upload the daemon refuses fails with the error naming it; another upload beside it succeeds", async () => {
    const { client, tracked } = connectClient({ chunkBytes: 4096 });
    await client.connect();
    const errors: ErrorMessage[] = [];
    client.on("message", (m) => {
      if (m.type === "error") errors.push(m);
    });
    const good = gradientRgba(32, 32);
    good[0] = Math.floor(Math.random() * 255);
    const bad = gradientRgba(40, 40);
    const wrongSha = await sha256Hex(crypto.getRandomValues(new Uint8Array(16))); // a blob no one has
    const [refused, stored] = await Promise.allSettled([
      client.upload([{ bytes: bad, format: "rgba8", width: 40, height: 40, sha256: wrongSha }]),
      client.upload([{ bytes: good, format: "rgba8", width: 32, height: 32 }]),
    ]);
    // a DaemonError, not a timeout: the error came back with reply_to = the upload's id
    expect(refused.status).toBe("rejected");
    const err = (refused as PromiseRejectedResult).reason as unknown;
    expect(err).toBeInstanceOf(DaemonError);
    expect(err).toMatchObject({ code: "invalid_input", field: "sha256" });
    const badPuts = tracked.puts.filter((h) => h["sha256"] === wrongSha);
    expect(badPuts).toHaveLength(Math.ceil(bad.length / 4096));
    expect(new Set(badPuts.map((h) => h["id"])).size).toBe(1);
    expect(errors.map((e) => e.reply_to)).toEqual([badPuts[0]!["id"]]);
    expect(stored).toEqual({ status: "fulfilled", value: [await sha256Hex(good)] });
    const goodIds = tracked.puts.filter((h) => h["sha256"] !== wrongSha).map((h) => h["id"]);
    expect(goodIds).not.toContain(badPuts[0]!["id"]);
  });

  it("an upload whose blob another connection stored meanwhile still completes", async () => {
    const { client: slow, tracked } = connectClient({ chunkBytes: 4096 });
    const { client: fast } = connectClient();
    await Promise.all([slow.connect(), fast.connect()]);
    const image = gradientRgba(48, 48);
    image[1] = Math.floor(Math.random() * 255);
    const source = { bytes: image, format: "rgba8" as const, width: 48, height: 48 };
    const chunks = Math.ceil(image.length / 4096);
    const stored: unknown[] = [];
    slow.on("message", (m) => {
      if (m.type === "blob.stored") stored.push(m.reply_to);
    });
    tracked.held = [];
    const slowUpload = slow.upload([source]); // asks blob.has (missing), then its chunks are held
    await expect.poll(() => tracked.held?.length, { timeout: 10_000 }).toBe(chunks);
    const [sha] = await fast.upload([source]); // meanwhile the other connection stores it
    const held = tracked.held;
    tracked.held = undefined;
    for (const send of held) send();
    // the daemon answered the last chunk with blob.stored naming the upload (no timeout, no retry)
    expect(await slowUpload).toEqual([sha]);
    expect(stored).toEqual([tracked.puts[0]!["id"]]);
    expect(tracked.puts).toHaveLength(chunks);
  });

  it("paces a large upload on the daemon's acknowledgements, never more than the window unacknowledged, while the socket reports nothing buffered", async () => {
    const window = 1 << 20;
    const { client, tracked } = connectClient({ chunkBytes: 256 << 10, uploadWindowBytes: window });
    const welcome = await client.connect();
    expect(welcome.capabilities).toContain("blob.ack");
    // as UXP may: a bufferedAmount that never moves (pacing on it would send everything at once)
    Object.defineProperty(tracked.sockets[0], "bufferedAmount", { get: () => 0 });
    const acked = new Map<string, number>();
    client.on("message", (m) => {
      if (m.type === "blob.received" && m.sha256) acked.set(m.sha256, m.received);
    });
    let maxUnacked = 0;
    const send = tracked.sockets[0]!.send.bind(tracked.sockets[0]);
    tracked.sockets[0]!.send = ((data: string | ArrayBuffer) => {
      if (typeof data !== "string") {
        const { header, payload } = decodeFrame(new Uint8Array(data));
        const end = (header as { offset: number }).offset + payload.length;
        maxUnacked = Math.max(maxUnacked, end - (acked.get((header as { sha256: string }).sha256) ?? 0));
      }
      send(data);
    }) as typeof send;
    const image = gradientRgba(1024, 1536); // 6 MiB: 24 chunks
    image[2] = Math.floor(Math.random() * 255);
    const sha = await sha256Hex(image);
    expect(await client.upload([{ bytes: image, format: "rgba8", width: 1024, height: 1536 }])).toEqual([sha]);
    expect(tracked.puts.filter((h) => h["sha256"] === sha).every((h) => h["ack"] === true)).toBe(true);
    expect(acked.get(sha)).toBe(image.length - (256 << 10)); // every chunk but the last (blob.stored)
    expect(maxUnacked).toBeLessThanOrEqual(window);
    expect(maxUnacked).toBeGreaterThan(256 << 10); // a window, not one chunk at a time
    expect(Buffer.compare((await client.getBlob(sha)).bytes, image)).toBe(0); // (toEqual walks 6 M elements for a minute)
  });

  it("refines an uploaded image", async () => {
    const { client } = connectClient();
    await client.connect();
    const [image] = await client.upload([{ bytes: gradientRgba(64, 64), format: "rgba8", width: 64, height: 64 }]);
    const job = client.submit({ kind: "refine", model: "demo", prompt: "oil painting", image, strength: 0.5, steps: 4 });
    const { results } = await job.finished;
    expect(results).toHaveLength(1);
    expect(results[0]?.info.region).toEqual({ x: 0, y: 0, width: 64, height: 64 });
  });

  it("fills a selection: the patch's region covers the masked rectangle", async () => {
    const { client } = connectClient();
    await client.connect();
    const [image, mask] = await client.upload([
      { bytes: gradientRgba(64, 64), format: "rgba8", width: 64, height: 64 },
      { bytes: rectMask(64, 64, 16, 24, 40, 48), format: "grey8", width: 64, height: 64 },
    ]);
    const job = client.submit({ kind: "inpaint", model: "demo", prompt: "a red door", image, mask, strength: 1, steps: 3, batch: 1 });
    const { results } = await job.finished;
    const region = results[0]!.info.region;
    expect(region.x).toBeLessThanOrEqual(16);
    expect(region.y).toBeLessThanOrEqual(24);
    expect(region.x + region.width).toBeGreaterThanOrEqual(40);
    expect(region.y + region.height).toBeGreaterThanOrEqual(48);
    expect(region.x).toBeGreaterThanOrEqual(0);
    expect(region.x + region.width).toBeLessThanOrEqual(64);
    expect(results[0]!.info.width).toBe(region.width);
    expect(results[0]!.info.height).toBe(region.height);
  });

  it("rejects a job that names an unknown blob with the field", async () => {
    const { client } = connectClient();
    await client.connect();
    const job = client.submit({ kind: "refine", model: "demo", image: "0".repeat(64), steps: 2 });
    const err = await job.finished.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DaemonError);
    expect((err as DaemonError).code).toBe("unknown_blob");
    expect((err as DaemonError).field).toMatch(/image/);
  });

  it("cancels a running job", async () => {
    const { client } = connectClient();
    await client.connect();
    const job = client.submit({ kind: "generate", model: "demo", width: 64, height: 64, steps: 150 });
    await new Promise<void>((resolve) => job.once("progress", () => resolve()));
    await job.cancel();
    const err = await job.finished.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobCancelledError);
    expect(job.phase).toBe("cancelled");
  });

  it("reconnects after the connection drops and fetches the job's results", async () => {
    const { client, tracked } = connectClient();
    await client.connect();
    const job = client.submit({ kind: "generate", model: "demo", width: 64, height: 64, steps: 8, batch: 2 });
    await new Promise<void>((resolve) => job.once("progress", () => resolve()));
    const states: string[] = [];
    client.on("state", (s) => states.push(s));
    tracked.sockets[0]!.terminate(); // a network drop: no close handshake
    const { results } = await job.finished;
    expect(states).toContain("reconnecting");
    expect(states.at(-1)).toBe("ready");
    expect(tracked.sockets.length).toBeGreaterThanOrEqual(2);
    expect(results.map((r) => r.info.index)).toEqual([0, 1]);
    for (const r of results) expect(await sha256Hex(r.bytes)).toBe(r.info.blob);
  });

  it("resubmitting with the same job_id after a reconnect yields one job", async () => {
    const { client } = connectClient();
    await client.connect();
    const jobId = `dup-${Date.now()}`;
    const a = client.submit({ kind: "generate", model: "demo", width: 64, height: 64, steps: 2 }, { jobId });
    await a.finished;
    const { client: other } = connectClient();
    await other.connect();
    const b = other.submit({ kind: "generate", model: "demo", width: 64, height: 64, steps: 2 }, { jobId });
    const accepted = await new Promise<{ duplicate?: boolean }>((resolve) => b.once("accepted", resolve));
    expect(accepted.duplicate).toBe(true);
    const { results } = await b.finished;
    expect(results[0]?.info.blob).toBe((await a.finished).results[0]?.info.blob);
  });
});

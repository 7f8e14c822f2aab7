// Uploads the daemon names (capability blob.unnamed) against a real daemon: the client keys its
// bytes with XXH3-128 (hash-wasm, as the plugins hand in) and computes no SHA-256 before sending.
import { createHash } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { createXXHash128 } from "hash-wasm";
import { afterEach, describe, expect, inject, it } from "vitest";
import WebSocket from "ws";
import { LayerbridgeClient, type LayerbridgeClientOptions } from "../src/client.js";
import { decodeFrame } from "../src/frames.js";
import type { WebSocketLike } from "../src/socket.js";
import { gradientRgba } from "./images.js";

const url = inject("daemonUrl");
const token = inject("daemonToken");
const dataDir = inject("daemonDataDir");
const clients: LayerbridgeClient[] = [];

interface Tracked {
  sockets: WebSocket[];
  /** Headers of the blob.put frames sent. */
  puts: Record<string, unknown>[];
  /** The JSON messages sent (hello, blob.has, job.submit...). */
  texts: Record<string, unknown>[];
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

/** Fresh bytes for this run (the daemon's data dir lives as long as the whole test run). */
function freshImage(width: number, height: number): Uint8Array {
  const image = gradientRgba(width, height);
  image.set(crypto.getRandomValues(new Uint8Array(8)));
  return image;
}

/** A socket whose welcome, as the client sees it, lacks `capability` (a daemon before it). */
function hidingCapability(ws: WebSocket, capability: string): void {
  const onmessage = Object.getOwnPropertyDescriptor(WebSocket.prototype, "onmessage")!;
  Object.defineProperty(ws, "onmessage", {
    configurable: true,
    get: () => onmessage.get!.call(ws),
    set: (handler: ((event: { data: unknown }) => void) | null) => {
      onmessage.set!.call(ws, handler && ((event: { data: unknown }) => {
        if (typeof event.data === "string" && event.data.includes('"welcome"')) {
          const welcome = JSON.parse(event.data) as { type: string; capabilities: string[] };
          if (welcome.type === "welcome") {
            welcome.capabilities = welcome.capabilities.filter((c) => c !== capability);
            handler({ data: JSON.stringify(welcome) });
            return;
          }
        }
        handler(event);
      }));
    },
  });
}

function connectClient(options: Partial<LayerbridgeClientOptions> = {}, hide?: string): { client: LayerbridgeClient; tracked: Tracked } {
  const tracked: Tracked = { sockets: [], puts: [], texts: [] };
  const client = new LayerbridgeClient({
    url,
    token,
    client: { name: "common-tests", kind: "test", version: "0.1.0" },
    contentHasher: createXXHash128,
    createSocket: (u) => {
      const ws = new WebSocket(u);
      if (hide) hidingCapability(ws, hide);
      const send = ws.send.bind(ws);
      ws.send = ((data: string | ArrayBuffer) => {
        if (typeof data === "string") tracked.texts.push(JSON.parse(data) as Record<string, unknown>);
        else tracked.puts.push(decodeFrame(new Uint8Array(data)).header as Record<string, unknown>);
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

const blobHas = (tracked: Tracked) => tracked.texts.filter((m) => m["type"] === "blob.has");

afterEach(() => {
  while (clients.length) clients.pop()?.close();
});

describe("uploads the daemon names (blob.unnamed)", { timeout: 120_000 }, () => {
  it("sends an unnamed upload and returns the name the daemon gave it: the sha256 of the bytes", async () => {
    const { client, tracked } = connectClient({ chunkBytes: 4096 });
    const welcome = await client.connect();
    expect(welcome.capabilities).toContain("blob.unnamed");
    const image = freshImage(64, 48);
    const [name] = await client.upload([{ bytes: image, format: "rgba8", width: 64, height: 48 }]);
    expect(name).toBe(sha256(image));
    expect(tracked.puts).toHaveLength(Math.ceil(image.length / 4096));
    expect(tracked.puts.every((h) => !("sha256" in h))).toBe(true);
    expect(new Set(tracked.puts.map((h) => h["id"])).size).toBe(1);
    expect(blobHas(tracked)).toEqual([]); // nothing to ask about bytes this client never sent
    expect(Buffer.compare((await client.getBlob(name!)).bytes, image)).toBe(0);
  });

  it("uploads the same bytes once: the second time it only asks blob.has", async () => {
    const { client, tracked } = connectClient({ chunkBytes: 4096 });
    await client.connect();
    const image = freshImage(32, 32);
    const source = { bytes: image, format: "rgba8" as const, width: 32, height: 32 };
    const [first] = await client.upload([source]);
    const puts = tracked.puts.length;
    expect(await client.upload([source])).toEqual([first]);
    expect(tracked.puts).toHaveLength(puts);
    expect(blobHas(tracked).map((m) => m["sha256"])).toEqual([[sha256(image)]]);
  });

  it("sends the same bytes given twice in one upload once", async () => {
    const { client, tracked } = connectClient();
    await client.connect();
    const image = freshImage(16, 16);
    const source = { bytes: image, format: "rgba8" as const, width: 16, height: 16 };
    expect(await client.upload([source, { ...source, bytes: image.slice() }])).toEqual([sha256(image), sha256(image)]);
    expect(tracked.puts.every((h) => !("sha256" in h))).toBe(true);
    expect(new Set(tracked.puts.map((h) => h["id"])).size).toBe(1);
  });

  it("uploads again once the daemon has lost the blob", async () => {
    const { client, tracked } = connectClient();
    await client.connect();
    const image = freshImage(24, 24);
    const source = { bytes: image, format: "rgba8" as const, width: 24, height: 24 };
    const [name] = await client.upload([source]);
    const ids = () => new Set(tracked.puts.map((h) => h["id"])).size;
    expect(ids()).toBe(1);
    // gone from the daemon's store (a cleanup, a reset data dir)
    const stored = join(dataDir, "blobs", name!.slice(0, 2), name!);
    await rm(`${stored}.json`);
    await rm(stored, { force: true });
    expect(await client.upload([source])).toEqual([name]);
    expect(blobHas(tracked)).toHaveLength(1); // asked, found missing...
    expect(ids()).toBe(2); // ...and sent again, unnamed
    expect(tracked.puts.every((h) => !("sha256" in h))).toBe(true);
    expect(Buffer.compare((await client.getBlob(name!)).bytes, image)).toBe(0);
  });

  it("a fresh client uploads bytes another client sent (it knows nothing of them)", async () => {
    const image = freshImage(20, 20);
    const source = { bytes: image, format: "rgba8" as const, width: 20, height: 20 };
    const { client: first } = connectClient();
    await first.connect();
    const [name] = await first.upload([source]);
    const { client: fresh, tracked } = connectClient();
    await fresh.connect();
    expect(await fresh.upload([source])).toEqual([name]);
    expect(tracked.puts.length).toBeGreaterThan(0);
    expect(blobHas(tracked)).toEqual([]);
  });

  it("two uploads of the same new bytes at once both resolve with their name", async () => {
    const { client } = connectClient({ chunkBytes: 4096 });
    await client.connect();
    const image = freshImage(48, 32);
    const source = { bytes: image, format: "rgba8" as const, width: 48, height: 32 };
    expect(await Promise.all([client.upload([source]), client.upload([source])])).toEqual([[sha256(image)], [sha256(image)]]);
  });

  it("finishes an unnamed upload cut by a dropped connection once it is back", async () => {
    const { client, tracked } = connectClient({ chunkBytes: 4096 });
    await client.connect();
    const image = freshImage(64, 64); // 4 chunks
    const first = tracked.sockets[0]!;
    const send = first.send.bind(first);
    let sent = 0;
    first.send = ((data: string | ArrayBuffer) => {
      send(data);
      if (typeof data !== "string" && ++sent === 2) first.terminate(); // gone mid-upload
    }) as typeof send;
    expect(await client.upload([{ bytes: image, format: "rgba8", width: 64, height: 64 }])).toEqual([sha256(image)]);
    expect(tracked.sockets.length).toBeGreaterThan(1);
    expect(Buffer.compare((await client.getBlob(sha256(image))).bytes, image)).toBe(0);
  });

  it("paces an unnamed upload on the daemon's acknowledgements, which name it by id alone", async () => {
    const window = 1 << 20;
    const { client, tracked } = connectClient({ chunkBytes: 256 << 10, uploadWindowBytes: window });
    await client.connect();
    Object.defineProperty(tracked.sockets[0], "bufferedAmount", { get: () => 0 }); // as UXP may
    const received: Record<string, unknown>[] = [];
    client.on("message", (m) => {
      if (m.type === "blob.received") received.push(m as unknown as Record<string, unknown>);
    });
    let maxUnacked = 0;
    const send = tracked.sockets[0]!.send.bind(tracked.sockets[0]);
    tracked.sockets[0]!.send = ((data: string | ArrayBuffer) => {
      if (typeof data !== "string") {
        const { header, payload } = decodeFrame(new Uint8Array(data));
        const acked = (received.at(-1)?.["received"] as number | undefined) ?? 0;
        maxUnacked = Math.max(maxUnacked, (header as { offset: number }).offset + payload.length - acked);
      }
      send(data);
    }) as typeof send;
    const image = freshImage(1024, 1536); // 6 MiB: 24 chunks
    expect(await client.upload([{ bytes: image, format: "rgba8", width: 1024, height: 1536 }])).toEqual([sha256(image)]);
    expect(tracked.puts.every((h) => h["ack"] === true && !("sha256" in h))).toBe(true);
    expect(received).toHaveLength(23); // every chunk but the last (blob.stored)
    expect(received.every((m) => m["reply_to"] === tracked.puts[0]!["id"] && m["sha256"] == null)).toBe(true);
    expect(maxUnacked).toBeLessThanOrEqual(window);
    expect(maxUnacked).toBeGreaterThan(256 << 10);
  });

  it("runs a job whose input was uploaded unnamed, named in its params by the daemon's sha256", async () => {
    const { client, tracked } = connectClient();
    await client.connect();
    const image = freshImage(64, 64);
    const job = await client.submitWithInputs(
      { kind: "refine", model: "demo", prompt: "oil painting", strength: 0.5, steps: 2 },
      { image: { bytes: image, format: "rgba8", width: 64, height: 64 } },
    );
    expect(tracked.puts.every((h) => !("sha256" in h))).toBe(true);
    expect(tracked.texts.find((m) => m["type"] === "job.submit")?.["params"]).toMatchObject({ image: sha256(image) });
    const { results } = await job.finished;
    expect(results).toHaveLength(1);
  });
});

describe("uploads named by the client: the path before blob.unnamed", { timeout: 120_000 }, () => {
  it("hashes with SHA-256 first and sends named puts to a daemon whose welcome lacks blob.unnamed", async () => {
    const { client, tracked } = connectClient({ chunkBytes: 4096 }, "blob.unnamed");
    const welcome = await client.connect();
    expect(welcome.capabilities).not.toContain("blob.unnamed");
    const image = freshImage(32, 40);
    expect(await client.upload([{ bytes: image, format: "rgba8", width: 32, height: 40 }])).toEqual([sha256(image)]);
    expect(blobHas(tracked).map((m) => m["sha256"])).toEqual([[sha256(image)]]);
    expect(tracked.puts).toHaveLength(Math.ceil(image.length / 4096));
    expect(tracked.puts.every((h) => h["sha256"] === sha256(image))).toBe(true);
  });

  it("hashes with SHA-256 first and sends named puts when no content hasher is installed", async () => {
    const { client, tracked } = connectClient({ contentHasher: null });
    const welcome = await client.connect();
    expect(welcome.capabilities).toContain("blob.unnamed");
    const image = freshImage(16, 24);
    expect(await client.upload([{ bytes: image, format: "rgba8", width: 16, height: 24 }])).toEqual([sha256(image)]);
    expect(blobHas(tracked).map((m) => m["sha256"])).toEqual([[sha256(image)]]);
    expect(tracked.puts.length).toBeGreaterThan(0);
    expect(tracked.puts.every((h) => h["sha256"] === sha256(image))).toBe(true);
  });

  it("hashes with SHA-256 first when the content hasher cannot be compiled (a host policy)", async () => {
    const { client, tracked } = connectClient({ contentHasher: () => Promise.reject(new Error("WebAssembly.compile is disallowed")) });
    await client.connect();
    const image = freshImage(8, 8);
    expect(await client.upload([{ bytes: image, format: "rgba8", width: 8, height: 8 }])).toEqual([sha256(image)]);
    expect(tracked.puts.every((h) => h["sha256"] === sha256(image))).toBe(true);
  });
});

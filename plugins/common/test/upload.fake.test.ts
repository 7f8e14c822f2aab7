// Unnamed uploads (blob.unnamed) against a scripted fake daemon: what only a daemon that
// misbehaves, or a slow link, shows — a refusal mid-upload, progress, silence, a stray blob.stored.
import { createXXHash128 } from "hash-wasm";
import { afterEach, describe, expect, it, vi } from "vitest";
import { LayerbridgeClient } from "../src/client.js";
import { ConnectionError } from "../src/errors.js";
import { sha256HexSync } from "../src/sha256.js";
import type { UploadProgress } from "../src/upload.js";
import { FakeSocket, WELCOME } from "./fakeSocket.js";

const clients: LayerbridgeClient[] = [];
afterEach(() => {
  while (clients.length) clients.pop()?.close();
});

/** A fake daemon that names blobs (blob.unnamed) and acknowledges chunks (blob.ack); it answers
 * nothing about uploads unless the test does. */
async function unnamedClient(extra: Partial<ConstructorParameters<typeof LayerbridgeClient>[0]> = {}) {
  const sockets: FakeSocket[] = [];
  const c = new LayerbridgeClient({
    url: "ws://127.0.0.1:7842/",
    token: "lb_test",
    client: { name: "test", kind: "test", version: "0.0.0" },
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      s.onSend = (fr) => {
        if (fr.text?.["type"] === "hello") s.deliver({ ...WELCOME, capabilities: [...WELCOME.capabilities, "blob.ack", "blob.unnamed"] });
      };
      queueMicrotask(() => s.open());
      return s;
    },
    reconnect: false,
    heartbeatMs: 0,
    contentHasher: createXXHash128,
    ...extra,
  });
  clients.push(c);
  await c.connect();
  const s = sockets[0]!;
  const puts = () => s.sent.filter((fr) => fr.header).map((fr) => fr.header!);
  return { c, s, puts };
}

describe("unnamed uploads (fake daemon)", () => {
  it("acknowledged chunk by chunk, resolves with the name in blob.stored and reports progress by upload id", async () => {
    const { c, s, puts } = await unnamedClient();
    const bytes = new Uint8Array(40).map((_, i) => i); // 3 chunks of 16
    const name = sha256HexSync(bytes);
    s.onSend = (fr) => {
      const h = fr.header;
      if (!h) return;
      const end = (h["offset"] as number) + fr.payload!.length;
      if (end < (h["total"] as number)) s.deliver({ type: "blob.received", reply_to: h["id"], received: end });
      else s.deliver({ type: "blob.stored", reply_to: h["id"], sha256: name, size: end });
    };
    const progress: UploadProgress[] = [];
    expect(await c.upload([{ bytes, format: "png" }], (p) => progress.push(p))).toEqual([name]);
    const id = puts()[0]!["id"];
    expect(puts().map((h) => [h["id"], h["offset"], "sha256" in h])).toEqual([[id, 0, false], [id, 16, false], [id, 32, false]]);
    expect(progress).toEqual([16, 32, 40].map((sent) => ({ id, sha256: undefined, sent, total: 40 })));
  });

  it("stops sending once the daemon refuses the upload, and rejects with its error", async () => {
    const { c, s, puts } = await unnamedClient({ uploadWindowBytes: 16 });
    s.onSend = (fr) => {
      if (fr.header) s.deliver({ type: "error", reply_to: fr.header["id"], code: "too_large", message: "blob would exceed pending uploads", field: "total" });
    };
    await expect(c.upload([{ bytes: new Uint8Array(64).fill(9), format: "png" }])).rejects.toMatchObject({ code: "too_large", field: "total" });
    await new Promise((r) => setTimeout(r, 20));
    expect(puts()).toHaveLength(1);
  });

  it("is not settled by a blob.stored without its id (an unnamed upload has no name to match)", async () => {
    const { c, s, puts } = await unnamedClient({ requestTimeoutMs: 100 });
    const bytes = new Uint8Array([1, 2, 3]);
    s.onSend = (fr) => {
      if (fr.header) s.deliver({ type: "blob.stored", sha256: sha256HexSync(bytes), size: 3 });
    };
    await expect(c.upload([{ bytes, format: "png" }])).rejects.toBeInstanceOf(ConnectionError);
    expect(puts()).toHaveLength(3); // timed out, retried twice as after any silence, never settled
  });

  it("lets an unnamed upload that keeps moving take longer than the request timeout", async () => {
    const { c, s, puts } = await unnamedClient({ requestTimeoutMs: 50 });
    const bytes = new Uint8Array(128).fill(5); // 8 chunks: 240 ms on this link
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      // a slow link: each 16-byte chunk is acknowledged 30 ms after it is sent
      s.onSend = (fr) => {
        const h = fr.header;
        if (!h) return;
        const end = (h["offset"] as number) + fr.payload!.length;
        setTimeout(() => {
          if (end < (h["total"] as number)) s.deliver({ type: "blob.received", reply_to: h["id"], received: end });
          else s.deliver({ type: "blob.stored", reply_to: h["id"], sha256: sha256HexSync(bytes), size: end });
        }, 30);
      };
      let outcome: unknown;
      const upload = c.upload([{ bytes, format: "png" }], undefined).then(
        (v) => (outcome = v),
        (e: unknown) => (outcome = e),
      );
      for (let i = 0; i < 400 && outcome === undefined; i++) await vi.advanceTimersByTimeAsync(5);
      await upload;
      expect(outcome).toEqual([sha256HexSync(bytes)]);
      expect(puts()).toHaveLength(8);
    } finally {
      vi.useRealTimers();
    }
  });
});

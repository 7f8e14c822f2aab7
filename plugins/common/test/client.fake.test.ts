// The client against a scripted fake daemon: handshake, uploads, job events, reconnect.
import { afterEach, describe, expect, it, vi } from "vitest";
import { LayerbridgeClient } from "../src/client.js";
import { ConnectionError, DaemonError, JobCancelledError, ProtocolViolation } from "../src/errors.js";
import { sha256HexSync } from "../src/sha256.js";
import { FakeSocket, WELCOME, fakeFactory } from "./fakeSocket.js";

const clients: LayerbridgeClient[] = [];
function makeClient(create: (url: string) => FakeSocket, extra: Partial<ConstructorParameters<typeof LayerbridgeClient>[0]> = {}) {
  const c = new LayerbridgeClient({
    url: "ws://127.0.0.1:7842/",
    token: "lb_test",
    client: { name: "test", kind: "test", version: "0.0.0" },
    createSocket: create,
    reconnect: { initialMs: 5, maxMs: 20 },
    heartbeatMs: 0,
    ...extra,
  });
  clients.push(c);
  return c;
}
afterEach(() => {
  while (clients.length) clients.pop()?.close();
});
const tick = () => new Promise((r) => setTimeout(r, 0));
const PNG = new Uint8Array([137, 80, 78, 71, 1, 2, 3, 4, 5]);
const RESULT_SHA = sha256HexSync(PNG);
const result = (jobId: string, index = 0) => ({
  type: "job.result",
  job_id: jobId,
  result: {
    index,
    blob: RESULT_SHA,
    format: "png",
    width: 8,
    height: 8,
    region: { x: 4, y: 4, width: 8, height: 8 },
    seed: 7,
    params: { kind: "generate", model: "demo" },
  },
});

describe("LayerbridgeClient (fake daemon)", () => {
  it("sends hello with the token and protocol, resolves connect with welcome", async () => {
    const f = fakeFactory();
    const c = makeClient(f.create);
    const welcome = await c.connect();
    expect(welcome.models[0]?.id).toBe("demo");
    const hello = f.sockets[0]?.sent[0]?.text;
    expect(hello).toMatchObject({ type: "hello", protocols: [1], token: "lb_test", client: { kind: "test" } });
    expect(f.sockets[0]?.binaryType).toBe("arraybuffer");
    expect(c.state).toBe("ready");
  });

  it("rejects connect with the daemon's error when the token is refused, and does not retry", async () => {
    const f = fakeFactory(false);
    const c = makeClient((url) => {
      const s = f.create(url);
      s.onSend = (fr) => {
        if (fr.text?.["type"] === "hello") queueMicrotask(() => s.deliver({ type: "error", code: "unauthorized", message: "unknown token", reply_to: "hello" }));
      };
      queueMicrotask(() => s.open());
      return s;
    });
    await expect(c.connect()).rejects.toMatchObject({ code: "unauthorized" });
    await new Promise((r) => setTimeout(r, 40));
    expect(f.sockets).toHaveLength(1);
    expect(c.state).toBe("closed");
  });

  it("uploads only missing blobs, in chunks no larger than max_chunk_bytes", async () => {
    const f = fakeFactory();
    const c = makeClient(f.create);
    await c.connect();
    const s = f.sockets[0]!;
    const a = new Uint8Array(40).map((_, i) => i);
    const b = new Uint8Array(10).fill(9);
    const shaA = sha256HexSync(a);
    s.onSend = (fr) => {
      if (fr.text?.["type"] === "blob.has") s.deliver({ type: "blob.missing", reply_to: fr.text["id"], sha256: [shaA] });
      if (fr.header && (fr.header["offset"] as number) + fr.payload!.length === fr.header["total"]) {
        queueMicrotask(() => s.deliver({ type: "blob.stored", sha256: fr.header!["sha256"], size: fr.header!["total"], reply_to: fr.header!["id"] }));
      }
    };
    const hashes = await c.upload([
      { bytes: a, format: "rgba8", width: 5, height: 2 },
      { bytes: b, format: "png" },
    ]);
    expect(hashes).toEqual([shaA, sha256HexSync(b)]);
    const puts = s.sent.filter((fr) => fr.header);
    expect(puts.map((p) => p.header!["offset"])).toEqual([0, 16, 32]); // WELCOME says max_chunk_bytes 16
    expect(puts.every((p) => p.header!["sha256"] === shaA && p.header!["width"] === 5 && p.header!["format"] === "rgba8")).toBe(true);
    expect(typeof puts[0]!.header!["id"]).toBe("string");
    expect(puts.every((p) => p.header!["id"] === puts[0]!.header!["id"])).toBe(true); // one id per upload
    const joined = new Uint8Array(puts.flatMap((p) => [...p.payload!]));
    expect(joined).toEqual(a);
  });

  it("waits while bufferedAmount is above the high-water mark", async () => {
    const f = fakeFactory();
    const c = makeClient(f.create, { highWaterBytes: 100 });
    await c.connect();
    const s = f.sockets[0]!;
    s.bufferedAmount = 1000;
    s.onSend = (fr) => {
      if (fr.text?.["type"] === "blob.has") s.deliver({ type: "blob.missing", reply_to: fr.text["id"], sha256: fr.text["sha256"] });
      if (fr.header && (fr.header["offset"] as number) + fr.payload!.length === fr.header["total"]) {
        queueMicrotask(() => s.deliver({ type: "blob.stored", sha256: fr.header!["sha256"], size: 4 }));
      }
    };
    const upload = c.upload([{ bytes: new Uint8Array([1, 2, 3, 4]), format: "png" }]);
    await new Promise((r) => setTimeout(r, 30));
    expect(s.sent.filter((fr) => fr.header)).toHaveLength(0);
    s.bufferedAmount = 0;
    await upload;
    expect(s.sent.filter((fr) => fr.header)).toHaveLength(1);
    // this daemon lists no blob.ack: the chunks ask for no acknowledgement it would not know
    expect(s.sent.find((fr) => fr.header)?.header).not.toHaveProperty("ack");
  });

  it("reports progress with a preview and resolves with the result bytes", async () => {
    const f = fakeFactory();
    const c = makeClient(f.create);
    await c.connect();
    const s = f.sockets[0]!;
    s.onSend = (fr) => {
      if (fr.text?.["type"] !== "job.submit") return;
      const id = fr.text["job_id"] as string;
      s.deliver({ type: "job.accepted", reply_to: fr.text["id"], job_id: id, position: 0, seed: 7, duplicate: false });
      s.deliver({ type: "job.started", job_id: id });
      s.deliverBinary({ type: "job.progress", job_id: id, step: 1, steps: 2, preview: "png", preview_width: 4, preview_height: 4 }, new Uint8Array([1, 2]));
      s.deliverBinary({ type: "blob.data", sha256: RESULT_SHA, offset: 0, total: PNG.length, format: "png", width: 8, height: 8 }, PNG.subarray(0, 4));
      s.deliverBinary({ type: "blob.data", sha256: RESULT_SHA, offset: 4, total: PNG.length, format: "png", width: 8, height: 8 }, PNG.subarray(4));
      s.deliver(result(id));
      s.deliver({ type: "job.done", job_id: id, results: 1, seconds: 0.5 });
    };
    const job = c.submit({ kind: "generate", model: "demo", prompt: "a cat" }, { jobId: "job-1" });
    const progress: number[] = [];
    let preview: Uint8Array | undefined;
    job.on("progress", (p) => {
      progress.push(p.step);
      preview = p.preview?.bytes;
    });
    const outcome = await job.finished;
    expect(outcome.results).toHaveLength(1);
    expect(outcome.results[0]?.bytes).toEqual(PNG);
    expect(outcome.results[0]?.info.region).toEqual({ x: 4, y: 4, width: 8, height: 8 });
    expect(progress).toEqual([1]);
    expect(preview).toEqual(new Uint8Array([1, 2]));
    expect(job.phase).toBe("done");
  });

  it("fails the job with the daemon's code and field", async () => {
    const f = fakeFactory();
    const c = makeClient(f.create);
    await c.connect();
    const s = f.sockets[0]!;
    s.onSend = (fr) => {
      if (fr.text?.["type"] === "job.submit")
        s.deliver({ type: "error", reply_to: fr.text["id"], code: "unknown_model", message: "model='nope': no such model", field: "params.model" });
    };
    const job = c.submit({ kind: "generate", model: "nope" });
    await expect(job.finished).rejects.toMatchObject({ code: "unknown_model", field: "params.model" });
    await expect(job.finished).rejects.toBeInstanceOf(DaemonError);
  });

  it("cancels: sends job.cancel and settles with JobCancelledError", async () => {
    const f = fakeFactory();
    const c = makeClient(f.create);
    await c.connect();
    const s = f.sockets[0]!;
    s.onSend = (fr) => {
      const t = fr.text;
      if (t?.["type"] === "job.submit") s.deliver({ type: "job.accepted", reply_to: t["id"], job_id: t["job_id"], position: 1, seed: 1 });
      if (t?.["type"] === "job.cancel") {
        s.deliver({ type: "ok", reply_to: t["id"] });
        s.deliver({ type: "job.cancelled", job_id: t["job_id"] });
      }
    };
    const job = c.submit({ kind: "generate", model: "demo" });
    await new Promise((r) => job.once("accepted", r));
    expect(job.phase).toBe("queued");
    await job.cancel();
    await expect(job.finished).rejects.toBeInstanceOf(JobCancelledError);
  });

  it("drops a malformed message, reports it, and rejects the request it answered", async () => {
    const f = fakeFactory();
    const c = makeClient(f.create);
    await c.connect();
    const s = f.sockets[0]!;
    const violations: ProtocolViolation[] = [];
    c.on("violation", (v) => violations.push(v));
    s.onSend = (fr) => {
      if (fr.text?.["type"] === "status") s.deliver({ type: "status.reply", reply_to: fr.text["id"], version: 3 });
    };
    await expect(c.status()).rejects.toBeInstanceOf(ProtocolViolation);
    s.deliver("{not json");
    s.deliverBinary({ type: "welcome" }, new Uint8Array(0));
    s.onmessage?.({ data: new ArrayBuffer(2) });
    expect(violations).toHaveLength(4);
    expect(c.state).toBe("ready");
  });

  it("reconnects after a drop, resubmits an unaccepted job with the same id, fetches an accepted one", async () => {
    const f = fakeFactory();
    const c = makeClient(f.create);
    await c.connect();
    const first = f.sockets[0]!;
    first.onSend = (fr) => {
      const t = fr.text;
      if (t?.["type"] === "job.submit" && t["job_id"] === "accepted-1")
        first.deliver({ type: "job.accepted", reply_to: t["id"], job_id: "accepted-1", position: 0, seed: 3 });
    };
    const a = c.submit({ kind: "generate", model: "demo" }, { jobId: "accepted-1" });
    await new Promise((r) => a.once("accepted", r));
    const b = c.submit({ kind: "generate", model: "demo" }, { jobId: "never-accepted" });
    await tick();
    const states: string[] = [];
    c.on("state", (st) => states.push(st));
    first.close(1006, "gone");
    await c.ready();
    const second = f.sockets[1]!;
    expect(states).toEqual(["reconnecting", "connecting", "handshaking", "ready"]);
    await tick();
    expect(second.lastText("job.submit")).toMatchObject({ job_id: "never-accepted" });
    const fetch = second.lastText("job.fetch");
    expect(fetch).toMatchObject({ job_id: "accepted-1" });
    second.deliver({
      type: "job.state",
      reply_to: fetch!["id"],
      job: { job_id: "accepted-1", state: "done", kind: "generate", model: "demo", prompt: "", created_at: 1, finished_at: 2, results: [result("accepted-1").result] },
    });
    second.deliverBinary({ type: "blob.data", sha256: RESULT_SHA, offset: 0, total: PNG.length, format: "png" }, PNG);
    second.deliver(result("accepted-1"));
    const outcome = await a.finished;
    expect(outcome.results[0]?.bytes).toEqual(PNG);
    expect(b.phase).toBe("submitting");
  });

  it("sends a cancel cut by another drop again after the next reconnect (no unhandled rejection)", async () => {
    const f = fakeFactory();
    const c = makeClient((url) => {
      const s = f.create(url);
      const welcome = s.onSend!;
      const n = f.sockets.length - 1;
      s.onSend = (fr) => {
        welcome(fr);
        const t = fr.text;
        if (t?.["type"] === "job.submit") s.deliver({ type: "job.accepted", reply_to: t["id"], job_id: t["job_id"], position: 0, seed: 3 });
        if (t?.["type"] === "job.fetch")
          s.deliver({ type: "job.state", reply_to: t["id"], job: { job_id: t["job_id"], state: "running", kind: "generate", model: "demo", prompt: "", created_at: 1 } });
        if (t?.["type"] === "job.cancel" && n === 1) s.close(1006, "gone"); // the cancel is lost with the link
        if (t?.["type"] === "job.cancel" && n === 2) {
          s.deliver({ type: "ok", reply_to: t["id"] });
          s.deliver({ type: "job.cancelled", job_id: t["job_id"] });
        }
      };
      return s;
    });
    await c.connect();
    const job = c.submit({ kind: "generate", model: "demo" }, { jobId: "c-1" });
    await new Promise((r) => job.once("accepted", r));
    f.sockets[0]!.close(1006, "gone");
    await job.cancel(); // while reconnecting: sent once the job is fetched again
    await expect(job.finished).rejects.toBeInstanceOf(JobCancelledError);
    expect(f.sockets).toHaveLength(3);
    expect(f.sockets[2]!.lastText("job.cancel")).toMatchObject({ job_id: "c-1" });
  });

  it("gives up after maxAttempts and rejects connect with ConnectionError", async () => {
    let made = 0;
    const c = makeClient(
      (url) => {
        made++;
        const s = new FakeSocket(url);
        queueMicrotask(() => s.close(1006, "refused"));
        return s;
      },
      { reconnect: { initialMs: 1, maxMs: 2, maxAttempts: 2 } },
    );
    await expect(c.connect()).rejects.toBeInstanceOf(ConnectionError);
    expect(made).toBe(3);
    // an upload or a job that asks for the connection now is told, not left waiting
    await expect(c.ready()).rejects.toBeInstanceOf(ConnectionError);
  });

  it("tells a ready() after close() that the client is closed, and connects again on connect()", async () => {
    const f = fakeFactory();
    const c = makeClient(f.create);
    await c.connect();
    c.close();
    await expect(c.ready()).rejects.toBeInstanceOf(ConnectionError);
    await c.connect();
    expect(c.state).toBe("ready");
  });

  it("drops a silent connection after the heartbeat timeout and reconnects", async () => {
    const f = fakeFactory();
    const c = makeClient(f.create, { heartbeatMs: 10, heartbeatTimeoutMs: 10 });
    await c.connect();
    const s = f.sockets[0]!;
    await expect.poll(() => s.lastText("ping"), { timeout: 2000 }).toBeDefined();
    await expect.poll(() => f.sockets.length, { timeout: 2000 }).toBeGreaterThan(1);
    await c.ready();
  });

  it("skips the heartbeat quietly while the socket is closing (no uncaught error from the timer)", async () => {
    const f = fakeFactory();
    const c = makeClient(f.create, { heartbeatMs: 5, heartbeatTimeoutMs: 1000 });
    await c.connect();
    const s = f.sockets[0]!;
    s.readyState = 2; // CLOSING: the close event has not arrived yet
    await new Promise((r) => setTimeout(r, 30)); // several heartbeat periods
    expect(s.lastText("ping")).toBeUndefined();
    expect(c.state).toBe("ready");
  });
});

describe("uploads matched by id", () => {
  /** The fake daemon: every blob is missing; last chunks are collected for the test to answer. */
  async function uploadingClient(extra: Partial<ConstructorParameters<typeof LayerbridgeClient>[0]> = {}) {
    const f = fakeFactory();
    const c = makeClient(f.create, extra);
    await c.connect();
    const s = f.sockets[0]!;
    const lastChunks: Record<string, unknown>[] = [];
    s.onSend = (fr) => {
      if (fr.text?.["type"] === "blob.has") s.deliver({ type: "blob.missing", reply_to: fr.text["id"], sha256: fr.text["sha256"] });
      if (fr.header && (fr.header["offset"] as number) + fr.payload!.length === fr.header["total"]) lastChunks.push(fr.header);
    };
    const errors: DaemonError[] = [];
    c.on("error", (e) => errors.push(e));
    return { c, s, lastChunks, errors };
  }

  it("gives each blob its own id and settles each upload by the reply_to it is answered with", async () => {
    const { c, s, lastChunks, errors } = await uploadingClient();
    const a = new Uint8Array(40).fill(1);
    const b = new Uint8Array(40).fill(2);
    const first = c.upload([{ bytes: a, format: "png" }]);
    const second = c.upload([{ bytes: b, format: "png" }]);
    second.catch(() => undefined);
    await expect.poll(() => lastChunks.length).toBe(2);
    const [putA, putB] = [lastChunks.find((h) => h["sha256"] === sha256HexSync(a))!, lastChunks.find((h) => h["sha256"] === sha256HexSync(b))!];
    expect(putA["id"]).not.toBe(putB["id"]);
    const chunkIds = s.sent.filter((fr) => fr.header?.["sha256"] === putA["sha256"]).map((fr) => fr.header!["id"]);
    expect(chunkIds.length).toBe(3); // 40 bytes in 16-byte chunks, all with the same id
    expect(new Set(chunkIds)).toEqual(new Set([putA["id"]]));
    // answered out of order: the error names the second upload, blob.stored the first
    s.deliver({ type: "error", reply_to: putB["id"], code: "invalid_input", message: "sha256: bytes hash to 00", field: "sha256" });
    await expect(second).rejects.toMatchObject({ code: "invalid_input", field: "sha256" });
    let firstDone = false;
    void first.then(() => (firstDone = true));
    await tick();
    expect(firstDone).toBe(false); // an error about another upload does not touch this one
    s.deliver({ type: "blob.stored", reply_to: putA["id"], sha256: putA["sha256"], size: 40 });
    expect(await first).toEqual([sha256HexSync(a)]);
    expect(errors).toEqual([]);
  });

  it("falls back to the hash for a blob.stored without reply_to", async () => {
    const { c, lastChunks, s } = await uploadingClient();
    const bytes = new Uint8Array([1, 2, 3]);
    const upload = c.upload([{ bytes, format: "png" }]);
    await expect.poll(() => lastChunks.length).toBe(1);
    s.deliver({ type: "blob.stored", sha256: sha256HexSync(bytes), size: 3 });
    expect(await upload).toEqual([sha256HexSync(bytes)]);
  });

  it("leaves an error that names no upload to the client's error event (no guessing)", async () => {
    const { c, s, lastChunks, errors } = await uploadingClient({ requestTimeoutMs: 300 });
    const bytes = new Uint8Array([4, 5, 6]);
    const upload = c.upload([{ bytes, format: "png" }]);
    await expect.poll(() => lastChunks.length).toBe(1);
    s.deliver({ type: "error", code: "internal", message: "something else broke" });
    expect(errors.map((e) => e.code)).toEqual(["internal"]);
    s.deliver({ type: "blob.stored", reply_to: lastChunks[0]!["id"], sha256: sha256HexSync(bytes), size: 3 });
    expect(await upload).toEqual([sha256HexSync(bytes)]);
  });

  it("stops sending once the daemon refuses an upload, and drops later errors about it", async () => {
    const { c, s, errors } = await uploadingClient({ highWaterBytes: 0 });
    const bytes = new Uint8Array(64).fill(7); // 4 chunks of 16
    const send = s.send.bind(s);
    s.send = (data) => {
      send(data);
      if (typeof data === "string") return;
      s.bufferedAmount = 16; // the chunk is "on the wire" for a moment: the uploader waits
      const header = s.sent.at(-1)!.header!;
      setTimeout(() => {
        s.bufferedAmount = 0;
        // the daemon refuses the first chunk, and (as it would) every chunk after it
        s.deliver({ type: "error", reply_to: header["id"], code: "too_large", message: "blob would exceed pending uploads", field: "total" });
      }, 1);
    };
    await expect(c.upload([{ bytes, format: "png" }])).rejects.toMatchObject({ code: "too_large", field: "total" });
    await new Promise((r) => setTimeout(r, 20));
    expect(s.sent.filter((fr) => fr.header)).toHaveLength(1);
    s.deliver({ type: "error", reply_to: s.sent.find((fr) => fr.header)!.header!["id"], code: "invalid_input", message: "first chunk must start at 0", field: "offset" });
    expect(errors).toEqual([]);
  });
});

describe("uploads paced by the daemon's acknowledgements", () => {
  /**
   * A socket as UXP's may be: its bufferedAmount never changes, and it closes itself once more
   * than `closesAbove` bytes are sent that the daemon has not yet taken in. The daemon behind it
   * (blob.ack) stores each chunk a moment after it arrives and acknowledges it (blob.received;
   * the last one with blob.stored), unless `silent`.
   */
  function uxpLike(opts: { bufferedAmount: number; closesAbove: number; silent?: boolean }) {
    const sockets: FakeSocket[] = [];
    const seen = { sentBytes: 0, ackedBytes: 0, maxUnacked: 0, closed: 0 };
    const create = (url: string) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      s.bufferedAmount = opts.bufferedAmount;
      s.onSend = (fr) => {
        if (fr.text?.["type"] === "hello") s.deliver({ ...WELCOME, capabilities: [...WELCOME.capabilities, "blob.ack"] });
        if (fr.text?.["type"] === "blob.has") s.deliver({ type: "blob.missing", reply_to: fr.text["id"], sha256: fr.text["sha256"] });
      };
      const send = s.send.bind(s);
      s.send = (data) => {
        if (s.readyState !== 1) throw new Error("send on a closed socket");
        send(data);
        const { header, payload } = s.sent.at(-1)!;
        if (!header || !payload) return;
        seen.sentBytes += payload.length;
        seen.maxUnacked = Math.max(seen.maxUnacked, seen.sentBytes - seen.ackedBytes);
        if (seen.sentBytes - seen.ackedBytes > opts.closesAbove) {
          seen.closed++;
          s.close(1006, "send buffer full");
          return;
        }
        if (opts.silent) return;
        setTimeout(() => {
          if (s.readyState !== 1) return;
          seen.ackedBytes += payload.length;
          const end = (header["offset"] as number) + payload.length;
          const answer = { reply_to: header["id"], sha256: header["sha256"] };
          if (end === header["total"]) s.deliver({ type: "blob.stored", ...answer, size: end });
          else if (header["ack"] === true) s.deliver({ type: "blob.received", ...answer, received: end });
        }, 1);
      };
      queueMicrotask(() => s.open());
      return s;
    };
    return { sockets, seen, create };
  }

  const bytes = new Uint8Array(400).map((_, i) => i * 7); // 25 chunks of 16 (WELCOME's max_chunk_bytes)

  it("keeps at most the window unacknowledged while bufferedAmount stays 0, so the socket never overflows", async () => {
    const u = uxpLike({ bufferedAmount: 0, closesAbove: 64 });
    const c = makeClient(u.create, { uploadWindowBytes: 64 });
    await c.connect();
    expect(await c.upload([{ bytes, format: "png" }])).toEqual([sha256HexSync(bytes)]);
    expect(u.seen.closed).toBe(0);
    expect(u.sockets).toHaveLength(1);
    expect(u.seen.maxUnacked).toBeLessThanOrEqual(64);
    const puts = u.sockets[0]!.sent.filter((fr) => fr.header);
    expect(puts).toHaveLength(25);
    expect(puts.every((fr) => fr.header?.["ack"] === true)).toBe(true);
  });

  it("does not wait on a bufferedAmount that never falls", async () => {
    const u = uxpLike({ bufferedAmount: 64 << 20, closesAbove: 64 });
    const c = makeClient(u.create, { uploadWindowBytes: 64 });
    await c.connect();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stuck = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("the upload waited on bufferedAmount")), 2000)));
    const shas = await Promise.race([c.upload([{ bytes, format: "png" }]), stuck]).finally(() => clearTimeout(timer));
    expect(shas).toEqual([sha256HexSync(bytes)]);
    expect(u.seen.closed).toBe(0);
  });

  it("stops at the window while the daemon acknowledges nothing, instead of overflowing the socket", async () => {
    const u = uxpLike({ bufferedAmount: 0, closesAbove: 64, silent: true });
    const c = makeClient(u.create, { uploadWindowBytes: 64 });
    await c.connect();
    const upload = c.upload([{ bytes, format: "png" }]);
    upload.catch(() => undefined);
    const puts = () => u.sockets[0]!.sent.filter((fr) => fr.header).length;
    await expect.poll(puts).toBe(4); // 64 bytes: 4 chunks of 16
    await new Promise((r) => setTimeout(r, 50));
    expect(puts()).toBe(4);
    expect(u.seen.closed).toBe(0);
    c.close();
    await expect(upload).rejects.toBeInstanceOf(ConnectionError);
  });
});

describe("uploads that go wrong", () => {

  it("does not hang when the daemon never confirms a stored blob", async () => {
    const f = fakeFactory();
    const c = makeClient(f.create, { requestTimeoutMs: 50 });
    await c.connect();
    const s = f.sockets[0]!;
    s.onSend = (fr) => {
      if (fr.text?.["type"] === "blob.has") s.deliver({ type: "blob.missing", reply_to: fr.text["id"], sha256: fr.text["sha256"] });
    };
    await expect(c.upload([{ bytes: new Uint8Array([1, 2, 3]), format: "png" }])).rejects.toBeInstanceOf(ConnectionError);
  });
});

describe("results over a dropped connection", () => {
  it("keeps a job whose result download was cut by a drop, and places it after the reconnect", async () => {
    const f = fakeFactory();
    const c = makeClient(f.create);
    await c.connect();
    const first = f.sockets[0]!;
    first.onSend = (fr) => {
      const t = fr.text;
      if (t?.["type"] === "job.submit") first.deliver({ type: "job.accepted", reply_to: t["id"], job_id: t["job_id"], position: 0, seed: 7 });
    };
    const job = c.submit({ kind: "generate", model: "demo" }, { jobId: "cut-1" });
    await new Promise((r) => job.once("accepted", r));
    // a result whose bytes this client does not have yet: it asks for them (blob.get) ...
    first.deliver(result("cut-1"));
    await expect.poll(() => first.lastText("blob.get")).toBeDefined();
    // ... and the connection drops before they arrive
    first.close(1006, "gone");
    await c.ready();
    const second = f.sockets[1]!;
    await expect.poll(() => second.lastText("job.fetch")).toBeDefined();
    expect(job.phase).not.toBe("failed");
    const fetch = second.lastText("job.fetch")!;
    second.deliver({
      type: "job.state",
      reply_to: fetch["id"],
      job: { job_id: "cut-1", state: "done", kind: "generate", model: "demo", prompt: "", created_at: 1, finished_at: 2, results: [result("cut-1").result] },
    });
    second.deliverBinary({ type: "blob.data", sha256: RESULT_SHA, offset: 0, total: PNG.length, format: "png" }, PNG);
    second.deliver(result("cut-1"));
    second.deliver({ type: "job.done", job_id: "cut-1", results: 1, seconds: 1 });
    const outcome = await job.finished;
    expect(outcome.results.map((r) => r.bytes)).toEqual([PNG]);
  });
});

describe("results of a job fetched after a reconnect", () => {
  const PNG2 = new Uint8Array([137, 80, 78, 71, 9, 9, 9]);
  const SHA2 = sha256HexSync(PNG2);
  const second = (jobId: string) => {
    const r = result(jobId, 1);
    return { ...r, result: { ...r.result, blob: SHA2, seed: 8 } };
  };

  /** A job accepted on a first connection that drops; resolves with the second socket once the
   * client has sent job.fetch on it. */
  async function refetched(jobId: string): Promise<{ c: LayerbridgeClient; job: ReturnType<LayerbridgeClient["submit"]>; s: FakeSocket; fetchId: unknown }> {
    const f = fakeFactory();
    const c = makeClient(f.create);
    await c.connect();
    const first = f.sockets[0]!;
    first.onSend = (fr) => {
      const t = fr.text;
      if (t?.["type"] === "job.submit") first.deliver({ type: "job.accepted", reply_to: t["id"], job_id: t["job_id"], position: 0, seed: 7 });
    };
    const job = c.submit({ kind: "generate", model: "demo", batch: 2 }, { jobId });
    await new Promise((r) => job.once("accepted", r));
    first.close(1006, "gone");
    await c.ready();
    const s = f.sockets[1]!;
    await expect.poll(() => s.lastText("job.fetch")).toBeDefined();
    return { c, job, s, fetchId: s.lastText("job.fetch")!["id"] };
  }

  const state = (jobId: string, fetchId: unknown) => ({
    type: "job.state",
    reply_to: fetchId,
    job: { job_id: jobId, state: "done", kind: "generate", model: "demo", prompt: "", created_at: 1, finished_at: 2, results: [result(jobId).result, second(jobId).result] },
  });

  it("fetches a listed result the daemon did not re-send as soon as the final event comes, not after a timer", async () => {
    const { job, s, fetchId } = await refetched("miss-1");
    s.onSend = (fr) => {
      if (fr.text?.["type"] === "blob.get" && fr.text["sha256"] === SHA2) {
        s.deliverBinary({ type: "blob.data", sha256: SHA2, offset: 0, total: PNG2.length, format: "png", reply_to: fr.text["id"] }, PNG2);
        s.deliver({ type: "blob.sent", reply_to: fr.text["id"], sha256: SHA2, size: PNG2.length });
      }
    };
    s.deliver(state("miss-1", fetchId));
    await tick();
    s.deliverBinary({ type: "blob.data", sha256: RESULT_SHA, offset: 0, total: PNG.length, format: "png" }, PNG);
    s.deliver(result("miss-1"));
    // result 1 is never re-sent; the final event says nothing more comes for this job
    s.deliver({ type: "job.done", job_id: "miss-1", results: 2, seconds: 1 });
    await expect.poll(() => s.lastText("blob.get"), { timeout: 300, interval: 5 }).toMatchObject({ sha256: SHA2 });
    const outcome = await job.finished;
    expect(outcome.results.map((r) => r.bytes)).toEqual([PNG, PNG2]);
  });

  it("recovers a missing result when the final event is handled before the fetch reply's continuation", async () => {
    const { job, s, fetchId } = await refetched("miss-2");
    s.onSend = (fr) => {
      if (fr.text?.["type"] === "blob.get") {
        s.deliverBinary({ type: "blob.data", sha256: SHA2, offset: 0, total: PNG2.length, format: "png", reply_to: fr.text["id"] }, PNG2);
        s.deliver({ type: "blob.sent", reply_to: fr.text["id"], sha256: SHA2, size: PNG2.length });
      }
    };
    // all in one go, as a socket that parses several messages from one read delivers them
    s.deliver(state("miss-2", fetchId));
    s.deliverBinary({ type: "blob.data", sha256: RESULT_SHA, offset: 0, total: PNG.length, format: "png" }, PNG);
    s.deliver(result("miss-2"));
    s.deliver({ type: "job.done", job_id: "miss-2", results: 2, seconds: 1 });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("result 1 still missing after 300 ms")), 300)));
    const outcome = await Promise.race([job.finished, late]).finally(() => clearTimeout(timer));
    expect(outcome.results.map((r) => r.bytes)).toEqual([PNG, PNG2]);
    expect(s.sent.filter((fr) => fr.text?.["type"] === "blob.get").map((fr) => fr.text?.["sha256"])).toEqual([SHA2]);
  });

  it("asks for nothing when every result was re-sent", async () => {
    const { job, s, fetchId } = await refetched("all-1");
    s.deliver(state("all-1", fetchId));
    s.deliverBinary({ type: "blob.data", sha256: RESULT_SHA, offset: 0, total: PNG.length, format: "png" }, PNG);
    s.deliver(result("all-1"));
    s.deliverBinary({ type: "blob.data", sha256: SHA2, offset: 0, total: PNG2.length, format: "png" }, PNG2);
    s.deliver(second("all-1"));
    s.deliver({ type: "job.done", job_id: "all-1", results: 2, seconds: 1 });
    const outcome = await job.finished;
    expect(outcome.results).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 20));
    expect(s.sent.some((fr) => fr.text?.["type"] === "blob.get")).toBe(false);
  });
});

describe("slow uploads", () => {
  it("lets an upload that keeps moving take longer than the request timeout", async () => {
    const f = fakeFactory();
    const c = makeClient(f.create, { requestTimeoutMs: 50, highWaterBytes: 0 });
    await c.connect();
    const s = f.sockets[0]!;
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      s.onSend = (fr) => {
        if (fr.text?.["type"] === "blob.has") s.deliver({ type: "blob.missing", reply_to: fr.text["id"], sha256: fr.text["sha256"] });
      };
      const send = s.send.bind(s);
      s.send = (data) => {
        send(data);
        const header = s.sent.at(-1)!.header;
        if (!header) return;
        // a slow link: each 16-byte chunk takes 30 ms to leave the send buffer
        s.bufferedAmount = 16;
        setTimeout(() => {
          s.bufferedAmount = 0;
          if ((header["offset"] as number) + 16 >= (header["total"] as number)) {
            s.deliver({ type: "blob.stored", reply_to: header["id"], sha256: header["sha256"], size: header["total"] });
          }
        }, 30);
      };
      const bytes = new Uint8Array(128).fill(3); // 8 chunks: 240 ms on this link
      let outcome: unknown;
      const upload = c.upload([{ bytes, format: "png" }]).then(
        (v) => (outcome = v),
        (e: unknown) => (outcome = e),
      );
      await expect.poll(() => s.sent.some((fr) => fr.header)).toBe(true); // hashed, blob.has answered
      for (let i = 0; i < 400 && outcome === undefined; i++) await vi.advanceTimersByTimeAsync(5);
      await upload;
      expect(outcome).toEqual([sha256HexSync(bytes)]);
      expect(s.sent.filter((fr) => fr.header)).toHaveLength(8); // sent once, never restarted
    } finally {
      vi.useRealTimers();
    }
  });
});

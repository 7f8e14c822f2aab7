// The Layerbridge protocol client: hello/token handshake, reconnect with backoff, heartbeat,
// request/reply by id, content-addressed uploads, jobs that survive a reconnect. Runs wherever a
// WebSocket does (UXP, a browser frame, Node with `ws`): the caller passes the socket factory.
import { Backoff, type BackoffOptions } from "./backoff.js";
import { BlobStore, type ReceivedBlob } from "./blobStore.js";
import { checkTransition, type ConnectionState } from "./connectionState.js";
import { ContentKeys, type ContentHasherFactory } from "./contentKey.js";
import { Emitter } from "./emitter.js";
import { ConnectionError, DaemonError, ProtocolViolation } from "./errors.js";
import { decodeFrame, parseJson } from "./frames.js";
import type { JobHandle, JobPreview } from "./jobHandle.js";
import { withInputs, type JobInputs, type ParamsWithoutInputs } from "./jobInputs.js";
import { JobTracker, newJobId } from "./jobTracker.js";
import { PendingReplies } from "./pendingReplies.js";
import {
  PROTOCOL_VERSION,
  type ClientInfo,
  type ClientMessage,
  type ClientRequest,
  type JobParams,
  type JobSubmit,
  type Limits,
  type ModelInfo,
  type ServerMessage,
  type StatusReply,
  type Welcome,
} from "./protocol.js";
import type { ReplyTo, SimpleRequest } from "./replies.js";
import { SOCKET_OPEN, type WebSocketFactory, type WebSocketLike } from "./socket.js";
import { hashBlobs, uploadBlobs, uploadUnnamed, type BlobSource, type UploadChannel, type UploadProgress } from "./upload.js";
import { parseBinaryHeader, parseServerMessage } from "./validate.js";

export interface LayerbridgeClientOptions {
  /** e.g. ws://127.0.0.1:7842/, or wss://gpu-box.local:7842/ for a LAN-mode daemon (the socket factory verifies its certificate) */
  url: string;
  /** The pairing token (`lb_...`). */
  token: string;
  client: ClientInfo;
  createSocket: WebSocketFactory;
  /** Reconnect after an unexpected close; `false` turns it off. */
  reconnect?: (BackoffOptions & { maxAttempts?: number }) | false;
  /** Ping period in ms (browsers cannot send WebSocket pings); 0 turns it off. Default 15000. */
  heartbeatMs?: number;
  /** A ping with no frame from the daemon after it for this long drops the connection. Default 10000. */
  heartbeatTimeoutMs?: number;
  /** A request without a reply after this long fails. Default 30000. */
  requestTimeoutMs?: number;
  /** Socket open + hello must finish within this. Default 10000. */
  connectTimeoutMs?: number;
  /** Upload chunk size (capped by the daemon's max_chunk_bytes). Default 1 MiB. */
  chunkBytes?: number;
  /** At most this many bytes of an upload sent and not yet acknowledged by the daemon
   * (blob.received). Default 4 MiB. */
  uploadWindowBytes?: number;
  /** With a daemon that does not acknowledge: pause while the socket buffers more than this.
   * Default 4 MiB. */
  highWaterBytes?: number;
  /** The XXH3-128 hasher that keys uploads, so that a daemon with blob.unnamed names them and
   * nothing is hashed with SHA-256 here (hash-wasm's createXXHash128). Default: the one installed
   * with useContentHasher; null: none (each blob is hashed with SHA-256 before it is sent). */
  contentHasher?: ContentHasherFactory | null;
}

export interface ClientEvents {
  state: ConnectionState;
  welcome: Welcome;
  /** Every validated message from the daemon. */
  message: ServerMessage;
  /** The daemon sent something the schema does not allow (it was dropped). */
  violation: ProtocolViolation;
  /** An `error` that answers no request of this client and names no job of it. */
  error: DaemonError;
  disconnect: { code: number; reason: string };
}

export interface SubmitOptions {
  /** Choose it to make a resubmit idempotent; default: a fresh random id. */
  jobId?: string;
  priority?: JobSubmit["priority"];
}

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (err: Error) => void;
}

/** Handshake errors that a retry will not fix. */
const FATAL_CODES = new Set(["unauthorized", "forbidden", "unsupported_protocol", "bad_message", "invalid_input"]);
const MiB = 1024 * 1024;

export class LayerbridgeClient extends Emitter<ClientEvents> {
  private readonly options: LayerbridgeClientOptions;
  private socket: WebSocketLike | undefined;
  private stateValue: ConnectionState = "idle";
  private welcomeValue: Welcome | undefined;
  private readonly pending = new PendingReplies();
  private readonly jobs: JobTracker;
  private readonly blobStore = new BlobStore();
  private readonly blobFetches = new Map<string, Promise<ReceivedBlob>>();
  /** What this client uploaded, by content key (see contentKey.ts). */
  private readonly contentKeys: ContentKeys;
  private readyWaiters: Waiter<Welcome>[] = [];
  /** Why the client is closed, for a ready() that comes after. */
  private closedWith: Error | undefined;
  private readonly backoff: Backoff;
  private userClosed = false;
  private fatal: Error | undefined;
  private lastReceived = 0;
  /** When the oldest ping not yet followed by any frame from the daemon went out. */
  private unansweredPingAt: number | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;

  constructor(options: LayerbridgeClientOptions) {
    super();
    this.options = options;
    this.backoff = new Backoff(options.reconnect === false ? {} : options.reconnect ?? {});
    this.contentKeys = new ContentKeys(options.contentHasher);
    this.jobs = new JobTracker({
      isReady: () => this.stateValue === "ready",
      request: (message) => this.request(message),
      getBlob: (sha) => this.getBlob(sha),
      cachedBlob: (sha) => this.blobStore.get(sha),
    });
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** The daemon's welcome (models, limits, capabilities) once connected. */
  get welcome(): Welcome | undefined {
    return this.welcomeValue;
  }

  get limits(): Limits | undefined {
    return this.welcomeValue?.limits;
  }

  /** Opens the connection; resolves on `welcome`. Retries per `reconnect` until it succeeds;
   * rejects with DaemonError when the daemon refuses the hello (bad token, protocol), or when
   * `close()` is called first. */
  connect(): Promise<Welcome> {
    if (this.stateValue === "idle" || this.stateValue === "closed") {
      this.userClosed = false;
      this.fatal = undefined;
      this.closedWith = undefined;
      this.backoff.reset();
      const ready = new Promise<Welcome>((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
      this.open();
      return ready;
    }
    return this.ready();
  }

  /** Resolves when the connection is (or becomes) ready; rejects at once when the client is
   * closed (by close(), a refused hello, or reconnecting given up) until connect() is called. */
  ready(): Promise<Welcome> {
    if (this.stateValue === "ready" && this.welcomeValue) return Promise.resolve(this.welcomeValue);
    if (this.stateValue === "closed") {
      return Promise.reject(this.fatal ?? this.closedWith ?? new ConnectionError("the client is closed: call connect()"));
    }
    return new Promise<Welcome>((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Closes for good; unfinished jobs reject with ConnectionError (they go on in the daemon). */
  close(): void {
    this.userClosed = true;
    this.closedWith = new ConnectionError("the client was closed");
    const socket = this.socket;
    this.teardown(new ConnectionError("the client was closed"));
    socket?.close(1000, "client closed");
    if (this.stateValue !== "closed") this.setState("closed");
    this.rejectReady(new ConnectionError("the client was closed"));
    this.jobs.abandonAll(new ConnectionError("the client was closed"));
  }

  // ------------------------------------------------------------------ requests

  /** Send a request; resolves with its reply, rejects with DaemonError on an `error` reply. */
  request<R extends SimpleRequest>(message: R, timeoutMs?: number): Promise<ReplyTo<R>> {
    return this.requestRaw(message, timeoutMs) as Promise<ReplyTo<R>>;
  }

  status(): Promise<StatusReply> {
    return this.request({ type: "status" });
  }

  async models(): Promise<ModelInfo[]> {
    return (await this.request({ type: "models.list" })).models;
  }

  /** Upload what the daemon lacks (blob.has first); returns each blob's sha256. With a daemon
   * that names blobs (blob.unnamed) and a content hasher, the names come from the daemon's
   * blob.stored and bytes sent before are only checked with blob.has; otherwise each blob is
   * hashed with SHA-256 first. A dropped connection is waited out and the upload retried (content
   * addressing makes that safe; what was stored before the drop is then only checked). */
  async upload(blobs: readonly BlobSource[], onProgress?: (p: UploadProgress) => void): Promise<string[]> {
    // each computed once, not again on each retry (UXP hashes in plain JS or WebAssembly)
    let keys: (string | undefined)[] | null | undefined;
    let hashed: BlobSource[] | undefined;
    for (let attempt = 0; ; attempt++) {
      const welcome = await this.ready();
      try {
        if (welcome.capabilities.includes("blob.unnamed")) {
          keys ??= (await this.contentKeys.keysFor(blobs)) ?? null;
          if (keys) return await uploadUnnamed(this.uploadChannel(), blobs, keys, this.contentKeys, onProgress);
        }
        if (!hashed) {
          const hashes = await hashBlobs(blobs);
          hashed = blobs.map((b, i): BlobSource => ({ ...b, sha256: hashes[i] }));
        }
        return await uploadBlobs(this.uploadChannel(), hashed, onProgress);
      } catch (err) {
        if (!(err instanceof ConnectionError) || attempt >= 2 || this.userClosed) throw err;
        await this.closeHandled();
      }
    }
  }

  /** Resolves once a socket that stopped being open has had its close handled (the state leaves
   * "ready"): a send that failed on a closing socket is retried on the next connection, not at
   * once on the same one (its close event may come a moment after sends start failing). */
  private closeHandled(): Promise<void> {
    if (this.stateValue !== "ready" || this.socket?.readyState === SOCKET_OPEN) return Promise.resolve();
    return new Promise((resolve) => this.once("state", () => resolve()));
  }

  private uploadChannel(): UploadChannel {
    return {
      blobHas: (sha256) => this.request({ type: "blob.has", sha256 }),
      sendBinary: (frame) => this.sendRaw(frame),
      bufferedAmount: () => this.socket?.bufferedAmount ?? 0,
      uploadId: () => this.pending.allocId(),
      waitStored: async (id, sha, onReceived) =>
        (await this.pending.expectStored(id, sha, this.options.requestTimeoutMs ?? 30_000, onReceived)).sha256,
      chunkSent: (id) => this.pending.stillMoving(id),
      chunkBytes: Math.min(this.options.chunkBytes ?? MiB, this.limits?.max_chunk_bytes ?? MiB),
      acknowledges: this.welcomeValue?.capabilities.includes("blob.ack") ?? false,
      windowBytes: this.options.uploadWindowBytes ?? 4 * MiB,
      highWaterBytes: this.options.highWaterBytes ?? 4 * MiB,
    };
  }

  /** The bytes of a blob (a result, or anything uploaded). */
  getBlob(sha256: string): Promise<ReceivedBlob> {
    const have = this.blobStore.get(sha256);
    if (have) return Promise.resolve(have);
    let fetching = this.blobFetches.get(sha256);
    if (!fetching) {
      const waiting = this.blobStore.wait(sha256);
      // blob.data frames, then blob.sent (the final reply) or an error such as unknown_blob
      waiting.promise.catch(() => undefined); // its failure reaches the caller through `fetching`
      fetching = this.requestRaw({ type: "blob.get", sha256 }).then(() => waiting.promise);
      fetching.catch((err: unknown) => waiting.cancel(err instanceof Error ? err : new Error(String(err))));
      const done = fetching.finally(() => this.blobFetches.delete(sha256));
      done.catch(() => undefined);
      this.blobFetches.set(sha256, fetching);
    }
    return fetching;
  }

  // ------------------------------------------------------------------ jobs

  /** Submit a job; the handle reports progress and results and settles when the job ends. */
  submit(params: JobParams, options: SubmitOptions = {}): JobHandle {
    return this.jobs.submit(params, options.jobId ?? newJobId(), options.priority);
  }

  /** Upload a job's input images by name and submit it: `{image, mask, control}` fill the
   * fields of the same names (no list of hashes to match by position). Resolves with the job's
   * handle once it is submitted; rejects when an upload fails (nothing is submitted then). */
  async submitWithInputs(
    params: ParamsWithoutInputs,
    inputs: JobInputs,
    options: SubmitOptions & { onUpload?: (p: UploadProgress) => void } = {},
  ): Promise<JobHandle> {
    const full = await withInputs(params, inputs, (blobs) => this.upload(blobs, options.onUpload));
    return this.submit(full, options);
  }

  /** Follow a job submitted earlier (e.g. by a previous session of the panel): job.fetch. */
  follow(jobId: string, params: JobParams): JobHandle {
    return this.jobs.follow(jobId, params);
  }

  // ------------------------------------------------------------------ socket

  private setState(next: ConnectionState): void {
    checkTransition(this.stateValue, next);
    this.stateValue = next;
    this.emit("state", next);
  }

  private open(): void {
    this.setState("connecting");
    let socket: WebSocketLike;
    try {
      socket = this.options.createSocket(this.options.url);
    } catch (err) {
      this.onSocketClosed(undefined, 1006, err instanceof Error ? err.message : String(err));
      return;
    }
    this.socket = socket;
    socket.binaryType = "arraybuffer";
    socket.onopen = () => this.onSocketOpen(socket);
    socket.onmessage = (event) => this.onSocketMessage(socket, event.data);
    socket.onclose = (event) => this.onSocketClosed(socket, event.code, event.reason);
    socket.onerror = () => undefined; // a close follows; its code says more
    this.connectTimer = setTimeout(() => this.drop(socket, "connection timed out"), this.options.connectTimeoutMs ?? 10_000);
  }

  private onSocketOpen(socket: WebSocketLike): void {
    if (socket !== this.socket) return;
    this.setState("handshaking");
    this.lastReceived = Date.now();
    const hello: ClientMessage = {
      type: "hello",
      id: "hello",
      protocols: [PROTOCOL_VERSION],
      client: this.options.client,
      token: this.options.token,
    };
    socket.send(JSON.stringify(hello));
  }

  private onSocketMessage(socket: WebSocketLike, data: unknown): void {
    if (socket !== this.socket) return;
    this.lastReceived = Date.now();
    let raw: unknown;
    try {
      if (typeof data === "string") {
        raw = parseJson(data);
        this.dispatch(parseServerMessage(raw));
        return;
      }
      const bytes = toBytes(data);
      const frame = decodeFrame(bytes);
      raw = frame.header;
      const header = parseBinaryHeader(frame.header);
      if (header.type === "blob.data") {
        this.blobStore.feed(header, frame.payload);
        this.emit("message", header);
      } else {
        const preview: JobPreview | undefined = header.preview
          ? { format: header.preview, width: header.preview_width ?? undefined, height: header.preview_height ?? undefined, bytes: frame.payload.slice() }
          : undefined;
        this.dispatch(header, preview);
      }
    } catch (err) {
      if (err instanceof ProtocolViolation) this.onViolation(err, raw);
      else throw err;
    }
  }

  private onViolation(err: ProtocolViolation, raw: unknown): void {
    this.emit("violation", err);
    const replyTo = isRecord(raw) && typeof raw["reply_to"] === "string" ? raw["reply_to"] : undefined;
    if (this.stateValue === "handshaking") {
      this.fail(err);
      return;
    }
    if (replyTo !== undefined) this.pending.settle(replyTo, undefined, err);
  }

  private dispatch(msg: ServerMessage, preview?: JobPreview): void {
    this.emit("message", msg);
    switch (msg.type) {
      case "welcome":
        this.onWelcome(msg);
        return;
      case "error": {
        const err = new DaemonError(msg.code, msg.message, msg.field, msg.job_id);
        if (this.stateValue === "handshaking") {
          if (FATAL_CODES.has(msg.code)) this.fail(err);
          else this.drop(this.socket, msg.message);
          return;
        }
        if (msg.reply_to != null) {
          if (this.pending.settle(msg.reply_to, undefined, err)) return;
          // a later chunk of an upload the daemon already refused: that upload has failed once
          if (this.pending.isFinishedUpload(msg.reply_to)) return;
        }
        const job = msg.job_id != null ? this.jobs.get(msg.job_id) : undefined;
        if (job) job.onFailed(msg.code, msg.message, msg.field);
        else this.emit("error", err);
        return;
      }
      case "blob.received":
        this.pending.received(msg); // paces the upload it names
        return;
      case "blob.stored":
        // answers the upload whose blob.put frames carried reply_to; without one, match the hash
        if (msg.reply_to == null) {
          this.pending.storedWithoutId(msg);
          return;
        }
        break;
      case "job.started":
      case "job.progress":
      case "job.result":
      case "job.done":
      case "job.failed":
      case "job.cancelled":
        this.jobs.onEvent(msg, preview);
        return;
      default:
        break;
    }
    if ("reply_to" in msg && msg.reply_to != null) this.pending.settle(msg.reply_to, msg);
  }

  private onWelcome(msg: Welcome): void {
    if (this.stateValue !== "handshaking") return;
    clearTimeout(this.connectTimer);
    this.welcomeValue = msg;
    this.backoff.reset();
    this.setState("ready");
    this.startHeartbeat();
    this.emit("welcome", msg);
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w.resolve(msg);
    this.jobs.resume();
  }

  private startHeartbeat(): void {
    const period = this.options.heartbeatMs ?? 15_000;
    if (period <= 0) return;
    const timeout = this.options.heartbeatTimeoutMs ?? 10_000;
    this.unansweredPingAt = undefined;
    this.heartbeatTimer = setInterval(() => {
      const now = Date.now();
      if (this.unansweredPingAt !== undefined && this.lastReceived >= this.unansweredPingAt) this.unansweredPingAt = undefined;
      // Dropped only once a ping has gone unanswered for the timeout: a timer that wakes late
      // (a sleeping laptop, a busy host) first asks the daemon instead of dropping a live link.
      if (this.unansweredPingAt !== undefined && now - this.unansweredPingAt > timeout) {
        this.drop(this.socket, "no reply to heartbeat");
        return;
      }
      try {
        this.sendJson({ type: "ping", id: this.pending.allocId() });
        this.unansweredPingAt ??= now;
      } catch {
        // the socket is closing and its close event is on the way: nothing to ping
      }
    }, period);
  }

  /** Give up on this socket now (a dead peer may take minutes to report the close). */
  private drop(socket: WebSocketLike | undefined, reason: string): void {
    if (!socket || socket !== this.socket) return;
    try {
      socket.close(4000, reason.slice(0, 100));
    } catch {
      // already closing
    }
    this.onSocketClosed(socket, 4000, reason);
  }

  /** A fatal handshake failure: no reconnect; connect() rejects with it. */
  private fail(err: Error): void {
    this.fatal = err;
    const socket = this.socket;
    this.teardown(err instanceof ConnectionError ? err : new ConnectionError(err.message));
    socket?.close(1000, "handshake refused");
    this.setState("closed");
    this.rejectReady(err);
    this.jobs.abandonAll(err);
  }

  private onSocketClosed(socket: WebSocketLike | undefined, code: number, reason: string): void {
    if (socket !== undefined && socket !== this.socket) return;
    const wasReady = this.stateValue === "ready";
    this.teardown(new ConnectionError(`connection closed (${code}${reason ? `: ${reason}` : ""})`, code));
    this.emit("disconnect", { code, reason });
    if (this.userClosed || this.stateValue === "closed") return;
    const policy = this.options.reconnect;
    const maxAttempts = policy === false ? 0 : policy?.maxAttempts ?? Infinity;
    if (this.backoff.attempts >= maxAttempts) {
      const err = new ConnectionError(
        wasReady ? `connection lost (${code})` : `cannot reach the daemon at ${this.options.url} (${code})`,
        code,
      );
      this.closedWith = err;
      this.setState("closed");
      this.rejectReady(err);
      this.jobs.abandonAll(err);
      return;
    }
    this.setState("reconnecting");
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.userClosed && this.stateValue === "reconnecting") this.open();
    }, this.backoff.next());
  }

  /** Forget the socket: timers, pending requests, half-received blobs. */
  private teardown(err: ConnectionError): void {
    const socket = this.socket;
    this.socket = undefined;
    if (socket) {
      socket.onopen = null;
      socket.onmessage = null;
      socket.onclose = null;
      socket.onerror = null;
    }
    clearTimeout(this.connectTimer);
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
    this.blobStore.dropPartial();
    this.pending.failAll(err);
  }

  private rejectReady(err: Error): void {
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w.reject(err);
  }

  private sendJson(message: ClientMessage): void {
    this.sendRaw(JSON.stringify(message));
  }

  private sendRaw(data: string | ArrayBuffer): void {
    const socket = this.socket;
    if (!socket || socket.readyState !== SOCKET_OPEN || this.stateValue !== "ready") {
      throw new ConnectionError("not connected to the daemon");
    }
    socket.send(data);
  }

  private requestRaw(message: ClientRequest, timeoutMs?: number): Promise<ServerMessage> {
    const id = this.pending.allocId();
    const reply = this.pending.expect(id, message.type, timeoutMs ?? this.options.requestTimeoutMs ?? 30_000);
    try {
      this.sendJson({ ...message, id } as ClientMessage);
    } catch (err) {
      this.pending.settle(id, undefined, err instanceof Error ? err : new Error(String(err)));
      return reply;
    }
    return reply;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new ProtocolViolation("a frame from the daemon is neither text nor binary");
}

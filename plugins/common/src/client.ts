// The Layerbridge protocol client: hello/token handshake, reconnect with backoff, heartbeat,
// request/reply by id, content-addressed uploads, jobs that survive a reconnect. Runs wherever a
// WebSocket does (UXP, a browser frame, Node with `ws`): the caller passes the socket factory.
import { Backoff, type BackoffOptions } from "./backoff.js";
import { BlobStore, type ReceivedBlob } from "./blobStore.js";
import { checkTransition, type ConnectionState } from "./connectionState.js";
import { Emitter } from "./emitter.js";
import { ConnectionError, DaemonError, ProtocolViolation } from "./errors.js";
import { decodeFrame, parseJson } from "./frames.js";
import { JobHandle, type JobPreview } from "./jobHandle.js";
import {
  PROTOCOL_VERSION,
  type ClientInfo,
  type ClientMessage,
  type ClientRequest,
  type JobParams,
  type JobSubmit,
  type Limits,
  type ModelInfo,
  type ResultInfo,
  type ServerMessage,
  type StatusReply,
  type Welcome,
} from "./protocol.js";
import type { ReplyTo, SimpleRequest } from "./replies.js";
import { SOCKET_OPEN, type WebSocketFactory, type WebSocketLike } from "./socket.js";
import { uploadBlobs, type BlobSource, type UploadProgress } from "./upload.js";
import { parseBinaryHeader, parseServerMessage } from "./validate.js";

export interface LayerbridgeClientOptions {
  /** e.g. ws://127.0.0.1:7842/ */
  url: string;
  /** The pairing token (`lb_...`). */
  token: string;
  client: ClientInfo;
  createSocket: WebSocketFactory;
  /** Reconnect after an unexpected close; `false` turns it off. */
  reconnect?: (BackoffOptions & { maxAttempts?: number }) | false;
  /** Ping period in ms (browsers cannot send WebSocket pings); 0 turns it off. Default 15000. */
  heartbeatMs?: number;
  /** Silence beyond heartbeatMs + this drops the connection. Default 10000. */
  heartbeatTimeoutMs?: number;
  /** A request without a reply after this long fails. Default 30000. */
  requestTimeoutMs?: number;
  /** Socket open + hello must finish within this. Default 10000. */
  connectTimeoutMs?: number;
  /** Upload chunk size (capped by the daemon's max_chunk_bytes). Default 1 MiB. */
  chunkBytes?: number;
  /** Pause sending while the socket buffers more than this. Default 4 MiB. */
  highWaterBytes?: number;
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

interface Pending {
  resolve: (msg: ServerMessage) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (err: Error) => void;
}

/** Handshake errors that a retry will not fix. */
const FATAL_CODES = new Set(["unauthorized", "forbidden", "unsupported_protocol", "bad_message", "invalid_input"]);
const MiB = 1024 * 1024;

export function newJobId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  const rand = c?.randomUUID ? c.randomUUID().replace(/-/g, "") : Math.random().toString(36).slice(2) + Date.now().toString(36);
  return `lb-${rand.slice(0, 24)}`;
}

export class LayerbridgeClient extends Emitter<ClientEvents> {
  private readonly options: LayerbridgeClientOptions;
  private socket: WebSocketLike | undefined;
  private stateValue: ConnectionState = "idle";
  private welcomeValue: Welcome | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly jobs = new Map<string, JobHandle>();
  private readonly submitting = new Set<string>();
  private readonly blobStore = new BlobStore();
  private readonly blobFetches = new Map<string, Promise<ReceivedBlob>>();
  private readonly storedWaiters = new Map<string, Waiter<void>[]>();
  private readyWaiters: Waiter<Welcome>[] = [];
  private readonly backoff: Backoff;
  private nextId = 1;
  private userClosed = false;
  private fatal: Error | undefined;
  private lastReceived = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private connectTimer: ReturnType<typeof setTimeout> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;

  constructor(options: LayerbridgeClientOptions) {
    super();
    this.options = options;
    this.backoff = new Backoff(options.reconnect === false ? {} : options.reconnect ?? {});
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
    const ready = this.ready();
    if (this.stateValue === "idle" || this.stateValue === "closed") {
      this.userClosed = false;
      this.fatal = undefined;
      this.backoff.reset();
      this.open();
    }
    return ready;
  }

  /** Resolves when the connection is (or becomes) ready. */
  ready(): Promise<Welcome> {
    if (this.stateValue === "ready" && this.welcomeValue) return Promise.resolve(this.welcomeValue);
    if (this.stateValue === "closed" && this.fatal) return Promise.reject(this.fatal);
    return new Promise<Welcome>((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /** Closes for good; unfinished jobs reject with ConnectionError (they go on in the daemon). */
  close(): void {
    this.userClosed = true;
    const socket = this.socket;
    this.teardown(new ConnectionError("the client was closed"));
    socket?.close(1000, "client closed");
    if (this.stateValue !== "closed") this.setState("closed");
    this.rejectReady(new ConnectionError("the client was closed"));
    for (const job of this.jobs.values()) job.abandon(new ConnectionError("the client was closed"));
    this.jobs.clear();
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

  /** Upload what the daemon lacks (blob.has first); returns each blob's sha256. A dropped
   * connection is waited out and the upload retried (content addressing makes that safe). */
  async upload(blobs: readonly BlobSource[], onProgress?: (p: UploadProgress) => void): Promise<string[]> {
    for (let attempt = 0; ; attempt++) {
      await this.ready();
      try {
        return await uploadBlobs(
          {
            blobHas: (sha256) => this.request({ type: "blob.has", sha256 }),
            sendBinary: (frame) => this.sendRaw(frame),
            bufferedAmount: () => this.socket?.bufferedAmount ?? 0,
            waitStored: (sha) => this.waitStored(sha),
            chunkBytes: Math.min(this.options.chunkBytes ?? MiB, this.limits?.max_chunk_bytes ?? MiB),
            highWaterBytes: this.options.highWaterBytes ?? 4 * MiB,
          },
          blobs,
          onProgress,
        );
      } catch (err) {
        if (!(err instanceof ConnectionError) || attempt >= 2 || this.userClosed) throw err;
      }
    }
  }

  /** The bytes of a blob (a result, or anything uploaded). */
  getBlob(sha256: string): Promise<ReceivedBlob> {
    const have = this.blobStore.get(sha256);
    if (have) return Promise.resolve(have);
    let fetching = this.blobFetches.get(sha256);
    if (!fetching) {
      const waiting = this.blobStore.wait(sha256);
      fetching = this.requestRaw({ type: "blob.get", sha256 }, undefined, waiting.promise).then(() => waiting.promise);
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
    const jobId = options.jobId ?? newJobId();
    const existing = this.jobs.get(jobId);
    if (existing) return existing;
    const handle = new JobHandle(jobId, params, (h) => this.cancelJob(h));
    this.jobs.set(jobId, handle);
    void handle.finished.then(
      () => this.jobs.delete(jobId),
      () => this.jobs.delete(jobId),
    );
    if (this.stateValue === "ready") void this.sendSubmit(handle, options.priority);
    return handle;
  }

  /** Follow a job submitted earlier (e.g. by a previous session of the panel): job.fetch. */
  follow(jobId: string, params: JobParams): JobHandle {
    const existing = this.jobs.get(jobId);
    if (existing) return existing;
    const handle = new JobHandle(jobId, params, (h) => this.cancelJob(h));
    handle.onAccepted({ type: "job.accepted", job_id: jobId, position: 0, seed: params.seed ?? 0, duplicate: true });
    this.jobs.set(jobId, handle);
    void handle.finished.then(
      () => this.jobs.delete(jobId),
      () => this.jobs.delete(jobId),
    );
    if (this.stateValue === "ready") void this.fetchJob(handle);
    return handle;
  }

  private async sendSubmit(handle: JobHandle, priority?: JobSubmit["priority"]): Promise<void> {
    if (this.submitting.has(handle.jobId) || handle.isFinished) return;
    this.submitting.add(handle.jobId);
    try {
      const message: Omit<JobSubmit, "id"> = { type: "job.submit", job_id: handle.jobId, params: handle.params };
      if (priority) message.priority = priority;
      const accepted = await this.request(message);
      handle.onAccepted(accepted);
      if (accepted.duplicate) await this.fetchJob(handle);
      if (handle.cancelRequested) await this.cancelJob(handle);
    } catch (err) {
      if (err instanceof DaemonError) handle.onFailed(err.code, err.message, err.field);
      else if (!(err instanceof ConnectionError)) handle.abandon(err instanceof Error ? err : new Error(String(err)));
      // ConnectionError: resubmitted with the same job_id after the reconnect
    } finally {
      this.submitting.delete(handle.jobId);
    }
  }

  private async fetchJob(handle: JobHandle): Promise<void> {
    try {
      const state = await this.request({ type: "job.fetch", job_id: handle.jobId });
      handle.onSummary(state.job);
      if (state.job.state === "done") this.recoverResults(handle, state.job.results ?? []);
    } catch (err) {
      if (err instanceof DaemonError) handle.onFailed(err.code, err.message, err.field);
    }
  }

  /** Results are re-sent after job.fetch; fetch any that do not arrive within a moment. */
  private recoverResults(handle: JobHandle, results: readonly ResultInfo[]): void {
    for (const info of results) {
      if (handle.hasResult(info.index)) continue;
      setTimeout(() => {
        if (handle.isFinished || handle.hasResult(info.index) || this.blobStore.isArriving(info.blob)) return;
        this.getBlob(info.blob).then(
          (blob) => handle.onResult({ info, bytes: blob.bytes }),
          (err: unknown) => handle.abandon(err instanceof Error ? err : new Error(String(err))),
        );
      }, 1500);
    }
  }

  private async cancelJob(handle: JobHandle): Promise<void> {
    if (!handle.accepted || this.stateValue !== "ready") return; // sent once accepted / reconnected
    await this.request({ type: "job.cancel", job_id: handle.jobId });
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
    if (replyTo !== undefined) this.settle(replyTo, undefined, err);
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
        if (msg.reply_to != null && this.settle(msg.reply_to, undefined, err)) return;
        // blob.put frames carry no id: an unattributed error while an upload waits is about it
        if (msg.job_id == null && this.rejectOldestUpload(err)) return;
        const job = msg.job_id != null ? this.jobs.get(msg.job_id) : undefined;
        if (job) job.onFailed(msg.code, msg.message, msg.field);
        else this.emit("error", err);
        return;
      }
      case "blob.stored": {
        const waiters = this.storedWaiters.get(msg.sha256);
        this.storedWaiters.delete(msg.sha256);
        for (const w of waiters ?? []) w.resolve();
        break;
      }
      case "job.started":
        this.jobs.get(msg.job_id)?.onStarted();
        return;
      case "job.progress":
        this.jobs.get(msg.job_id)?.onProgress(msg.step, msg.steps, preview);
        return;
      case "job.result":
        this.onJobResult(msg.job_id, msg.result);
        return;
      case "job.done":
        this.jobs.get(msg.job_id)?.onDone(msg.results, msg.seconds);
        return;
      case "job.failed":
        this.jobs.get(msg.job_id)?.onFailed(msg.code, msg.message, msg.field);
        return;
      case "job.cancelled":
        this.jobs.get(msg.job_id)?.onCancelled();
        return;
      default:
        break;
    }
    if ("reply_to" in msg && msg.reply_to != null) this.settle(msg.reply_to, msg);
  }

  private onJobResult(jobId: string, info: ResultInfo): void {
    const job = this.jobs.get(jobId);
    if (!job || job.hasResult(info.index)) return;
    const have = this.blobStore.get(info.blob);
    if (have) {
      job.onResult({ info, bytes: have.bytes });
      return;
    }
    job.track(
      this.getBlob(info.blob).then(
        (blob) => job.onResult({ info, bytes: blob.bytes }),
        (err: unknown) => job.abandon(err instanceof Error ? err : new Error(String(err))),
      ),
    );
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
    this.resumeJobs();
  }

  /** After (re)connecting: submit what was never accepted, fetch what was. */
  private resumeJobs(): void {
    for (const job of this.jobs.values()) {
      if (job.isFinished) continue;
      if (!job.accepted) void this.sendSubmit(job);
      else void this.fetchJob(job).then(() => (job.cancelRequested ? this.cancelJob(job) : undefined));
    }
  }

  private startHeartbeat(): void {
    const period = this.options.heartbeatMs ?? 15_000;
    if (period <= 0) return;
    const timeout = this.options.heartbeatTimeoutMs ?? 10_000;
    this.heartbeatTimer = setInterval(() => {
      if (Date.now() - this.lastReceived > period + timeout) {
        this.drop(this.socket, "no reply to heartbeat");
        return;
      }
      this.sendJson({ type: "ping", id: this.allocId() });
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
    for (const job of this.jobs.values()) job.abandon(err);
    this.jobs.clear();
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
      this.setState("closed");
      this.rejectReady(err);
      for (const job of this.jobs.values()) job.abandon(err);
      this.jobs.clear();
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
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(err);
    }
    for (const waiters of this.storedWaiters.values()) for (const w of waiters) w.reject(err);
    this.storedWaiters.clear();
  }

  private rejectReady(err: Error): void {
    const waiters = this.readyWaiters;
    this.readyWaiters = [];
    for (const w of waiters) w.reject(err);
  }

  private allocId(): string {
    return `r${this.nextId++}`;
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

  private requestRaw(
    message: ClientRequest,
    timeoutMs?: number,
    completion?: Promise<unknown>,
  ): Promise<ServerMessage> {
    return new Promise<ServerMessage>((resolve, reject) => {
      const id = this.allocId();
      const limit = timeoutMs ?? this.options.requestTimeoutMs ?? 30_000;
      const timer =
        limit > 0
          ? setTimeout(() => this.settle(id, undefined, new ConnectionError(`no reply to ${message.type} after ${limit} ms`)), limit)
          : undefined;
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.sendJson({ ...message, id } as ClientMessage);
      } catch (err) {
        this.settle(id, undefined, err instanceof Error ? err : new Error(String(err)));
        return;
      }
      // blob.get is answered by blob.data frames, not a reply: done when the blob is complete
      completion?.then(
        () => this.settle(id, { type: "ok", reply_to: id }),
        () => undefined,
      );
    });
  }

  /** Settle a pending request; false when no request had this id. */
  private settle(id: string, reply: ServerMessage | undefined, err?: Error): boolean {
    const p = this.pending.get(id);
    if (!p) return false;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else if (reply) p.resolve(reply);
    return true;
  }

  /** Resolves on blob.stored; fails after requestTimeoutMs (a daemon that stays silent must not
   * hang the upload: the caller sees a ConnectionError and may retry). */
  private waitStored(sha256: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const limit = this.options.requestTimeoutMs ?? 30_000;
      const timer = setTimeout(() => {
        const list = this.storedWaiters.get(sha256) ?? [];
        const i = list.indexOf(waiter);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) this.storedWaiters.delete(sha256);
        reject(new ConnectionError(`no blob.stored for ${sha256.slice(0, 12)} after ${limit} ms`));
      }, limit);
      const waiter: Waiter<void> = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const list = this.storedWaiters.get(sha256) ?? [];
      list.push(waiter);
      this.storedWaiters.set(sha256, list);
    });
  }

  private rejectOldestUpload(err: Error): boolean {
    const first = this.storedWaiters.entries().next();
    if (first.done) return false;
    const [sha, waiters] = first.value;
    this.storedWaiters.delete(sha);
    for (const w of waiters) w.reject(err);
    return true;
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

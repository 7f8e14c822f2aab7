// Bookkeeping of what the client waits for: replies to requests and to uploads (blob.put frames
// carry an id the daemon echoes as reply_to in blob.received, blob.stored or an error), all by id.
// Each wait has a timeout; a dropped connection fails them all.
import { ConnectionError, ProtocolViolation } from "./errors.js";
import type { BlobReceived, BlobStored, ServerMessage } from "./protocol.js";

interface Pending {
  resolve: (msg: ServerMessage) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
  /** Restarts the timer (see stillMoving). */
  rearm: () => void;
  /** Set for the wait of an upload. */
  upload?: UploadWait;
}

interface UploadWait {
  /** The blob's hash, for a named upload (matches a blob.stored or blob.received without
   * reply_to); undefined for an unnamed one (blob.unnamed: the daemon names it). */
  sha256: string | undefined;
  /** Told of each blob.received. */
  onReceived?: (received: number) => void;
}

/** How many finished upload ids to remember (see isFinishedUpload). */
const FINISHED_UPLOADS_KEPT = 64;

export class PendingReplies {
  private readonly requests = new Map<string, Pending>();
  private readonly finishedUploads = new Set<string>();
  private nextId = 1;

  allocId(): string {
    return `r${this.nextId++}`;
  }

  /** Wait for the reply to request `id`; fails with ConnectionError after `timeoutMs` (0: never). */
  expect(id: string, what: string, timeoutMs: number, upload?: UploadWait): Promise<ServerMessage> {
    return new Promise<ServerMessage>((resolve, reject) => {
      const start = () =>
        timeoutMs > 0 ? setTimeout(() => this.settle(id, undefined, new ConnectionError(`no reply to ${what} after ${timeoutMs} ms`)), timeoutMs) : undefined;
      const pending: Pending = {
        resolve,
        reject,
        timer: start(),
        upload,
        rearm: () => {
          clearTimeout(pending.timer);
          pending.timer = start();
        },
      };
      this.requests.set(id, pending);
    });
  }

  /** The wait for `id` is making progress (an upload handed another chunk to the socket): its
   * timeout counts from now. */
  stillMoving(id: string): void {
    this.requests.get(id)?.rearm();
  }

  /** Settle a request; false when none had this id. */
  settle(id: string, reply: ServerMessage | undefined, err?: Error): boolean {
    const p = this.requests.get(id);
    if (!p) return false;
    this.requests.delete(id);
    clearTimeout(p.timer);
    if (p.upload) this.rememberFinishedUpload(id);
    if (err) p.reject(err);
    else if (reply) p.resolve(reply);
    return true;
  }

  /** Resolves with the blob.stored answering the upload whose blob.put frames carry `id` (its
   * sha256 names the blob; for an unnamed upload, `sha256` undefined, it is the only word of the
   * name), rejects on an error answering it; fails after `timeoutMs` without progress (see
   * stillMoving) or reply (a daemon that stays silent must not hang an upload: the caller sees a
   * ConnectionError and may retry). */
  async expectStored(
    id: string,
    sha256: string | undefined,
    timeoutMs: number,
    onReceived?: (received: number) => void,
  ): Promise<BlobStored> {
    const what = sha256 !== undefined ? `the upload of ${sha256.slice(0, 12)} (blob.put ${id})` : `the unnamed upload blob.put ${id}`;
    const reply = await this.expect(id, what, timeoutMs, { sha256, onReceived });
    if (reply.type !== "blob.stored") throw new ProtocolViolation(`${reply.type} answered ${what}, expected blob.stored`, "type");
    return reply;
  }

  /** A blob.received: the daemon stored part of an upload, so the upload is moving (its timeout
   * counts from now) and may send more. False when no upload waits for it. */
  received(msg: BlobReceived): boolean {
    const match = (id: string, upload: UploadWait) =>
      msg.reply_to != null ? id === msg.reply_to : msg.sha256 != null && upload.sha256 === msg.sha256;
    for (const [id, p] of this.requests) {
      if (!p.upload || !match(id, p.upload)) continue;
      p.rearm();
      p.upload.onReceived?.(msg.received);
      return true;
    }
    return false;
  }

  /** A blob.stored without reply_to: settles every named upload waiting for this hash; false if
   * none. */
  storedWithoutId(msg: BlobStored): boolean {
    let any = false;
    for (const [id, p] of [...this.requests]) {
      if (p.upload?.sha256 === msg.sha256) any = this.settle(id, msg) || any;
    }
    return any;
  }

  /** True for an upload that already ended: a later error naming it (about a chunk that was in
   * flight when the first error came) is no news. */
  isFinishedUpload(id: string): boolean {
    return this.finishedUploads.has(id);
  }

  private rememberFinishedUpload(id: string): void {
    this.finishedUploads.add(id);
    if (this.finishedUploads.size > FINISHED_UPLOADS_KEPT) {
      const oldest = this.finishedUploads.values().next().value;
      if (oldest !== undefined) this.finishedUploads.delete(oldest);
    }
  }

  failAll(err: Error): void {
    for (const id of [...this.requests.keys()]) this.settle(id, undefined, err);
  }
}

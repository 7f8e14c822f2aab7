// Bookkeeping of what the client waits for: replies to requests (by id) and blob.stored
// confirmations (by sha256). Each wait has a timeout; a dropped connection fails them all.
import { ConnectionError } from "./errors.js";
import type { ServerMessage } from "./protocol.js";

interface Pending {
  resolve: (msg: ServerMessage) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
}

export class PendingReplies {
  private readonly requests = new Map<string, Pending>();
  private readonly stored = new Map<string, Waiter[]>();
  private nextId = 1;

  allocId(): string {
    return `r${this.nextId++}`;
  }

  /** Wait for the reply to request `id`; fails with ConnectionError after `timeoutMs` (0: never). */
  expect(id: string, what: string, timeoutMs: number): Promise<ServerMessage> {
    return new Promise<ServerMessage>((resolve, reject) => {
      const timer =
        timeoutMs > 0 ? setTimeout(() => this.settle(id, undefined, new ConnectionError(`no reply to ${what} after ${timeoutMs} ms`)), timeoutMs) : undefined;
      this.requests.set(id, { resolve, reject, timer });
    });
  }

  /** Settle a request; false when none had this id. */
  settle(id: string, reply: ServerMessage | undefined, err?: Error): boolean {
    const p = this.requests.get(id);
    if (!p) return false;
    this.requests.delete(id);
    clearTimeout(p.timer);
    if (err) p.reject(err);
    else if (reply) p.resolve(reply);
    return true;
  }

  /** Resolves on blob.stored for this hash; fails after `timeoutMs` (a daemon that stays silent
   * must not hang an upload: the caller sees a ConnectionError and may retry). */
  expectStored(sha256: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = this.stored.get(sha256) ?? [];
        const i = list.indexOf(waiter);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) this.stored.delete(sha256);
        reject(new ConnectionError(`no blob.stored for ${sha256.slice(0, 12)} after ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: Waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.stored.set(sha256, [...(this.stored.get(sha256) ?? []), waiter]);
    });
  }

  onStored(sha256: string): void {
    const waiters = this.stored.get(sha256);
    this.stored.delete(sha256);
    for (const w of waiters ?? []) w.resolve();
  }

  /** Fail the oldest upload still waiting; false when none waits. */
  failOldestUpload(err: Error): boolean {
    const first = this.stored.entries().next();
    if (first.done) return false;
    const [sha, waiters] = first.value;
    this.stored.delete(sha);
    for (const w of waiters) w.reject(err);
    return true;
  }

  failAll(err: Error): void {
    for (const id of [...this.requests.keys()]) this.settle(id, undefined, err);
    for (const waiters of this.stored.values()) for (const w of waiters) w.reject(err);
    this.stored.clear();
  }
}

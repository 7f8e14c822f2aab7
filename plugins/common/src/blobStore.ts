// Reassembles blob.data frames (results, blob.get replies) and hands finished blobs to whoever
// waits for them. Bounded: finished blobs nobody asked for are kept only for the most recent few.
import { ProtocolViolation } from "./errors.js";
import type { BlobData, ImageFormat } from "./protocol.js";

export interface ReceivedBlob {
  sha256: string;
  format: ImageFormat;
  width: number | undefined;
  height: number | undefined;
  bytes: Uint8Array;
}

interface Partial {
  header: BlobData;
  buffer: Uint8Array;
  received: number;
}

interface Waiter {
  resolve: (blob: ReceivedBlob) => void;
  reject: (err: Error) => void;
}

export class BlobStore {
  private readonly partial = new Map<string, Partial>();
  private readonly done = new Map<string, ReceivedBlob>();
  private readonly waiters = new Map<string, Set<Waiter>>();

  constructor(private readonly keep = 16) {}

  /** Feed one blob.data frame; returns the blob when this frame completes it. */
  feed(header: BlobData, payload: Uint8Array): ReceivedBlob | undefined {
    let part = this.partial.get(header.sha256);
    if (header.offset === 0 || !part) {
      if (header.offset !== 0) {
        throw new ProtocolViolation(`blob.data for ${header.sha256.slice(0, 12)} starts at offset ${header.offset}`, "offset");
      }
      part = { header, buffer: new Uint8Array(header.total), received: 0 };
      this.partial.set(header.sha256, part);
    } else if (header.offset !== part.received || header.total !== part.header.total) {
      this.partial.delete(header.sha256);
      throw new ProtocolViolation(
        `blob.data for ${header.sha256.slice(0, 12)} at offset ${header.offset}, expected ${part.received}`,
        "offset",
      );
    }
    if (part.received + payload.length > header.total) {
      this.partial.delete(header.sha256);
      throw new ProtocolViolation(`blob.data for ${header.sha256.slice(0, 12)} runs past total=${header.total}`, "total");
    }
    part.buffer.set(payload, part.received);
    part.received += payload.length;
    if (part.received < header.total) return undefined;
    this.partial.delete(header.sha256);
    const blob: ReceivedBlob = {
      sha256: header.sha256,
      format: header.format,
      width: header.width ?? undefined,
      height: header.height ?? undefined,
      bytes: part.buffer,
    };
    this.complete(blob);
    return blob;
  }

  private complete(blob: ReceivedBlob): void {
    const waiting = this.waiters.get(blob.sha256);
    this.waiters.delete(blob.sha256);
    this.done.delete(blob.sha256);
    this.done.set(blob.sha256, blob);
    while (this.done.size > this.keep) {
      const oldest = this.done.keys().next().value;
      if (oldest === undefined) break;
      this.done.delete(oldest);
    }
    for (const w of waiting ?? []) w.resolve(blob);
  }

  get(sha256: string): ReceivedBlob | undefined {
    return this.done.get(sha256);
  }

  /** Resolves when the blob has arrived (at once if it already has). */
  wait(sha256: string): { promise: Promise<ReceivedBlob>; cancel: (err: Error) => void } {
    const ready = this.done.get(sha256);
    if (ready) return { promise: Promise.resolve(ready), cancel: () => undefined };
    let waiter: Waiter | undefined;
    const promise = new Promise<ReceivedBlob>((resolve, reject) => {
      waiter = { resolve, reject };
      let set = this.waiters.get(sha256);
      if (!set) {
        set = new Set();
        this.waiters.set(sha256, set);
      }
      set.add(waiter);
    });
    return {
      promise,
      cancel: (err) => {
        if (!waiter) return;
        this.waiters.get(sha256)?.delete(waiter);
        waiter.reject(err);
      },
    };
  }

  /** A dropped connection loses half-received blobs (they are re-sent after job.fetch). */
  dropPartial(): void {
    this.partial.clear();
  }

  rejectAll(err: Error): void {
    for (const set of this.waiters.values()) for (const w of set) w.reject(err);
    this.waiters.clear();
  }
}

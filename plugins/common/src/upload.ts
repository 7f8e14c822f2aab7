// Content-addressed upload: ask which blobs the daemon lacks (blob.has), then send only those as
// chunked blob.put binary frames. With a daemon that names blobs itself (capability
// blob.unnamed) and a content hasher installed, nothing is hashed with SHA-256 here: bytes this
// client sent before are known by their content key (see contentKey.ts) and only checked with
// blob.has; new bytes go as an unnamed upload (blob.put without sha256) and the daemon's
// blob.stored says their name. Otherwise each blob is hashed with SHA-256 first and sent named.
// Pacing: UXP closes a socket whose send buffer overflows, documents neither that buffer's size
// nor when bufferedAmount updates, and has no 'drain' event. So the pace comes from the daemon:
// each chunk asks for an acknowledgement (blob.received, sent once the chunk is stored) and at
// most `windowBytes` are ever sent and not yet acknowledged, whatever bufferedAmount says. Only
// with a daemon that does not acknowledge (no blob.ack capability) is bufferedAmount polled
// instead. Every chunk of one blob carries the same id; the daemon echoes it as reply_to in
// blob.received, blob.stored, or an error about that upload.
import { encodeFrame } from "./frames.js";
import type { ContentKeys } from "./contentKey.js";
import type { BlobMissing, BlobPut, ImageFormat } from "./protocol.js";
import { sha256Hex } from "./sha256.js";

/** Bytes to upload. Raw formats (rgba8, grey8) need width and height. */
export interface BlobSource {
  bytes: Uint8Array;
  format: ImageFormat;
  width?: number;
  height?: number;
  /** Known hash (skips hashing): lowercase hex sha256 of `bytes`. */
  sha256?: string;
}

export interface UploadProgress {
  /** The upload's id (that of its blob.put frames): one per blob sent. */
  id: string;
  /** The blob's name when known before the upload (a named upload); undefined for an unnamed
   * one, which the daemon names when it is stored. */
  sha256: string | undefined;
  sent: number;
  total: number;
}

/** What the uploader needs from the connection. */
export interface UploadChannel {
  blobHas(sha256: string[]): Promise<BlobMissing>;
  sendBinary(frame: ArrayBuffer): void;
  bufferedAmount(): number;
  /** A fresh id for one blob's blob.put frames (unique on this connection, at most 64 chars). */
  uploadId(): string;
  /** Resolves with the sha256 of blob.stored answering `id` (or, without reply_to, naming
   * `sha256`; an unnamed upload, `sha256` undefined, is answered by id only); rejects on an error
   * answering `id`. Each blob.received for the upload calls `onReceived` with the bytes the
   * daemon has stored. Called before the first chunk is sent. */
  waitStored(id: string, sha256: string | undefined, onReceived: (received: number) => void): Promise<string>;
  /** A chunk of upload `id` was handed to the socket: the wait's timeout restarts, so a big upload
   * on a slow link fails only when it stops moving, not when it takes long. */
  chunkSent(id: string): void;
  chunkBytes: number;
  /** The daemon acknowledges chunks sent with `ack` (its welcome lists the blob.ack capability). */
  acknowledges: boolean;
  /** With acknowledgements: the most bytes of an upload sent and not yet acknowledged (one chunk
   * is always allowed, however large). */
  windowBytes: number;
  /** Without: pause while the socket reports more than this buffered. */
  highWaterBytes: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function hashBlobs(blobs: readonly BlobSource[]): Promise<string[]> {
  const out: string[] = [];
  for (const b of blobs) out.push(b.sha256 ?? (await sha256Hex(b.bytes)));
  return out;
}

/** Uploads what the daemon lacks, each blob named by its sha256 beforehand (hashed here unless
 * given); returns the sha256 of each blob, in order. */
export async function uploadBlobs(
  channel: UploadChannel,
  blobs: readonly BlobSource[],
  onProgress?: (p: UploadProgress) => void,
): Promise<string[]> {
  const hashes = await hashBlobs(blobs);
  const unique = [...new Set(hashes)];
  if (unique.length === 0) return hashes;
  const missing = new Set((await channel.blobHas(unique)).sha256);
  const sent = new Set<string>();
  for (let i = 0; i < blobs.length; i++) {
    const sha = hashes[i];
    const blob = blobs[i];
    if (sha === undefined || blob === undefined || !missing.has(sha) || sent.has(sha)) continue;
    sent.add(sha);
    await putBlob(channel, blob, sha, onProgress);
  }
  return hashes;
}

/** Uploads what the daemon lacks to a daemon that names blobs (blob.unnamed): a blob whose
 * content key `keys` remembers, or whose sha256 is given, is only checked with blob.has; the
 * others, and those the daemon no longer has, go unnamed and `keys` remembers the name the daemon
 * gave them. `contentKeys[i]` is the content key of blobs[i]. Returns the sha256 of each blob. */
export async function uploadUnnamed(
  channel: UploadChannel,
  blobs: readonly BlobSource[],
  contentKeys: readonly (string | undefined)[],
  keys: ContentKeys,
  onProgress?: (p: UploadProgress) => void,
): Promise<string[]> {
  const known = blobs.map((b, i) => b.sha256 ?? keys.get(keyOf(contentKeys, i)));
  const unique = [...new Set(known.filter((sha): sha is string => sha !== undefined))];
  const missing = new Set(unique.length ? (await channel.blobHas(unique)).sha256 : []);
  const names: string[] = [];
  const done = new Map<string, string>(); // the same bytes given twice are sent once
  for (let i = 0; i < blobs.length; i++) {
    const blob = blobs[i]!;
    const same = blob.sha256 ?? keyOf(contentKeys, i);
    const sha = known[i];
    let name = sha !== undefined && !missing.has(sha) ? sha : done.get(same);
    if (name === undefined) {
      // a given name is kept (the daemon checks it); otherwise the daemon names the bytes
      name = await putBlob(channel, blob, blob.sha256, onProgress);
      if (blob.sha256 === undefined) keys.remember(same, name);
    }
    done.set(same, name);
    names.push(name);
  }
  return names;
}

function keyOf(contentKeys: readonly (string | undefined)[], i: number): string {
  const key = contentKeys[i];
  if (key === undefined) throw new Error(`no content key for blob ${i + 1} of ${contentKeys.length}`);
  return key;
}

/** Sends one blob as blob.put frames (named by `sha`, or unnamed) and waits for blob.stored;
 * returns the name it was stored under. */
async function putBlob(
  channel: UploadChannel,
  blob: BlobSource,
  sha: string | undefined,
  onProgress?: (p: UploadProgress) => void,
): Promise<string> {
  const id = channel.uploadId();
  const pace = new Pace();
  const stored = channel.waitStored(id, sha, (received) => pace.acknowledged(received));
  // awaited below; meanwhile note a failure (stop sending) without an unhandled rejection
  stored.catch(() => pace.fail());
  await sendChunks(channel, id, sha, blob, pace, onProgress);
  return await stored;
}

/** One upload's acknowledgements: how far the daemon has stored, and a wake-up for the sender. */
class Pace {
  acked = 0;
  failed = false;
  private wake: (() => void) | undefined;

  acknowledged(received: number): void {
    this.acked = Math.max(this.acked, received);
    this.notify();
  }

  fail(): void {
    this.failed = true;
    this.notify();
  }

  /** Resolves at the next acknowledgement or failure (the stored wait's timeout ends a silence). */
  next(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** Sends the chunks in order, each once it fits the window; stops early once the daemon has
 * refused the upload. */
async function sendChunks(
  channel: UploadChannel,
  id: string,
  sha: string | undefined,
  blob: BlobSource,
  pace: Pace,
  onProgress?: (p: UploadProgress) => void,
): Promise<void> {
  const total = blob.bytes.length;
  const chunk = Math.max(1, channel.chunkBytes);
  for (let offset = 0; offset < total; offset += chunk) {
    const end = Math.min(total, offset + chunk);
    if (channel.acknowledges) {
      while (!pace.failed && offset > pace.acked && end - pace.acked > channel.windowBytes) await pace.next();
    } else {
      while (channel.bufferedAmount() > channel.highWaterBytes && !pace.failed) await sleep(5);
    }
    if (pace.failed) return;
    // unnamed (blob.unnamed): no sha256 field at all; the id names the upload
    const header: BlobPut = { type: "blob.put", id, offset, total, format: blob.format };
    if (sha !== undefined) header.sha256 = sha;
    if (blob.format !== "png") {
      header.width = blob.width ?? null;
      header.height = blob.height ?? null;
    }
    if (channel.acknowledges) header.ack = true;
    channel.sendBinary(encodeFrame(header, blob.bytes.subarray(offset, end)));
    channel.chunkSent(id);
    onProgress?.({ id, sha256: sha, sent: end, total });
  }
}

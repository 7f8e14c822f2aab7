// Content-addressed upload: ask which blobs the daemon lacks (blob.has), then send only those as
// chunked blob.put binary frames, pacing on the socket's bufferedAmount (UXP closes a socket whose
// send buffer overflows; there is no 'drain' event, so poll). Every chunk of one blob carries the
// same id; the daemon echoes it as reply_to in blob.stored, or in an error about that upload.
import { encodeFrame } from "./frames.js";
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
  sha256: string;
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
  /** Resolves on blob.stored answering `id` (or, without reply_to, naming `sha256`); rejects on an
   * error answering `id`. Called before the first chunk is sent. */
  waitStored(id: string, sha256: string): Promise<void>;
  /** A chunk of upload `id` was handed to the socket: the wait's timeout restarts, so a big upload
   * on a slow link fails only when it stops moving, not when it takes long. */
  chunkSent(id: string): void;
  chunkBytes: number;
  highWaterBytes: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function hashBlobs(blobs: readonly BlobSource[]): Promise<string[]> {
  const out: string[] = [];
  for (const b of blobs) out.push(b.sha256 ?? (await sha256Hex(b.bytes)));
  return out;
}

/** Uploads what the daemon lacks; returns the sha256 of each blob, in order. */
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
    const id = channel.uploadId();
    let failed = false;
    const stored = channel.waitStored(id, sha);
    // awaited below; meanwhile note a failure (stop sending) without an unhandled rejection
    stored.catch(() => {
      failed = true;
    });
    await sendChunks(channel, id, sha, blob, () => failed, onProgress);
    await stored;
  }
  return hashes;
}

/** Sends the chunks in order; stops early once the daemon has refused the upload. */
async function sendChunks(
  channel: UploadChannel,
  id: string,
  sha: string,
  blob: BlobSource,
  failed: () => boolean,
  onProgress?: (p: UploadProgress) => void,
): Promise<void> {
  const total = blob.bytes.length;
  const chunk = Math.max(1, channel.chunkBytes);
  for (let offset = 0; offset < total; offset += chunk) {
    while (channel.bufferedAmount() > channel.highWaterBytes && !failed()) await sleep(5);
    if (failed()) return;
    const header: BlobPut = { type: "blob.put", id, sha256: sha, offset, total, format: blob.format };
    if (blob.format !== "png") {
      header.width = blob.width ?? null;
      header.height = blob.height ?? null;
    }
    channel.sendBinary(encodeFrame(header, blob.bytes.subarray(offset, Math.min(total, offset + chunk))));
    channel.chunkSent(id);
    onProgress?.({ sha256: sha, sent: Math.min(total, offset + chunk), total });
  }
}

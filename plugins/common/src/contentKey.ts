// What the client remembers of its own uploads: a content key (XXH3-128 of the bytes, seeded at
// random per client, plus their length) → the sha256 the daemon named them by. A daemon with the
// blob.unnamed capability hashes an upload as it arrives and names the blob in blob.stored, so
// the client never computes SHA-256 before sending: it keys the bytes with XXH3-128 (several
// times faster than SHA-256 in WebAssembly; UXP has no SHA instructions to offer WebAssembly)
// and asks only blob.has for bytes it sent before. The seed keeps the keys of one client
// unpredictable to anyone else, so nobody can make two images share a key on purpose.
// The hasher is handed in by the plugin (hash-wasm's createXXHash128), so that this package keeps
// no runtime dependency of its own.
import type { StreamingHasher } from "./sha256.js";

/** Creates a seeded XXH3-128 hasher, as hash-wasm's createXXHash128(seedLow, seedHigh) does. */
export type ContentHasherFactory = (seedLow: number, seedHigh: number) => Promise<StreamingHasher>;

let installed: ContentHasherFactory | undefined;

/** Key uploads with this XXH3-128 hasher (and let the daemon name them) in every client created
 * without a `contentHasher` option. */
export function useContentHasher(factory: ContentHasherFactory | undefined): void {
  installed = factory;
}

/** How many uploads a client remembers (the most recently used ones). */
export const SENT_KEYS = 1024;

function randomSeed(): [number, number] {
  const c = (globalThis as { crypto?: { getRandomValues?: (a: Uint32Array) => Uint32Array } }).crypto;
  if (typeof c?.getRandomValues === "function") {
    const words = c.getRandomValues(new Uint32Array(2));
    return [words[0]!, words[1]!];
  }
  // no crypto (older UXP): a seed nobody else knows is all it has to be
  return [Math.floor(Math.random() * 2 ** 32), Math.floor(Math.random() * 2 ** 32)];
}

/** One client's content keys and what it remembers having uploaded. */
export class ContentKeys {
  private readonly seed = randomSeed();
  private hasher: Promise<StreamingHasher | undefined> | undefined;
  private hasherFrom: ContentHasherFactory | undefined;
  private readonly sent = new Map<string, string>();

  /** `factory`: this client's hasher; undefined: the one installed with useContentHasher; null:
   * none (the client hashes with SHA-256 before each upload). */
  constructor(
    private readonly factory?: ContentHasherFactory | null,
    private readonly capacity = SENT_KEYS,
  ) {}

  /** The content key of each blob (undefined for one whose sha256 is given: it needs none); the
   * whole answer is undefined where no hasher is installed, the host runs no WebAssembly, or it
   * refuses to compile it. */
  async keysFor(blobs: readonly { bytes: Uint8Array; sha256?: string }[]): Promise<(string | undefined)[] | undefined> {
    const hasher = await this.instance();
    if (!hasher) return undefined;
    // init → update → digest run without a pause: calls on the one instance cannot interleave
    return blobs.map((b) => {
      if (b.sha256 !== undefined) return undefined;
      hasher.init();
      hasher.update(b.bytes);
      return `${hasher.digest("hex")}:${b.bytes.length}`;
    });
  }

  /** The sha256 of bytes with this key that this client uploaded (marks it recently used). */
  get(key: string): string | undefined {
    const sha = this.sent.get(key);
    if (sha !== undefined) this.remember(key, sha);
    return sha;
  }

  remember(key: string, sha256: string): void {
    this.sent.delete(key);
    this.sent.set(key, sha256);
    while (this.sent.size > this.capacity) {
      const oldest = this.sent.keys().next().value;
      if (oldest === undefined) break;
      this.sent.delete(oldest);
    }
  }

  private instance(): Promise<StreamingHasher | undefined> {
    const factory = this.factory === undefined ? installed : this.factory;
    if (!factory || typeof (globalThis as { WebAssembly?: unknown }).WebAssembly !== "object") return Promise.resolve(undefined);
    if (this.hasherFrom !== factory || !this.hasher) {
      this.hasherFrom = factory;
      this.hasher = factory(this.seed[0], this.seed[1]).catch(() => undefined); // refused: SHA-256 from here
    }
    return this.hasher;
  }
}

// sha256 (lowercase hex) of a blob: WebCrypto where the host has it (browsers, Node); else a
// WebAssembly SHA-256 the plugin hands in with useWasmSha256 (UXP has no crypto.subtle, but "UXP
// also supports WebAssembly": https://developer.adobe.com/photoshop/uxp/2022/guides/code-samples/;
// the Photoshop panel passes hash-wasm's createSHA256); else a small plain-JS implementation.
// The WASM hasher is handed in so that this package keeps no runtime dependency of its own.

/** A streaming hasher as hash-wasm's createSHA256() resolves to. */
export interface StreamingHasher {
  init(): unknown;
  update(data: Uint8Array): unknown;
  digest(encoding: "hex"): string;
}

let wasmFactory: (() => Promise<StreamingHasher>) | undefined;
let wasmHasher: Promise<StreamingHasher> | undefined;

/** Hash with this WebAssembly SHA-256 where the host runs WebAssembly and has no WebCrypto. */
export function useWasmSha256(factory: () => Promise<StreamingHasher>): void {
  wasmFactory = factory;
  wasmHasher = undefined;
}

interface SubtleLike {
  digest(algorithm: string, data: Uint8Array): Promise<ArrayBuffer>;
}

function subtle(): SubtleLike | undefined {
  const c = (globalThis as { crypto?: { subtle?: SubtleLike } }).crypto;
  return c?.subtle && typeof c.subtle.digest === "function" ? c.subtle : undefined;
}

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

function compress(state: Uint32Array, w: Uint32Array, block: DataView, offset: number): void {
  for (let i = 0; i < 16; i++) w[i] = block.getUint32(offset + i * 4, false);
  for (let i = 16; i < 64; i++) {
    const a = w[i - 15]!;
    const b = w[i - 2]!;
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
    w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
  }
  let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!, e = state[4]!, f = state[5]!, g = state[6]!, h = state[7]!;
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + S1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

/** sha256 in plain JS (FIPS 180-4). */
export function sha256Bytes(data: Uint8Array): Uint8Array {
  const state = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  const w = new Uint32Array(64);
  const full = data.length - (data.length % 64);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let off = 0; off < full; off += 64) compress(state, w, view, off);
  // the tail: remaining bytes, 0x80, zeros, then the bit length (64-bit big-endian)
  const tailLen = data.length - full < 56 ? 64 : 128;
  const tail = new Uint8Array(tailLen);
  tail.set(data.subarray(full));
  tail[data.length - full] = 0x80;
  const tv = new DataView(tail.buffer);
  const bits = data.length * 8;
  tv.setUint32(tailLen - 8, Math.floor(bits / 2 ** 32), false);
  tv.setUint32(tailLen - 4, bits >>> 0, false);
  for (let off = 0; off < tailLen; off += 64) compress(state, w, tv, off);
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setUint32(i * 4, state[i]!, false);
  return out;
}

export function sha256HexSync(data: Uint8Array): string {
  return hex(sha256Bytes(data));
}

/** sha256 with the WebAssembly hasher; undefined without one, or where the host cannot run it. */
export async function sha256HexWasm(data: Uint8Array): Promise<string | undefined> {
  if (!wasmFactory || typeof (globalThis as { WebAssembly?: unknown }).WebAssembly !== "object") return undefined;
  try {
    // one instance, reused: init → update → digest run without a pause, so calls cannot interleave
    const hasher = await (wasmHasher ??= wasmFactory());
    hasher.init();
    hasher.update(data);
    return hasher.digest("hex");
  } catch {
    wasmHasher = undefined; // compiling refused (a host policy): plain JS from here
    return undefined;
  }
}

export async function sha256Hex(data: Uint8Array): Promise<string> {
  const s = subtle();
  if (s) {
    try {
      return hex(new Uint8Array(await s.digest("SHA-256", data)));
    } catch {
      // some hosts expose subtle but refuse (insecure context): fall through
    }
  }
  return (await sha256HexWasm(data)) ?? sha256HexSync(data);
}

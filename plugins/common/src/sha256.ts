// sha256 (lowercase hex) of a blob: WebCrypto where the host has it (browsers, Node), else
// @noble/hashes (UXP has no crypto.subtle).
import { sha256 } from "@noble/hashes/sha2.js";

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

export function sha256HexSync(data: Uint8Array): string {
  return hex(sha256(data));
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
  return sha256HexSync(data);
}

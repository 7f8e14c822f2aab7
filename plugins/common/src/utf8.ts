// UTF-8 for frame headers: TextEncoder/TextDecoder where the host has them, else plain JS (older
// UXP versions lack them; the plugin must still load).

interface EncoderLike {
  encode(text: string): Uint8Array;
}
interface DecoderLike {
  decode(bytes: Uint8Array): string;
}

const g = globalThis as {
  TextEncoder?: new () => EncoderLike;
  TextDecoder?: new (label: string, options: { fatal: boolean }) => DecoderLike;
};
const nativeEncoder = g.TextEncoder ? new g.TextEncoder() : undefined;
const nativeDecoder = g.TextDecoder ? new g.TextDecoder("utf-8", { fatal: true }) : undefined;

export function encodeUtf8(text: string): Uint8Array {
  if (nativeEncoder) return nativeEncoder.encode(text);
  const out: number[] = [];
  for (const ch of text) {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return new Uint8Array(out);
}

/** Decodes UTF-8; throws on malformed input. */
export function decodeUtf8(bytes: Uint8Array): string {
  if (nativeDecoder) return nativeDecoder.decode(bytes);
  let out = "";
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i] ?? 0;
    const need = b < 0x80 ? 0 : b >= 0xf0 && b < 0xf8 ? 3 : b >= 0xe0 ? 2 : b >= 0xc2 && b < 0xe0 ? 1 : -1;
    if (need < 0 || i + need > bytes.length - 1) throw new Error(`invalid UTF-8 at byte ${i}`);
    let c = need === 0 ? b : b & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const n = bytes[i + k] ?? 0;
      if ((n & 0xc0) !== 0x80) throw new Error(`invalid UTF-8 at byte ${i + k}`);
      c = (c << 6) | (n & 0x3f);
    }
    out += String.fromCodePoint(c);
    i += need + 1;
  }
  return out;
}

// TextEncoder / TextDecoder for hosts that lack them. UXP's reference lists neither among its
// global members, yet dependencies build them at module load (fast-png: `new TextDecoder("latin1")`,
// iobuffer: `new TextEncoder()`), which stops a bundle before it registers anything. Installed
// only where missing, or where the host's TextDecoder refuses an encoding a dependency asks for.
import { decodeUtf8, encodeUtf8 } from "./utf8.js";

type DecoderCtor = new (label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean }) => { decode(input?: ArrayBufferView | ArrayBuffer): string };

const LATIN1 = new Set(["latin1", "iso-8859-1", "iso8859-1", "l1", "ascii", "us-ascii", "windows-1252", "cp1252"]);
const UTF8 = new Set(["utf-8", "utf8", "unicode-1-1-utf-8"]);

function bytesOf(input: ArrayBufferView | ArrayBuffer | undefined): Uint8Array {
  if (input === undefined) return new Uint8Array(0);
  if (input instanceof ArrayBuffer) return new Uint8Array(input);
  return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
}

/** UTF-8 with U+FFFD for each byte that starts no valid sequence (TextDecoder's default). */
function decodeUtf8Lenient(bytes: Uint8Array): string {
  try {
    return decodeUtf8(bytes);
  } catch {
    let out = "";
    for (let i = 0; i < bytes.length; ) {
      const b = bytes[i] ?? 0;
      const len = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
      if (len > 0 && i + len <= bytes.length) {
        try {
          out += decodeUtf8(bytes.subarray(i, i + len));
          i += len;
          continue;
        } catch {
          // not a whole sequence: replaced below
        }
      }
      out += "\ufffd";
      i += 1;
    }
    return out;
  }
}

function latin1(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i += 8192) out += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return out;
}

export class PortableTextEncoder {
  readonly encoding = "utf-8";
  encode(text = ""): Uint8Array {
    return encodeUtf8(String(text));
  }
}

/** utf-8 (fatal or not, BOM dropped) and latin1 (bytes as code points). */
export function portableTextDecoder(native: DecoderCtor | undefined): DecoderCtor {
  return class PortableTextDecoder {
    readonly encoding: string;
    readonly fatal: boolean;
    private readonly delegate: { decode(input?: ArrayBufferView | ArrayBuffer): string } | undefined;

    constructor(label = "utf-8", options: { fatal?: boolean; ignoreBOM?: boolean } = {}) {
      const name = String(label).trim().toLowerCase();
      this.fatal = options.fatal === true;
      if (UTF8.has(name)) this.encoding = "utf-8";
      else if (LATIN1.has(name)) this.encoding = "windows-1252";
      else if (native) {
        this.delegate = new native(label, options);
        this.encoding = name;
      } else throw new RangeError(`The "${label}" encoding is not supported`);
    }

    decode(input?: ArrayBufferView | ArrayBuffer): string {
      if (this.delegate) return this.delegate.decode(input);
      const bytes = bytesOf(input);
      if (this.encoding !== "utf-8") return latin1(bytes);
      const body = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
      return this.fatal ? decodeUtf8(body) : decodeUtf8Lenient(body);
    }
  };
}

function decodesLatin1(ctor: DecoderCtor): boolean {
  try {
    new ctor("latin1");
    return true;
  } catch {
    return false;
  }
}

/** Puts TextEncoder / TextDecoder on `target` where they are missing or lack latin1. */
export function installTextCodecs(target: Record<string, unknown> = globalThis as unknown as Record<string, unknown>): void {
  if (typeof target["TextEncoder"] !== "function") target["TextEncoder"] = PortableTextEncoder;
  const native = typeof target["TextDecoder"] === "function" ? (target["TextDecoder"] as DecoderCtor) : undefined;
  if (!native || !decodesLatin1(native)) target["TextDecoder"] = portableTextDecoder(native);
}

// Binary frame layout, as daemon/protocol/frames.py: u32 big-endian header length | UTF-8 JSON
// header | payload. Pure functions over bytes.
import { ProtocolViolation } from "./errors.js";
import { decodeUtf8, encodeUtf8 } from "./utf8.js";

export interface DecodedFrame {
  /** The JSON header, still unvalidated. */
  header: unknown;
  payload: Uint8Array;
}

export function encodeFrame(header: object, payload: Uint8Array): ArrayBuffer {
  const head = encodeUtf8(JSON.stringify(header));
  const out = new Uint8Array(4 + head.length + payload.length);
  new DataView(out.buffer).setUint32(0, head.length, false);
  out.set(head, 4);
  out.set(payload, 4 + head.length);
  return out.buffer;
}

export function decodeFrame(frame: ArrayBuffer | Uint8Array, maxHeader = 16 * 1024): DecodedFrame {
  const bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame);
  if (bytes.length < 4) {
    throw new ProtocolViolation(`binary frame of ${bytes.length} bytes is shorter than its 4-byte length prefix`);
  }
  const size = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, false);
  if (size > maxHeader) throw new ProtocolViolation(`binary frame header of ${size} bytes exceeds ${maxHeader}`);
  if (4 + size > bytes.length) {
    throw new ProtocolViolation(`binary frame header claims ${size} bytes but only ${bytes.length - 4} follow`);
  }
  let text: string;
  try {
    text = decodeUtf8(bytes.subarray(4, 4 + size));
  } catch {
    throw new ProtocolViolation("binary frame header is not valid UTF-8");
  }
  return { header: parseJson(text, "binary frame header"), payload: bytes.subarray(4 + size) };
}

export function parseJson(text: string, what = "text frame"): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ProtocolViolation(`${what} is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
}

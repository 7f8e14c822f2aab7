// An in-memory WebSocketLike: the test plays the daemon, seeing what the client sends and
// delivering whatever it likes (including malformed messages).
import { encodeFrame, decodeFrame } from "../src/frames.js";
import type { SocketCloseEvent, SocketMessageEvent, WebSocketLike } from "../src/socket.js";

export interface SentFrame {
  text?: Record<string, unknown>;
  header?: Record<string, unknown>;
  payload?: Uint8Array;
}

export class FakeSocket implements WebSocketLike {
  binaryType = "blob";
  readyState = 0;
  bufferedAmount = 0;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: SocketMessageEvent) => void) | null = null;
  onclose: ((event: SocketCloseEvent) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly sent: SentFrame[] = [];
  onSend: ((frame: SentFrame) => void) | undefined;

  constructor(readonly url: string) {}

  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  send(data: string | ArrayBuffer): void {
    const frame: SentFrame =
      typeof data === "string"
        ? { text: JSON.parse(data) as Record<string, unknown> }
        : (() => {
            const f = decodeFrame(data);
            return { header: f.header as Record<string, unknown>, payload: f.payload.slice() };
          })();
    this.sent.push(frame);
    queueMicrotask(() => this.onSend?.(frame));
  }

  close(code = 1000, reason = ""): void {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  deliver(message: object | string): void {
    this.onmessage?.({ data: typeof message === "string" ? message : JSON.stringify(message) });
  }

  deliverBinary(header: object, payload: Uint8Array): void {
    this.onmessage?.({ data: encodeFrame(header, payload) });
  }

  lastText(type: string): Record<string, unknown> | undefined {
    return [...this.sent].reverse().find((f) => f.text?.["type"] === type)?.text;
  }
}

export const WELCOME = {
  type: "welcome",
  reply_to: "hello",
  protocol: 1,
  server: { name: "layerbridge", kind: "other", version: "0.1.0" },
  session: "s1",
  scope: "client",
  capabilities: ["generate", "refine", "inpaint", "expand"],
  models: [{ id: "demo", name: "Demo", arch: "sd15", kind: "checkpoint", format: "diffusers", size_bytes: 1, default: true, trigger_words: [] }],
  limits: {
    max_frame_bytes: 17825792,
    max_blob_bytes: 536870912,
    max_chunk_bytes: 16,
    max_image_pixels: 134217728,
    max_side: 16384,
    max_generate_side: 2048,
    max_steps: 150,
    max_batch: 8,
  },
} as const;

/** A factory that records every socket it makes; `auto` opens and welcomes them. */
export function fakeFactory(auto = true): { sockets: FakeSocket[]; create: (url: string) => FakeSocket } {
  const sockets: FakeSocket[] = [];
  return {
    sockets,
    create: (url: string) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      if (auto) {
        s.onSend = (f) => {
          if (f.text?.["type"] === "hello") queueMicrotask(() => s.deliver(WELCOME));
        };
        queueMicrotask(() => s.open());
      }
      return s;
    },
  };
}

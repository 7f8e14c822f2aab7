// The WebSocket the client needs: the common subset of the browser/UXP WebSocket and `ws`.
// The client never constructs one itself; callers pass a factory (`(url) => new WebSocket(url)`).

export interface SocketMessageEvent {
  data: unknown;
}
export interface SocketCloseEvent {
  code: number;
  reason: string;
}

// Checked bivariantly, so the DOM's and `ws`'s richer event types are accepted as they are.
type Handler<E> = { bivarianceHack(event: E): void }["bivarianceHack"];

export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  onopen: Handler<unknown> | null;
  onmessage: Handler<SocketMessageEvent> | null;
  onclose: Handler<SocketCloseEvent> | null;
  onerror: Handler<unknown> | null;
  send(data: string | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketFactory = (url: string) => WebSocketLike;

export const SOCKET_OPEN = 1;

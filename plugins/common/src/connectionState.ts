// The connection's states and the steps allowed between them ("expected X, got Y" otherwise).

export type ConnectionState = "idle" | "connecting" | "handshaking" | "ready" | "reconnecting" | "closed";

const ALLOWED: Readonly<Record<ConnectionState, readonly ConnectionState[]>> = {
  idle: ["connecting", "closed"],
  connecting: ["handshaking", "reconnecting", "closed"],
  handshaking: ["ready", "reconnecting", "closed"],
  ready: ["reconnecting", "closed"],
  reconnecting: ["connecting", "closed"],
  closed: ["connecting"],
};

export class IllegalTransition extends Error {
  constructor(from: ConnectionState, to: ConnectionState) {
    super(`connection: expected one of ${ALLOWED[from].join(", ") || "(none)"} after ${from}, got ${to}`);
    this.name = "IllegalTransition";
  }
}

export function checkTransition(from: ConnectionState, to: ConnectionState): void {
  if (!ALLOWED[from].includes(to)) throw new IllegalTransition(from, to);
}

/**
 * The UI's side of the main-thread channel: typed postMessage out, typed messages in, and the two
 * round trips (prepare inputs, place results) as promises keyed by request id.
 */

import type { FlowInput, FlowKind, MainToUi, PlacedImage, UiToMain } from "../shared/messages";
import { isMainToUi } from "../shared/messages";

/** Where messages go and come from: `parent` + `window` in Figma, fakes in tests. */
export interface MessagePort {
  send(message: UiToMain): void;
  listen(handler: (message: MainToUi) => void): void;
}

/** The iframe's real port: Figma wraps UI → main messages in `{pluginMessage}`. */
export function windowPort(win: Window): MessagePort {
  return {
    send(message) {
      win.parent.postMessage({ pluginMessage: message }, "*");
    },
    listen(handler) {
      win.addEventListener("message", (event: MessageEvent<unknown>) => {
        const data = event.data;
        if (typeof data !== "object" || data === null) return;
        const message = (data as { pluginMessage?: unknown }).pluginMessage;
        if (isMainToUi(message)) handler(message);
      });
    },
  };
}

interface Waiting<T> {
  resolve: (value: T) => void;
  reject: (error: Error) => void;
}

export class MainBridge {
  private readonly prepares = new Map<string, Waiting<FlowInput>>();
  private readonly places = new Map<string, Waiting<string[]>>();
  private readonly listeners: ((message: MainToUi) => void)[] = [];
  private counter = 0;

  constructor(private readonly port: MessagePort) {
    port.listen((message) => this.receive(message));
  }

  send(message: UiToMain): void {
    this.port.send(message);
  }

  /** Every message from main (init, selection, ...), after the round trips took theirs. */
  onMessage(listener: (message: MainToUi) => void): void {
    this.listeners.push(listener);
  }

  newRequestId(): string {
    this.counter += 1;
    return `req-${Date.now().toString(36)}-${this.counter}`;
  }

  /** Ask main to export the inputs of `flow` from the current selection (`control`: as a sketch). */
  prepare(requestId: string, flow: FlowKind, scale: number, maxSide: number, control = false): Promise<FlowInput> {
    return new Promise<FlowInput>((resolve, reject) => {
      this.prepares.set(requestId, { resolve, reject });
      this.send({ type: "prepare", requestId, flow, control, scale, maxSide });
    });
  }

  /** Hand finished images to main; resolves with the ids of the nodes that show them. */
  place(requestId: string, prompt: string, model: string, results: PlacedImage[]): Promise<string[]> {
    return new Promise<string[]>((resolve, reject) => {
      this.places.set(requestId, { resolve, reject });
      this.send({ type: "place", requestId, prompt, model, results });
    });
  }

  private receive(message: MainToUi): void {
    switch (message.type) {
      case "prepared":
        this.settle(this.prepares, message.requestId, (w) => w.resolve(message.input));
        return;
      case "prepare-failed":
        this.settle(this.prepares, message.requestId, (w) => w.reject(new Error(message.message)));
        return;
      case "placed":
        this.settle(this.places, message.requestId, (w) => w.resolve(message.nodeIds));
        return;
      case "place-failed":
        this.settle(this.places, message.requestId, (w) => w.reject(new Error(message.message)));
        return;
      default:
        for (const listener of this.listeners) listener(message);
    }
  }

  private settle<T>(map: Map<string, Waiting<T>>, id: string, act: (w: Waiting<T>) => void): void {
    const waiting = map.get(id);
    if (waiting === undefined) return;
    map.delete(id);
    act(waiting);
  }
}

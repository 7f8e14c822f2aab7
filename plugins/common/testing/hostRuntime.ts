// Test helper (Node only, exported as @layerbridge/common/testing): loads a built plugin bundle
// in a bare V8 context (node:vm) that holds only the ECMAScript builtins plus the globals a host
// documents, so a dependency that reaches for anything else at load (TextEncoder, URL, Buffer,
// process, ...) fails here as it would in the host, before the plugin registers anything.
import vm from "node:vm";

/** What a host puts in a plugin's global scope. */
export interface HostRuntime {
  /** The host's documented globals, by name (stubs are fine: a load should only touch them). */
  globals: Record<string, unknown>;
  /** ECMAScript builtins the host lacks, removed from the context. */
  withoutBuiltins?: readonly string[];
}

export interface LoadOutcome {
  /** What the bundle threw while loading (name and message as the host would report them). */
  error: { name: string; message: string; stack: string } | undefined;
  /** The bundle's global scope after loading (read what the bundle registered). */
  context: vm.Context;
}

/** Evaluates `code` once, like a host loading a plugin script; never throws. */
export function loadInBareHost(code: string, filename: string, runtime: HostRuntime): LoadOutcome {
  const context = vm.createContext({}, { name: filename, codeGeneration: { strings: false, wasm: true } });
  // V8 gives every context a `console`; it exists only where the host says so
  vm.runInContext("delete globalThis.console", context);
  for (const name of runtime.withoutBuiltins ?? []) vm.runInContext(`delete globalThis[${JSON.stringify(name)}]`, context);
  const global = vm.runInContext("globalThis", context) as Record<string, unknown>;
  for (const [name, value] of Object.entries(runtime.globals)) global[name] = value === SELF ? global : value;
  try {
    new vm.Script(code, { filename }).runInContext(context);
    return { error: undefined, context };
  } catch (err) {
    // errors from the context are of its realm: `instanceof Error` is false here
    const e = err as { name?: unknown; message?: unknown; stack?: unknown };
    return { error: { name: String(e?.name ?? "Error"), message: String(e?.message ?? err), stack: String(e?.stack ?? "") }, context };
  }
}

/** Stands for the context's own global object (UXP's `window`). */
export const SELF: unique symbol = Symbol("the global object");

/** A `console` that keeps what was logged (hosts show it in their developer tools). */
export function recordingConsole(): { console: Record<string, (...args: unknown[]) => void>; lines: string[] } {
  const lines: string[] = [];
  const log = (level: string) => (...args: unknown[]) => void lines.push(`${level}: ${args.map(String).join(" ")}`);
  return { console: { log: log("log"), info: log("info"), warn: log("warn"), error: log("error"), debug: log("debug") }, lines };
}

/** setTimeout and friends, run by Node's own timers. */
export function hostTimers(): Record<string, unknown> {
  return { setTimeout, clearTimeout, setInterval, clearInterval };
}

/** A class standing for a host global (construction works; nothing behind it). */
function stubClass(name: string): unknown {
  return { [name]: class {} }[name];
}

/**
 * The globals UXP documents ("Global Members" of the UXP JavaScript reference,
 * https://developer.adobe.com/photoshop/uxp/2022/uxp-api/reference-js/Global%20Members/), plus
 * `require` for the host modules, `console` and the timers every Adobe sample uses. Notably absent,
 * because that reference does not list them: TextEncoder, TextDecoder, URL, atob/btoa,
 * structuredClone, queueMicrotask, performance, Buffer, process. `modules` are what
 * `require(name)` returns; any other name throws, as an unknown module does.
 */
export function uxpRuntime(modules: Record<string, unknown>): HostRuntime & { required: string[]; lines: string[] } {
  const required: string[] = [];
  const { console, lines } = recordingConsole();
  const classes = [
    // Data Transfers, HTML DOM, Elements, Events, Streams
    "Blob", "FormData", "Headers", "Request", "Response", "WebSocket", "XMLHttpRequest", "AbortController", "AbortSignal",
    "Attr", "CanvasGradient", "CanvasRenderingContext2D", "CharacterData", "Comment", "CustomElementRegistry", "Document",
    "DocumentFragment", "DOMTokenList", "Element", "HTMLCollection", "IntersectionObserver", "IntersectionObserverEntry",
    "NamedNodeMap", "Node", "NodeFilter", "NodeList", "Path2D", "ResizeObserver", "ResizeObserverEntry", "ResizeObserverSize",
    "ShadowRoot", "Text", "TreeWalker", "HTMLAnchorElement", "HTMLBodyElement", "HTMLButtonElement", "HTMLCanvasElement",
    "HTMLDialogElement", "HTMLElement", "HTMLHeadElement", "HTMLHtmlElement", "HTMLImageElement", "HTMLInputElement",
    "HTMLLabelElement", "HTMLLinkElement", "HTMLMenuElement", "HTMLMenuItemElement", "HTMLOptionElement", "HTMLProgressElement",
    "HTMLScriptElement", "HTMLSelectElement", "HTMLSlotElement", "HTMLStyleElement", "HTMLTemplateElement", "HTMLTextAreaElement",
    "HTMLVideoElement", "HTMLWebViewElement", "BaseUIEvent", "CloseEvent", "DragEvent", "ErrorEvent", "Event", "EventTarget",
    "GestureEvent", "KeyboardEvent", "MessageEvent", "PointerEvent", "ProgressEvent", "CountQueuingStrategy", "ReadableStream",
    "ReadableStreamDefaultController", "ReadableStreamDefaultReader", "TransformStream", "TransformStreamDefaultController",
    "WritableStream", "WritableStreamDefaultController", "WritableStreamDefaultWriter", "ImageBlob",
  ];
  const storage = (): Record<string, unknown> => {
    const m = new Map<string, string>();
    return { getItem: (k: string) => m.get(k) ?? null, setItem: (k: string, v: string) => void m.set(k, String(v)), removeItem: (k: string) => void m.delete(k) };
  };
  const globals: Record<string, unknown> = {
    window: SELF,
    crypto: { getRandomValues: <T extends ArrayBufferView>(a: T): T => a, randomUUID: () => "00000000-0000-4000-8000-000000000000" },
    localStorage: storage(),
    sessionStorage: storage(),
    navigator: { clipboard: {} },
    document: { getElementById: () => null, querySelector: () => null, querySelectorAll: () => [], createElement: () => ({}) },
    fetch: () => Promise.reject(new Error("no network while loading")),
    alert: () => undefined,
    confirm: () => false,
    prompt: () => null,
    getComputedStyle: () => ({}),
    customElements: {},
    console,
    ...hostTimers(),
    require: (name: string) => {
      required.push(name);
      if (!(name in modules)) throw new Error(`Cannot find module '${name}'`);
      return modules[name];
    },
  };
  for (const name of classes) globals[name] = stubClass(name);
  return { globals, required, lines };
}

/**
 * Figma's main thread ("How Plugins Run", https://developers.figma.com/docs/plugins/how-plugins-run/):
 * a sandbox with the JavaScript language, `figma`, `__html__`, `console` and timers, and no
 * browser APIs (no DOM, no WebSocket, no fetch but Figma's own).
 */
export function figmaRuntime(figma: unknown, html = "<html></html>"): HostRuntime & { lines: string[] } {
  const { console, lines } = recordingConsole();
  return { globals: { figma, __html__: html, console, ...hostTimers() }, lines };
}

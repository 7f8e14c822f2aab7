/**
 * Figma's main-thread sandbox as the plugin docs describe it ("How Plugins Run": a JavaScript
 * engine with no browser APIs), reduced to what they document as global: `figma`, `__html__`,
 * `console` and the timers. A bare V8 context (node:vm) holds only the ECMAScript builtins
 * besides, so a dependency that reaches for anything else at load (TextEncoder, fetch, window,
 * WebSocket, process...) stops with a ReferenceError here, as it would in Figma.
 */

import { createContext, runInContext, type Context } from "node:vm";

/** The globals the bundle may rely on, besides the ECMAScript builtins of every context. */
export const FIGMA_GLOBALS = ["figma", "__html__", "console", "setTimeout", "clearTimeout", "setInterval", "clearInterval"] as const;

export interface SandboxGlobals {
  figma: unknown;
  __html__: string;
}

/** Evaluate `code` (a built code.js) as Figma would load it; throws what the load throws. */
export function runInFigmaSandbox(code: string, globals: SandboxGlobals, filename = "code.js"): Context {
  const context = createContext({
    figma: globals.figma,
    __html__: globals.__html__,
    console,
    setTimeout,
    clearTimeout,
    setInterval,
    clearInterval,
  });
  runInContext(code, context, { filename });
  return context;
}

/**
 * The messages between the plugin's two halves: the main thread (figma API, no network) and the UI
 * iframe (owns the daemon socket). One definition; both import it. Pure types plus guards, no I/O.
 */

/**
 * What the user asked for, in the wire's own words: the job kinds (the protocol's JobKind) the
 * plugin offers; flowOptions.ts checks they are that. A sketch is not a kind of its own but a
 * generate with a control image (the selection read by a ControlNet); `variations` is the batch of
 * any kind. (Not imported from @layerbridge/common: the main thread's typecheck stays figma-only.)
 */
export type FlowKind = "generate" | "inpaint" | "refine";

export const FLOW_KINDS: readonly FlowKind[] = ["generate", "inpaint", "refine"];

/** What the main thread keeps in figma.clientStorage for the UI. */
export interface Settings {
  /** ws://localhost:7842 unless the user changed the daemon's port. */
  url: string;
  /** The pairing token from `layerbridge pair --name figma`; "" until paired. */
  token: string;
  model: string;
  prompt: string;
}

export const DEFAULT_SETTINGS: Settings = {
  url: "ws://localhost:7842",
  token: "",
  model: "",
  prompt: "",
};

/** Whether a flow can run on the current selection, and if not, what the user should do. */
export type FlowAvailability = { ok: true; summary: string } | { ok: false; reason: string };

export interface SelectionInfo {
  /** A short description of what is selected, e.g. "Frame “Hero” 1200×800". */
  label: string;
  flows: Record<FlowKind, FlowAvailability>;
  /** Whether the selection can be a generate's control image (a sketch in a frame). */
  control: FlowAvailability;
}

/** Pixel size of a PNG, a node or a request. */
export interface Size {
  width: number;
  height: number;
}

/** The inputs the main thread exported for one request (PNG bytes travel as Uint8Array). */
export type FlowInput =
  /** `control`: the selection exported at `target`'s size, for the chosen ControlNet to follow. */
  | { flow: "generate"; target: Size; control?: Uint8Array; note?: string }
  | { flow: "inpaint"; image: Uint8Array; mask: Uint8Array; size: Size; note?: string }
  | { flow: "refine"; image: Uint8Array; size: Size; note?: string };

/** One finished image, ready for figma.createImage (PNG, at most 4096 px per side). */
export interface PlacedImage {
  png: Uint8Array;
  width: number;
  height: number;
  seed: number;
}

// ------------------------------------------------------------------------------ UI → main

export type UiToMain =
  | { type: "ui-ready" }
  | { type: "save-settings"; settings: Settings }
  | {
      type: "prepare";
      requestId: string;
      flow: FlowKind;
      /** Generate only: export the selection as the control image. */
      control: boolean;
      /** Pixels per canvas unit for generate (1×, 2×); images use their own. */
      scale: number;
      /** The longest side to export: the daemon's generate limit for refine and a control image. */
      maxSide: number;
    }
  | {
      type: "place";
      requestId: string;
      prompt: string;
      model: string;
      results: PlacedImage[];
    }
  | { type: "abandon"; requestId: string }
  | { type: "notify"; message: string; error: boolean };

// ------------------------------------------------------------------------------ main → UI

export type MainToUi =
  | { type: "init"; settings: Settings; selection: SelectionInfo }
  | { type: "selection"; selection: SelectionInfo }
  | { type: "prepared"; requestId: string; input: FlowInput }
  | { type: "prepare-failed"; requestId: string; message: string }
  | { type: "placed"; requestId: string; nodeIds: string[]; note?: string }
  | { type: "place-failed"; requestId: string; message: string }
  /** The plugin is closing: stop the running job now, the socket goes with the UI. */
  | { type: "closing" };

const UI_TO_MAIN_TYPES: ReadonlySet<string> = new Set([
  "ui-ready",
  "save-settings",
  "prepare",
  "place",
  "abandon",
  "notify",
]);

const MAIN_TO_UI_TYPES: ReadonlySet<string> = new Set([
  "init",
  "selection",
  "prepared",
  "prepare-failed",
  "placed",
  "place-failed",
  "closing",
]);

function hasType(value: unknown, types: ReadonlySet<string>): boolean {
  if (typeof value !== "object" || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return typeof type === "string" && types.has(type);
}

/** Both halves are ours, but a message crosses a structured-clone boundary: check its tag. */
export function isUiToMain(value: unknown): value is UiToMain {
  return hasType(value, UI_TO_MAIN_TYPES);
}

export function isMainToUi(value: unknown): value is MainToUi {
  return hasType(value, MAIN_TO_UI_TYPES);
}

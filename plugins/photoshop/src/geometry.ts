// Rectangle math in document pixels: selection context regions, crops, placement. Pure; no
// Photoshop here, and nothing depends on the document's resolution (DPI): only pixels.
// (No imports: the host adapter uses this and is type-checked against the UXP types alone.)

/** A rectangle in document pixels (origin top-left); the same shape as the protocol's Region. */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Size {
  width: number;
  height: number;
}

export function rectFromBounds(b: { left: number; top: number; right: number; bottom: number }): Rect {
  return { x: Math.floor(b.left), y: Math.floor(b.top), width: Math.ceil(b.right) - Math.floor(b.left), height: Math.ceil(b.bottom) - Math.floor(b.top) };
}

export function toBounds(r: Rect): { left: number; top: number; right: number; bottom: number } {
  return { left: r.x, top: r.y, right: r.x + r.width, bottom: r.y + r.height };
}

export function intersect(a: Rect, b: Rect): Rect | null {
  const x0 = Math.max(a.x, b.x);
  const y0 = Math.max(a.y, b.y);
  const x1 = Math.min(a.x + a.width, b.x + b.width);
  const y1 = Math.min(a.y + a.height, b.y + b.height);
  return x1 > x0 && y1 > y0 ? { x: x0, y: y0, width: x1 - x0, height: y1 - y0 } : null;
}

export function contains(outer: Rect, inner: Rect): boolean {
  return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width && inner.y + inner.height <= outer.y + outer.height;
}

export function area(r: Size): number {
  return r.width * r.height;
}

/** A region the daemon returned, in the input image's coordinates, moved to the document. */
export function regionToDocument(region: Rect, inputOrigin: { x: number; y: number }): Rect {
  return { x: region.x + inputOrigin.x, y: region.y + inputOrigin.y, width: region.width, height: region.height };
}

/** Usual native side of a model architecture: the fallback for a daemon that does not report a
 * checkpoint's own `native_side`. */
export function nativeSide(arch: string): number | undefined {
  if (arch.startsWith("sdxl")) return 1024;
  if (arch.startsWith("sd2")) return 768;
  if (arch.startsWith("sd15")) return 512;
  return undefined;
}

/** What the daemon's inpaint context depends on: the checkpoint's native side and size multiple. */
export interface ModelGeometry {
  native: number;
  multiple: number;
}

/** The geometry of a checkpoint as the daemon reports it (welcome.models[]: `native_side`,
 * `size_multiple`), else from its architecture; undefined when neither tells. (A structural
 * type, not the protocol's ModelInfo: this module imports nothing.) */
export function modelGeometry(model: { arch: string; native_side?: number | null; size_multiple?: number | null }): ModelGeometry | undefined {
  const native = model.native_side ?? nativeSide(model.arch);
  if (native === undefined || !(native > 0)) return undefined;
  const multiple = model.size_multiple ?? (model.arch.startsWith("sdxl") ? 16 : 8);
  return { native, multiple: multiple > 0 ? multiple : 8 };
}

const CONTEXT_FLOOR = 32;

/** Python's round(): halves go to the even neighbour (Math.round sends them up). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function fit(lo: number, hi: number, size: number, limit: number): [number, number] {
  const s = Math.min(size, limit);
  const centre = (lo + hi) / 2;
  let start = roundHalfEven(centre - s / 2);
  start = Math.max(0, Math.min(start, limit - s));
  return [start, start + s];
}

/** The crop the daemon denoises around a selection box (daemon/engine/imaging.py context_box):
 * the box plus context of half its mean side (at least 32 px), at least half the native side,
 * snapped up to multiples of 8, kept inside the canvas. */
export function daemonContextBox(selection: Rect, canvas: Size, native: number, multiple = 8): Rect {
  const pad = Math.max(CONTEXT_FLOOR, Math.floor((selection.width + selection.height) / 4));
  const floorSide = Math.floor(native / 2);
  const cw = Math.ceil(Math.max(selection.width + 2 * pad, floorSide) / multiple) * multiple;
  const ch = Math.ceil(Math.max(selection.height + 2 * pad, floorSide) / multiple) * multiple;
  const [x0, x1] = fit(selection.x, selection.x + selection.width, cw, canvas.width);
  const [y0, y1] = fit(selection.y, selection.y + selection.height, ch, canvas.height);
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/**
 * What to read for a fill: the daemon's own context box around the selection plus a safety
 * margin, clamped to the canvas. The daemon then finds the same box inside this crop, so the
 * result is the one it would give on the whole canvas while only this region is read and sent.
 * Falls back to the whole canvas when the model's geometry is unknown or the crop would be
 * most of the canvas anyway. (Keep `margin` even: the daemon rounds a half-pixel centre to even,
 * so only an even shift of the origin finds exactly the same box in the crop.)
 */
export function fillReadRect(selection: Rect, canvas: Size, model: ModelGeometry | undefined, margin = 64): Rect {
  const whole = { x: 0, y: 0, width: canvas.width, height: canvas.height };
  if (model === undefined) return whole;
  const box = daemonContextBox(selection, canvas, model.native, model.multiple);
  const padded = intersect({ x: box.x - margin, y: box.y - margin, width: box.width + 2 * margin, height: box.height + 2 * margin }, whole);
  if (!padded || area(padded) > 0.7 * area(canvas)) return whole;
  return padded;
}

/** Output size for generate: the target's aspect, long side at most `maxSide`, multiples of 8. */
export function generateSize(target: Size, maxSide: number, minSide = 64): Size {
  const scale = Math.min(1, maxSide / Math.max(target.width, target.height));
  const snap = (v: number) => Math.max(minSide, Math.min(maxSide, Math.round((v * scale) / 8) * 8));
  return { width: snap(target.width), height: snap(target.height) };
}

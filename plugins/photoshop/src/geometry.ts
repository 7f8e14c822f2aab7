// Rectangle math in document pixels: what to read around a selection, crops, placement. Pure; no
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

/** Without the checkpoint's `native_side` in welcome.models[]: the largest common one. */
const DEFAULT_NATIVE_SIDE = 1024;

/**
 * What to read for a fill: the selection and a generous margin around it, clamped to the canvas.
 * The job names the canvas and this crop's origin on it (`params.canvas`); the daemon computes
 * its context box on the canvas itself and keeps it to the pixels it was sent. Its context never
 * reaches further from the selection than the selection's long side or the model's native side
 * (plus a snap), so this margin makes the fill the one the whole canvas would give.
 */
export function fillReadRect(selection: Rect, canvas: Size, nativeSide: number | null | undefined): Rect {
  const native = nativeSide && nativeSide > 0 ? nativeSide : DEFAULT_NATIVE_SIDE;
  const margin = Math.max(native, selection.width, selection.height) + 64;
  const grown = { x: selection.x - margin, y: selection.y - margin, width: selection.width + 2 * margin, height: selection.height + 2 * margin };
  return intersect(grown, { x: 0, y: 0, width: canvas.width, height: canvas.height }) ?? { x: 0, y: 0, width: canvas.width, height: canvas.height };
}

/** Output size for generate: the target's aspect, long side at most `maxSide`, multiples of 8. */
export function generateSize(target: Size, maxSide: number, minSide = 64): Size {
  const scale = Math.min(1, maxSide / Math.max(target.width, target.height));
  const snap = (v: number) => Math.max(minSide, Math.min(maxSide, Math.round((v * scale) / 8) * 8));
  return { width: snap(target.width), height: snap(target.height) };
}

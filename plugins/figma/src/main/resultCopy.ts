/**
 * The copy of an image node that carries a result made from that node's own export.
 *
 * `exportAsync` with `useAbsoluteBounds` renders everything inside the node's box: its children,
 * every visible fill (the image and any tint or gradient over it), the part of each stroke that
 * lies inside the edge, and the effects drawn on the node's own pixels (inner shadow, layer blur,
 * noise, texture, glass). The result therefore already shows all of that; a plain clone would draw
 * it a second time on top. The copy keeps only what the export could not hold: the geometry
 * (size, rotation, corner radius, clipping), the part of a stroke outside the edge, and the effects
 * that act outside or behind the box (drop shadow, background blur).
 */

import type { PaintedNode } from "./imageNode";

/** Effects drawn outside the node's box or on what lies behind it: not in the export. */
const OUTSIDE_EFFECTS: ReadonlySet<Effect["type"]> = new Set<Effect["type"]>(["DROP_SHADOW", "BACKGROUND_BLUR"]);

/** A clone of `source` beside it, stripped of what its export already shows, filled with `imageHash`. */
export function resultCopyOf(source: PaintedNode, imageHash: string): PaintedNode {
  const copy = source.clone() as PaintedNode;
  // Without its children an auto-layout frame that hugs them would shrink: fix the size first.
  if ("layoutMode" in copy && copy.layoutMode !== "NONE") copy.layoutMode = "NONE";
  if ("children" in copy) for (const child of [...copy.children]) child.remove();
  copy.fills = [{ type: "IMAGE", imageHash, scaleMode: "FILL" }];
  if ("strokes" in copy) keepOuterStrokes(copy);
  if ("effects" in copy) copy.effects = copy.effects.filter((e) => OUTSIDE_EFFECTS.has(e.type));
  return copy;
}

/**
 * An inside stroke is all in the export; a centred one half of it: what is left is the outer half,
 * an outside stroke of half the weight. An outside stroke stays as it is.
 */
function keepOuterStrokes(node: PaintedNode & MinimalStrokesMixin): void {
  if (node.strokes.length === 0) return;
  switch (node.strokeAlign) {
    case "INSIDE":
      node.strokes = [];
      return;
    case "CENTER":
      if (typeof node.strokeWeight === "number") {
        node.strokeAlign = "OUTSIDE";
        node.strokeWeight = node.strokeWeight / 2;
      } else {
        node.strokes = []; // per-side weights (figma.mixed): no single outer half to keep
      }
      return;
    case "OUTSIDE":
      return;
  }
}

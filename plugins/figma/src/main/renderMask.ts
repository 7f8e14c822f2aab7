/**
 * Renders the shapes drawn over an image as a mask: white where to repaint, black elsewhere, at
 * exactly the image's export size. Works through a temporary frame that is always removed.
 */

import { Cleanup } from "./cleanup";
import { pngSettings } from "./exportNode";
import type { PaintedNode } from "./imageNode";

const WHITE: SolidPaint = { type: "SOLID", color: { r: 1, g: 1, b: 1 } };
const BLACK: SolidPaint = { type: "SOLID", color: { r: 0, g: 0, b: 0 } };

/** The mask of `shapes` over `image` as a PNG the size of `image` exported at `scale`. */
export async function renderMask(
  api: PluginAPI,
  image: PaintedNode,
  shapes: readonly SceneNode[],
  scale: number,
  cleanup: Cleanup = new Cleanup(),
): Promise<Uint8Array> {
  const box = image.absoluteBoundingBox;
  if (box === null) throw new Error(`“${image.name}” has no bounds to mask`);
  const frame = api.createFrame();
  const remove = (): void => {
    if (!frame.removed) frame.remove();
  };
  const done = cleanup.add(remove);
  try {
    frame.name = "Layerbridge mask (temporary)";
    frame.resizeWithoutConstraints(box.width, box.height);
    frame.x = box.x;
    frame.y = box.y;
    frame.fills = [BLACK];
    frame.clipsContent = true;
    for (const shape of shapes) {
      const copy = shape.clone();
      frame.appendChild(copy);
      const [[a, b, tx], [c, d, ty]] = shape.absoluteTransform;
      // The frame sits unrotated at the image's corner on the page: only the origin moves.
      copy.relativeTransform = [
        [a, b, tx - box.x],
        [c, d, ty - box.y],
      ];
      whiten(copy);
    }
    // The same settings as the image's export, so the mask lines up with it pixel for pixel.
    return await frame.exportAsync(pngSettings(scale));
  } finally {
    done();
    remove();
  }
}

/** Paint a node and its descendants opaque white: fills and strokes (a pen stroke is a brush). */
function whiten(node: SceneNode): void {
  node.visible = true;
  if ("opacity" in node) node.opacity = 1;
  if ("blendMode" in node) node.blendMode = "NORMAL";
  if ("effects" in node) node.effects = [];
  if ("isMask" in node && node.isMask) node.isMask = false;
  const hasFill = "fills" in node && Array.isArray(node.fills) && (node.fills as readonly Paint[]).length > 0;
  const hasStroke = "strokes" in node && node.strokes.length > 0;
  if ("fills" in node && (hasFill || !hasStroke)) node.fills = [WHITE];
  if ("strokes" in node && hasStroke) node.strokes = [WHITE];
  if ("children" in node) for (const child of node.children) whiten(child);
}

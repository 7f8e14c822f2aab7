/**
 * Puts finished images into the document: into the selected frame (one generated image), or as a
 * row of new layers beside the source (variations, fills, refines, generates from a sketch).
 * Originals are kept.
 */

import type { FlowKind, PlacedImage } from "../shared/messages";
import { FIGMA_MAX_IMAGE_SIDE, pngSize } from "../shared/size";
import { fillsWithImage, hasFills } from "./imageNode";
import { resultName, rowSlots } from "./layout";
import { resultCopyOf } from "./resultCopy";

/** What the main thread remembers between exporting a request's inputs and placing its results. */
export interface PendingPlacement {
  flow: FlowKind;
  /** A generate that read the source as its control image: results go beside it, not into it. */
  control: boolean;
  sourceId: string;
}

export interface ResultMeta {
  prompt: string;
  model: string;
}

/** Stored on every result so a user (or a later run) can see how it was made. */
export const PLUGIN_DATA_KEY = "layerbridge";

/** Create Figma images from PNGs, refusing what Figma would reject with a clearer message. */
export function createImages(api: PluginAPI, results: readonly PlacedImage[]): Image[] {
  return results.map((r, i) => {
    const size = pngSize(r.png);
    if (size === null) throw new Error(`Result ${i + 1} is not a PNG`);
    if (size.width > FIGMA_MAX_IMAGE_SIDE || size.height > FIGMA_MAX_IMAGE_SIDE) {
      throw new Error(
        `Result ${i + 1} is ${size.width}×${size.height}; Figma takes at most ${FIGMA_MAX_IMAGE_SIDE} px per side`,
      );
    }
    return api.createImage(r.png);
  });
}

export async function placeResults(
  api: PluginAPI,
  pending: PendingPlacement,
  results: readonly PlacedImage[],
  meta: ResultMeta,
): Promise<SceneNode[]> {
  if (results.length === 0) throw new Error("The daemon returned no images");
  const source = await api.getNodeByIdAsync(pending.sourceId);
  if (source === null || source.removed || !isSceneNode(source)) {
    throw new Error("The layer this was made for has been deleted");
  }
  const images = createImages(api, results);
  const record = (node: SceneNode, r: PlacedImage): void =>
    node.setPluginData(PLUGIN_DATA_KEY, JSON.stringify({ prompt: meta.prompt, model: meta.model, seed: r.seed, flow: pending.flow }));

  if (pending.flow === "generate" && !pending.control && results.length === 1 && hasFills(source)) {
    const [image, result] = [images[0], results[0]];
    if (image === undefined || result === undefined) throw new Error("unreachable");
    source.fills = fillsWithImage(source.fills, image.hash);
    record(source, result);
    return [source];
  }

  // Beside the source in its parent, unless that parent would hide, reflow or refuse them: then
  // beside it on the page, in page coordinates.
  const free = placesFreely(source);
  const slots = rowSlots(free ? boundsOf(source) : pageBoundsOf(source), results.length);
  const after = free ? source : topLevelOf(source);
  const placed: SceneNode[] = [];
  results.forEach((result, i) => {
    const image = images[i];
    const slot = slots[i];
    if (image === undefined || slot === undefined) return;
    // A result made from the source's own export goes on a copy of its shape; one made from
    // scratch (or from a sketch) on a new frame of its size.
    const fromExport = (pending.flow === "inpaint" || pending.flow === "refine") && hasFills(source);
    const node = fromExport ? resultCopyOf(source, image.hash) : newFrame(api, source, image.hash);
    insertAfter(placed[placed.length - 1] ?? after, node);
    node.x = slot.x;
    node.y = slot.y;
    node.name = resultName(meta.prompt, result.seed);
    record(node, result);
    placed.push(node);
  });
  return placed;
}

function isSceneNode(node: BaseNode): node is SceneNode {
  return node.type !== "DOCUMENT" && node.type !== "PAGE";
}

function boundsOf(node: SceneNode): { x: number; y: number; width: number; height: number } {
  return { x: node.x, y: node.y, width: node.width, height: node.height };
}

/**
 * False when a result beside `node` in its parent would not show where the row puts it: an
 * ancestor clips its content (the row lands outside it), the parent has auto layout (the row
 * would join the flow and push the siblings), or an instance holds it (Figma refuses new children).
 */
function placesFreely(node: SceneNode): boolean {
  for (let p = node.parent; p !== null && p.type !== "PAGE"; p = p.parent) {
    if (p.type === "INSTANCE") return false;
    if ("clipsContent" in p && p.clipsContent) return false;
    if (p === node.parent && "layoutMode" in p && p.layoutMode !== "NONE") return false;
  }
  return true;
}

function pageBoundsOf(node: SceneNode): { x: number; y: number; width: number; height: number } {
  const box = node.absoluteBoundingBox;
  if (box !== null) return box;
  const [[, , x], [, , y]] = node.absoluteTransform;
  return { x, y, width: node.width, height: node.height };
}

/** The ancestor of `node` (or `node` itself) that sits directly on the page. */
function topLevelOf(node: SceneNode): SceneNode {
  let top: SceneNode = node;
  while (top.parent !== null && top.parent.type !== "PAGE" && top.parent.type !== "DOCUMENT") {
    top = top.parent as SceneNode;
  }
  return top;
}

/** A frame the size of `source` showing the image. */
function newFrame(api: PluginAPI, source: SceneNode, imageHash: string): FrameNode {
  const frame = api.createFrame();
  frame.resizeWithoutConstraints(Math.max(0.01, source.width), Math.max(0.01, source.height));
  frame.fills = [{ type: "IMAGE", imageHash, scaleMode: "FILL" }];
  return frame;
}

/** Results stack just above the source in its parent, in the order they came. */
function insertAfter(previous: SceneNode, node: SceneNode): void {
  const parent = previous.parent;
  if (parent === null || !("insertChild" in parent)) return;
  parent.insertChild(parent.children.indexOf(previous) + 1, node);
}

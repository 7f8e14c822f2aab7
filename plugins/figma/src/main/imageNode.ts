/** Which nodes hold images or can take an image fill, and the native resolution of their image. */

/** A node that carries fills and a size: the only kind of node the plugin reads or writes. */
export type PaintedNode = SceneNode & MinimalFillsMixin & DimensionAndPositionMixin;

const FILL_TARGET_TYPES: ReadonlySet<NodeType> = new Set<NodeType>([
  "FRAME",
  "RECTANGLE",
  "COMPONENT",
  "ELLIPSE",
  "POLYGON",
  "STAR",
]);

const CONTAINER_TYPES: ReadonlySet<NodeType> = new Set<NodeType>([
  "FRAME",
  "GROUP",
  "COMPONENT",
  "INSTANCE",
  "SECTION",
]);

export function hasFills(node: SceneNode): node is PaintedNode {
  return "fills" in node && "width" in node && "height" in node;
}

/** Frames and plain shapes can take a generated image as their fill. */
export function canTakeImageFill(node: SceneNode): node is PaintedNode {
  return FILL_TARGET_TYPES.has(node.type) && hasFills(node);
}

/** Frames, groups, components: what a generate from a sketch exports as a whole. */
export function isContainer(node: SceneNode): boolean {
  return CONTAINER_TYPES.has(node.type);
}

/** The topmost visible image paint of a node, or null. */
export function imagePaintOf(node: SceneNode): ImagePaint | null {
  if (!hasFills(node)) return null;
  const fills = node.fills;
  if (!Array.isArray(fills)) return null; // figma.mixed
  const paints = fills as readonly Paint[];
  for (let i = paints.length - 1; i >= 0; i--) {
    const paint = paints[i];
    if (paint !== undefined && paint.type === "IMAGE" && paint.visible !== false && paint.imageHash) {
      return paint;
    }
  }
  return null;
}

export function isImageNode(node: SceneNode): node is PaintedNode {
  return imagePaintOf(node) !== null;
}

/**
 * How many image pixels one canvas unit of the node holds, so that exporting at this scale keeps
 * the image's native resolution. 1 when the image's size cannot be read.
 */
export async function nativeScale(api: PluginAPI, node: PaintedNode): Promise<number> {
  const paint = imagePaintOf(node);
  if (paint === null || !paint.imageHash || node.width <= 0 || node.height <= 0) return 1;
  const image = api.getImageByHash(paint.imageHash);
  if (image === null) return 1;
  const native = await image.getSizeAsync();
  const sx = native.width / node.width;
  const sy = native.height / node.height;
  switch (paint.scaleMode) {
    case "FIT": // the whole image inside the node: its longer side (relative to the node) spans it
      return Math.max(sx, sy, 1e-3);
    case "FILL": // covers the node, the overflow cut off: the shorter side spans it
      return Math.max(Math.min(sx, sy), 1e-3);
    case "TILE":
      return Math.max(1 / (paint.scalingFactor ?? 1), 1e-3);
    default: // CROP shows a part of the image: the larger ratio keeps every pixel that shows
      return Math.max(sx, sy, 1e-3);
  }
}

/** Fills with `imageHash` as the top image paint, covering the node (FILL). */
export function fillsWithImage(fills: readonly Paint[] | PluginAPI["mixed"], imageHash: string): Paint[] {
  const image: ImagePaint = { type: "IMAGE", imageHash, scaleMode: "FILL" };
  if (!Array.isArray(fills)) return [image];
  const paints = [...(fills as readonly Paint[])];
  for (let i = paints.length - 1; i >= 0; i--) {
    if (paints[i]?.type === "IMAGE") {
      paints[i] = image;
      return paints;
    }
  }
  paints.push(image);
  return paints;
}

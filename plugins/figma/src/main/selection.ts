/** Reads the current selection and says which flows can run on it, and on which nodes. */

import { FLOW_KINDS, type FlowAvailability, type FlowKind, type SelectionInfo } from "../shared/messages";
import { canTakeImageFill, imagePaintOf, isContainer, type PaintedNode } from "./imageNode";

/** The nodes a flow works on, resolved from the selection. */
export type FlowTarget =
  /** A generate fills `node`; with a control image it reads `node` as the sketch instead. */
  | { flow: "generate"; node: PaintedNode; control: false }
  | { flow: "generate"; node: SceneNode; control: true }
  | { flow: "refine"; image: PaintedNode }
  | { flow: "inpaint"; image: PaintedNode; shapes: SceneNode[] };

export type Resolved = { ok: true; target: FlowTarget } | { ok: false; reason: string };

function describe(node: SceneNode): string {
  const size = "width" in node ? ` ${Math.round(node.width)}×${Math.round(node.height)}` : "";
  const kind = node.type.charAt(0) + node.type.slice(1).toLowerCase();
  return `${kind} “${node.name}”${size}`;
}

function boxesOverlap(a: Rect | null, b: Rect | null): boolean {
  if (a === null || b === null) return false;
  return a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;
}

/**
 * Resolve `flow` against the selection, or say in one sentence what to select instead. `control`:
 * a generate reads the selection as its control image (a sketch) rather than filling it.
 */
export function resolveFlow(flow: FlowKind, selection: readonly SceneNode[], control = false): Resolved {
  if (selection.length === 0) {
    return { ok: false, reason: "Select a frame, a shape or an image first." };
  }
  const only = selection.length === 1 ? selection[0] : undefined;
  switch (flow) {
    case "generate":
      if (control) {
        if (only !== undefined && (isContainer(only) || canTakeImageFill(only))) {
          return { ok: true, target: { flow, node: only, control: true } };
        }
        return { ok: false, reason: "Select the frame that holds your sketch." };
      }
      if (only !== undefined && canTakeImageFill(only)) return { ok: true, target: { flow, node: only, control: false } };
      return { ok: false, reason: "Select one frame or rectangle to fill with a generated image." };
    case "refine":
      if (only !== undefined && canTakeImageFill(only) && imagePaintOf(only) !== null) {
        return { ok: true, target: { flow, image: only } };
      }
      return { ok: false, reason: "Select one image (a frame or shape with an image fill)." };
    case "inpaint":
      return resolveInpaint(selection);
  }
}

function resolveInpaint(selection: readonly SceneNode[]): Resolved {
  const images = selection.filter((n): n is PaintedNode => canTakeImageFill(n) && imagePaintOf(n) !== null);
  const image = images[0];
  if (image === undefined || selection.length < 2) {
    return {
      ok: false,
      reason: "Select an image and a shape drawn over it: the shape marks the area to repaint.",
    };
  }
  if (images.length > 1) {
    // Two images: the bottom one is the picture, anything above it marks the mask.
    return { ok: false, reason: "Select exactly one image plus the shapes that mark the area." };
  }
  const t = image.absoluteTransform;
  if (Math.abs(t[0][1]) > 1e-6 || Math.abs(t[1][0]) > 1e-6 || t[0][0] < 0 || t[1][1] < 0) {
    return { ok: false, reason: "The image is rotated or flipped; reset its rotation to fill a region." };
  }
  const shapes = selection.filter((n) => n !== image);
  const box = image.absoluteBoundingBox;
  const outside = shapes.filter((s) => !boxesOverlap(box, s.absoluteBoundingBox));
  if (outside.length > 0) {
    return { ok: false, reason: `“${outside[0]?.name ?? ""}” does not overlap the image.` };
  }
  for (const shape of shapes) {
    const problem = maskProblem(shape);
    if (problem !== null) return { ok: false, reason: problem };
  }
  return { ok: true, target: { flow: "inpaint", image, shapes } };
}

/** Node types whose copy can be painted white in a temporary frame (renderMask). */
const MASK_TYPES: ReadonlySet<NodeType> = new Set<NodeType>([
  "RECTANGLE",
  "ELLIPSE",
  "POLYGON",
  "STAR",
  "VECTOR",
  "LINE",
  "BOOLEAN_OPERATION",
  "FRAME",
  "GROUP",
  "COMPONENT",
  "INSTANCE",
]);

/**
 * Why `shape` (or something inside it) cannot mark the area to repaint, or null. Said here, before
 * any export, instead of the raw error Figma would throw half way: a section cannot go into the
 * temporary frame (sections live only on pages and in sections), text cannot be repainted without
 * its fonts loaded, and a path with neither fill nor stroke paints nothing at all.
 */
export function maskProblem(shape: SceneNode): string | null {
  if (shape.type === "SECTION") return `“${shape.name}” is a section; draw a shape over the area to repaint instead.`;
  if (shape.type === "TEXT") {
    return `“${shape.name}” is text; draw a shape over the area, or outline the text first (Object ▸ Flatten).`;
  }
  if (!MASK_TYPES.has(shape.type)) return `${kindOf(shape)} “${shape.name}” cannot mark an area; draw a shape instead.`;
  if ("children" in shape) {
    for (const child of shape.children) {
      const problem = child.visible ? maskProblem(child) : null;
      if (problem !== null) return problem;
    }
    return null;
  }
  if (!paints(shape, "fills") && !paints(shape, "strokes")) {
    return `“${shape.name}” has neither a fill nor a stroke, so it marks nothing; give it a fill.`;
  }
  return null;
}

function paints(node: SceneNode, key: "fills" | "strokes"): boolean {
  if (!(key in node)) return false;
  const value = (node as unknown as Record<string, unknown>)[key];
  return Array.isArray(value) && (value as readonly Paint[]).some((p) => p.visible !== false);
}

function kindOf(node: SceneNode): string {
  return node.type.charAt(0) + node.type.slice(1).toLowerCase().replace(/_/g, " ");
}

/** What the UI shows about the selection: a label and, per flow, whether it can run. */
export function describeSelection(selection: readonly SceneNode[]): SelectionInfo {
  const availability = (resolved: Resolved): FlowAvailability =>
    resolved.ok ? { ok: true, summary: summarize(resolved.target) } : resolved;
  const flows = {} as Record<FlowKind, FlowAvailability>;
  for (const flow of FLOW_KINDS) flows[flow] = availability(resolveFlow(flow, selection));
  let label = "Nothing selected";
  if (selection.length === 1 && selection[0] !== undefined) label = describe(selection[0]);
  else if (selection.length > 1) label = `${selection.length} layers`;
  return { label, flows, control: availability(resolveFlow("generate", selection, true)) };
}

function summarize(target: FlowTarget): string {
  switch (target.flow) {
    case "generate":
      return target.control ? `Use ${describe(target.node)} as the sketch` : `Fill ${describe(target.node)}`;
    case "refine":
      return `Restyle ${describe(target.image)}`;
    case "inpaint":
      return `Repaint ${describe(target.image)} under ${target.shapes.length} shape${target.shapes.length === 1 ? "" : "s"}`;
  }
}

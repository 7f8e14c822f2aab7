/** PNG export of nodes at a chosen pixel scale, bounded by Figma's 4096 px image limit. */

import type { Size } from "../shared/messages";
import { FIGMA_MAX_IMAGE_SIDE } from "../shared/size";

export interface ExportPlan {
  /** Pixels per canvas unit. */
  scale: number;
  /** The PNG's expected size. */
  size: Size;
  /** Set when the wanted scale had to shrink to stay within the limit. */
  note?: string;
}

/**
 * The scale at which to export a node of `node` canvas units when `wanted` pixels per unit are
 * asked for: lowered so neither side exceeds `maxSide`, since the result must come back into Figma.
 */
export function exportPlan(node: Size, wanted: number, maxSide: number = FIGMA_MAX_IMAGE_SIDE): ExportPlan {
  const longest = Math.max(node.width, node.height);
  const want = wanted > 0 && Number.isFinite(wanted) ? wanted : 1;
  const scale = longest * want > maxSide ? maxSide / longest : want;
  const size = {
    width: Math.max(1, Math.min(maxSide, Math.round(node.width * scale))),
    height: Math.max(1, Math.min(maxSide, Math.round(node.height * scale))),
  };
  if (scale >= want) return { scale, size };
  const full = `${Math.round(node.width * want)}×${Math.round(node.height * want)}`;
  return {
    scale,
    size,
    note: `Worked at ${size.width}×${size.height} instead of ${full} (at most ${maxSide} px per side).`,
  };
}

/** The node as PNG at `scale`, sized by its bounds (not by what it happens to render). */
export function exportPng(node: SceneNode, scale: number): Promise<Uint8Array> {
  return node.exportAsync({
    format: "PNG",
    constraint: { type: "SCALE", value: scale },
    useAbsoluteBounds: true,
  });
}

/** Export `node` with `hidden` (its own descendants, e.g. the mask shapes) hidden meanwhile. */
export async function exportPngWithout(
  node: SceneNode,
  hidden: readonly SceneNode[],
  scale: number,
): Promise<Uint8Array> {
  const inside = hidden.filter((h) => isDescendant(h, node) && h.visible);
  for (const h of inside) h.visible = false;
  try {
    return await exportPng(node, scale);
  } finally {
    for (const h of inside) h.visible = true;
  }
}

export function isDescendant(node: BaseNode, ancestor: BaseNode): boolean {
  for (let p = node.parent; p !== null; p = p.parent) if (p === ancestor) return true;
  return false;
}

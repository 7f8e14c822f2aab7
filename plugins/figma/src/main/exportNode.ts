/** PNG export of nodes at a chosen pixel scale, bounded by Figma's 4096 px image limit. */

import type { Size } from "../shared/messages";
import { FIGMA_MAX_IMAGE_SIDE } from "../shared/size";
import { Cleanup } from "./cleanup";

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

/**
 * Exports in sRGB whatever the file's profile. The default, "DOCUMENT", hands a Display P3 file's
 * P3 values over as they are; the models were trained on sRGB pixels and the daemon returns sRGB
 * PNGs, so every colour would shift on the way through (P3 values read as sRGB come out duller).
 * "SRGB" has Figma convert on the way out, so what the daemon sees is what the designer sees
 * (colours outside sRGB are clipped: the models cannot make them either).
 */
export const EXPORT_COLOR_PROFILE = "SRGB" as const;

/** PNG export settings at `scale`, sized by the node's bounds (not by what it happens to render). */
export function pngSettings(scale: number): ExportSettingsImage {
  return {
    format: "PNG",
    constraint: { type: "SCALE", value: scale },
    useAbsoluteBounds: true,
    colorProfile: EXPORT_COLOR_PROFILE,
  };
}

/** The node as PNG at `scale`. */
export function exportPng(node: SceneNode, scale: number): Promise<Uint8Array> {
  return node.exportAsync(pngSettings(scale));
}

/** Export `node` with `hidden` (its own descendants, e.g. the mask shapes) hidden meanwhile. */
export async function exportPngWithout(
  node: SceneNode,
  hidden: readonly SceneNode[],
  scale: number,
  cleanup: Cleanup = new Cleanup(),
): Promise<Uint8Array> {
  const inside = hidden.filter((h) => isDescendant(h, node) && h.visible);
  const show = (): void => {
    for (const h of inside) if (!h.removed) h.visible = true;
  };
  for (const h of inside) h.visible = false;
  const done = cleanup.add(show);
  try {
    return await exportPng(node, scale);
  } finally {
    done();
    show();
  }
}

export function isDescendant(node: BaseNode, ancestor: BaseNode): boolean {
  for (let p = node.parent; p !== null; p = p.parent) if (p === ancestor) return true;
  return false;
}

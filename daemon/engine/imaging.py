"""The pixel math of editing, torch-free: where to crop around a selection, the denoise and
composite masks, pre-fills of the masked area, colour matching and compositing.

Arrays: images are uint8 (h, w, 3); masks are float32 (h, w) in 0..1. Boxes are
(x0, y0, x1, y1) in canvas pixels, end-exclusive.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

Box = tuple[int, int, int, int]

CONTEXT_FLOOR = 32  # px of context around even the smallest selection


def snap_up(value: float, multiple: int) -> int:
    return int(math.ceil(value / multiple) * multiple)


def snap(value: float, multiple: int) -> int:
    return max(multiple, int(round(value / multiple)) * multiple)


def mask_bbox(mask: np.ndarray, threshold: float = 0.0) -> Box | None:
    """Bounding box of mask pixels above `threshold`; None when there are none."""
    ys, xs = np.nonzero(mask > threshold)
    if len(xs) == 0:
        return None
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _fit(lo: int, hi: int, size: int, start: int, end: int) -> tuple[int, int]:
    """An interval of length `size` (at most end - start) inside [start, end), covering [lo, hi)
    as far as it can, centred on it."""
    size = min(size, end - start)
    centre = (lo + hi) / 2
    first = int(round(centre - size / 2))
    first = max(start, min(first, end - size))
    return first, first + size


def context_box(bbox: Box, canvas: tuple[int, int], *, native: int, multiple: int,
                within: Box | None = None) -> Box:
    """The crop to denoise: the selection's box plus context that grows with the selection
    (half its mean side, at least CONTEXT_FLOOR px), at least half the native side, sides
    snapped up to `multiple`, kept inside the canvas (then only as large as the canvas).

    `within`: the part of the canvas whose pixels are at hand (an image cut from a larger
    document). The box is the one the whole canvas would give whenever that box lies within
    it, else the nearest that does: a client may send a generous crop instead of the canvas."""
    x0, y0, x1, y1 = bbox
    w, h = x1 - x0, y1 - y0
    pad = max(CONTEXT_FLOOR, (w + h) // 4)
    floor_side = native // 2
    cw = snap_up(max(w + 2 * pad, floor_side), multiple)
    ch = snap_up(max(h + 2 * pad, floor_side), multiple)
    # fitting in canvas ∩ within equals fitting in the canvas whenever that result lies within
    ax0, ay0, ax1, ay1 = within if within is not None else (0, 0, *canvas)
    ax0, ay0, ax1, ay1 = max(0, ax0), max(0, ay0), min(canvas[0], ax1), min(canvas[1], ay1)
    bx0, bx1 = _fit(x0, x1, cw, ax0, ax1)
    by0, by1 = _fit(y0, y1, ch, ay0, ay1)
    return bx0, by0, bx1, by1


def processing_size(box: Box, *, native: int, multiple: int) -> tuple[int, int]:
    """The size the crop is denoised at: the model's native pixel budget (native²), same
    aspect, sides multiples of `multiple`. Never more pixels than native²."""
    w, h = box[2] - box[0], box[3] - box[1]
    scale = math.sqrt(native * native / (w * h))
    pw, ph = snap(w * scale, multiple), snap(h * scale, multiple)
    while pw * ph > native * native and max(pw, ph) > multiple:
        if pw >= ph:
            pw -= multiple
        else:
            ph -= multiple
    return pw, ph


def _disk(radius: int) -> np.ndarray:
    side = 2 * radius + 1
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))


def _blur(mask: np.ndarray, radius: float) -> np.ndarray:
    """A Gaussian whose support is `radius` px (kernel 2r+1, sigma r/2)."""
    r = int(round(radius))
    if r < 1:
        return mask.astype(np.float32)
    return cv2.GaussianBlur(
        mask.astype(np.float32), (2 * r + 1, 2 * r + 1), r / 2.0, borderType=cv2.BORDER_REPLICATE
    )


@dataclass(frozen=True)
class Feather:
    """Mask softening for one selection, in canvas pixels."""

    grow: int  # denoise mask: dilation
    feather: int  # denoise mask: blur
    blend: int  # composite mask: erosion and blur

    @staticmethod
    def for_bbox(bbox: Box) -> Feather:
        w, h = bbox[2] - bbox[0], bbox[3] - bbox[1]
        feather = int(min(24, max(2, round(0.06 * math.sqrt(w * h)))))
        blend = int(max(1, min(16, feather // 2, min(w, h) // 6)))
        return Feather(grow=4 + feather // 2, feather=feather, blend=blend)


def denoise_mask(mask: np.ndarray, f: Feather) -> np.ndarray:
    """Where the model may change pixels: the selection grown and feathered (never below it)."""
    hard = (mask > 0).astype(np.uint8)
    grown = cv2.dilate(hard, _disk(f.grow)) if f.grow > 0 else hard
    soft = _blur(grown, f.feather)  # a blur of 0/1 stays within 0..1
    return cv2.max(soft, mask.astype(np.float32))


def composite_mask(mask: np.ndarray, f: Feather) -> np.ndarray:
    """Where the result replaces the original: the selection thresholded, eroded then blurred
    by `blend`, so it fades in at the edge and never reaches outside the selection."""
    hard = (mask >= 0.5).astype(np.uint8)
    if not hard.any():
        hard = (mask > 0).astype(np.uint8)
    r = f.blend
    eroded = cv2.erode(hard, _disk(r), borderType=cv2.BORDER_REPLICATE) if r > 0 else hard
    alpha = cv2.multiply(_blur(eroded, r), hard.astype(np.float32))  # 0 outside the selection
    # a part of the selection thinner than the erosion (a wire beside a blob) would get no alpha
    # at all and silently stay as it was: such parts are taken as they are
    count, labels = cv2.connectedComponents(hard, connectivity=8)
    if count > 1:
        reached = np.zeros(count, bool)
        reached[labels[alpha > 0]] = True
        lost = ~reached[labels] & (hard > 0)
        alpha[lost] = mask[lost]
    return alpha


def seam_mask(size: tuple[int, int], inner: Box, seam: int) -> tuple[np.ndarray, np.ndarray]:
    """Masks of an expanded canvas of `size` whose original sits at `inner`: (selection, composite).
    The selection is the new area plus `seam` px into the original; the composite is 1 on the
    new area and fades to 0 across the seam."""
    w, h = size
    x0, y0, x1, y1 = inner
    keep = np.zeros((h, w), np.float32)
    keep[y0:y1, x0:x1] = 1.0
    new = 1.0 - keep
    if seam <= 0:
        return new, new.copy()
    # distance (inside the original) to the new area, for a linear fade
    if not new.any():
        return new, new.copy()
    dist: Any = cv2.distanceTransform((keep > 0).astype(np.uint8), cv2.DIST_L2, 3)
    selection = (dist <= seam).astype(np.float32)
    # 1 - (dist - 0.5) / seam, clipped to 0..1, in place (these arrays are canvas-sized)
    composite = dist
    composite -= 0.5
    composite *= -1.0 / seam
    composite += 1.0
    np.clip(composite, 0.0, 1.0, out=composite)
    # sides of the original that touch no new area must not fade (distanceTransform sees the
    # canvas border as far away, which is what we want: only margins count)
    return np.maximum(selection, new), np.maximum(composite, new)


# ---------------------------------------------------------------------- fills


def fill(image: np.ndarray, mask: np.ndarray, mode: str, seed: int = 0) -> np.ndarray:
    """`image` with the masked area (mask > 0.5 weight) pre-filled: keep, blur, edge, noise."""
    if mode == "keep":
        return image
    hole = mask > 0.5
    if not hole.any():
        return image
    if mode == "blur":
        filled = _blur_fill(image, hole)
    elif mode == "edge":
        filled = edge_extend(image, hole)
    elif mode == "noise":
        rng = np.random.default_rng(seed)
        ring = _ring(hole, 8)
        mean = image[ring].mean(axis=0) if ring.any() else np.full(3, 127.0)
        noise = rng.normal(0, 48, image.shape)
        filled = np.clip(mean + noise, 0, 255).astype(np.uint8)
    else:
        raise ValueError(f"unknown fill mode {mode!r}")
    w = np.clip(mask, 0, 1).astype(np.float32)
    return cv2.blendLinear(filled, image, w, 1.0 - w)


def _ring(hole: np.ndarray, width: int) -> np.ndarray:
    grown: np.ndarray = cv2.dilate(hole.astype(np.uint8), _disk(width)) > 0
    ring: np.ndarray = grown & ~hole
    return ring


def _blur_fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Masked pixels from a wide blur of the unmasked ones (normalised convolution)."""
    known = (~hole).astype(np.float32)
    sigma = max(4.0, max(image.shape[:2]) / 8)
    num = cv2.GaussianBlur(image.astype(np.float32) * known[..., None], (0, 0), sigma)
    den = cv2.GaussianBlur(known, (0, 0), sigma)[..., None]
    mean = image[~hole].mean(axis=0) if (~hole).any() else np.full(3, 127.0)
    out = np.where(den > 1e-3, num / np.maximum(den, 1e-3), mean)
    return np.clip(out, 0, 255).astype(np.uint8)


def edge_extend(image: np.ndarray, hole: np.ndarray, *, work_side: int = 192) -> np.ndarray:
    """Masked pixels continued from the edges (Telea inpainting at a small working size, then
    blurred): a cheap, plausible start for denoising."""
    h, w = hole.shape
    scale = min(1.0, work_side / max(h, w))
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    small = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
    small_hole = cv2.resize(hole.astype(np.uint8) * 255, (sw, sh), interpolation=cv2.INTER_NEAREST)
    if (small_hole == 255).all():
        return np.full_like(image, 127)
    filled = cv2.inpaint(small, small_hole, 3, cv2.INPAINT_TELEA)
    filled = cv2.GaussianBlur(filled, (0, 0), max(1.0, min(sw, sh) / 32))
    return cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)


def extend_canvas(image: np.ndarray, left: int, top: int, right: int, bottom: int) -> np.ndarray:
    """The image on a larger canvas, the new area pre-filled by edge extension and blur; the
    original pixels are exactly kept."""
    big = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_REPLICATE)
    hole = np.ones(big.shape[:2], bool)
    hole[top : top + image.shape[0], left : left + image.shape[1]] = False
    sigma = max(2.0, max(left, top, right, bottom) / 4)
    # blur at a reduced size: a wide kernel over a whole 4096² canvas would cost seconds
    f = max(1.0, sigma / 4)
    h, w = big.shape[:2]
    small = cv2.resize(
        big, (max(1, round(w / f)), max(1, round(h / f))), interpolation=cv2.INTER_AREA
    )
    blurred = cv2.resize(
        cv2.GaussianBlur(small, (0, 0), sigma / f), (w, h), interpolation=cv2.INTER_LINEAR
    )
    big[hole] = blurred[hole]
    return big


# ---------------------------------------------------------------------- finishing


def match_colour(
    result: np.ndarray, original: np.ndarray, selection: np.ndarray, width: int = 8
) -> np.ndarray:
    """Shift `result`'s colour so its ring just outside the selection has the original's mean."""
    hole = selection >= 0.5
    ring = _ring(hole, width).astype(np.uint8)
    if cv2.countNonZero(ring) < 16:
        return result
    shift = np.array(cv2.mean(original, mask=ring)[:3]) - np.array(cv2.mean(result, mask=ring)[:3])
    # one lookup table per channel: fast on canvas-sized results
    lut = np.clip(np.arange(256)[:, None] + shift[None, :] + 0.5, 0, 255).astype(np.uint8)
    return cv2.LUT(result, lut.reshape(256, 1, 3))


def composite(original: np.ndarray, result: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """result over original with `alpha` (0..1); where alpha is 0 the original is kept exactly."""
    a = np.clip(alpha, 0, 1).astype(np.float32)
    return cv2.blendLinear(result, original, a, 1.0 - a)


def rgba_patch(original: np.ndarray, result: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """An RGBA layer: the result's colour where alpha > 0 (the original elsewhere), alpha 0..255."""
    rgb = result.copy()
    cv2.copyTo(original, (alpha <= 0).astype(np.uint8), rgb)
    rgba = cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA)
    rgba[..., 3] = cv2.convertScaleAbs(alpha, alpha=255.0)
    return rgba

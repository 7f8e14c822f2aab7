"""inpaint and expand: crop the selection plus context, denoise it at the model's native pixel
budget, composite back with a feathered mask and return only the patch and where it lands.
Cost follows the selection, not the canvas: only the crop is ever converted or resized.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from PIL import Image

from ..errors import InvalidInput
from ..protocol.messages import Region
from . import control, imaging
from .api import EngineImage

if TYPE_CHECKING:
    from .engine import Sampler

DEFAULT_STRENGTH = 1.0


def _denoise(
    s: Sampler,
    nets: list[Any],
    crop: np.ndarray,
    selection: np.ndarray,
    box: imaging.Box,
    feather: imaging.Feather,
    fill_mode: str,
    control_offset: tuple[int, int] = (0, 0),
) -> list[np.ndarray]:
    """Denoise one crop; returns the batch's results at the crop's size."""
    p = s.job.params
    strength = DEFAULT_STRENGTH if p.strength is None else p.strength
    size = imaging.processing_size(box, native=s.native, multiple=s.multiple)
    dmask = imaging.denoise_mask(selection, feather)
    filled = imaging.fill(crop, dmask, fill_mode, seed=s.job.seed)
    bw, bh = box[2] - box[0], box[3] - box[1]
    if int(p.steps * strength) < 1:  # strength 0 keeps everything
        return [filled] * p.batch
    down = cv2.INTER_AREA if size[0] < bw else cv2.INTER_LANCZOS4
    image = Image.fromarray(cv2.resize(filled, size, interpolation=down), "RGB")
    grey = cv2.convertScaleAbs(dmask, alpha=255.0)
    mask = Image.fromarray(cv2.resize(grey, size, interpolation=cv2.INTER_LINEAR), "L")
    ox, oy = control_offset
    cbox = (box[0] + ox, box[1] + oy, box[2] + ox, box[3] + oy)
    maps = [c.map(size, cbox) for c in s.job.controls]
    pipe = s.pipe(control.task("inpaint", s.job.controls, nets), **control.components(nets))
    kwargs: dict[str, Any] = dict(
        image=image, mask_image=mask, strength=strength, width=size[0], height=size[1]
    )
    out = s(pipe, **kwargs, **control.call_kwargs(s.job.controls, maps, "control_image"))
    results = []
    for img in out:
        arr = np.asarray(img.convert("RGB"))
        if arr.shape[:2] != (bh, bw):  # OpenCV: threaded, much faster than PIL on big crops
            arr = cv2.resize(arr, (bw, bh), interpolation=cv2.INTER_LANCZOS4)
        results.append(arr)
    return results


def _context_box(s: Sampler, bbox: imaging.Box, size: tuple[int, int]) -> imaging.Box:
    """The crop to denoise, in the image's pixels. With a canvas (the image was cut from a
    document at canvas.x/y) it is computed on the document, as if the whole canvas had been
    sent, and kept to the part that was: the result does not depend on how the client cropped."""
    canvas = s.job.params.canvas
    if canvas is None:
        return imaging.context_box(bbox, size, native=s.native, multiple=s.multiple)
    ox, oy = canvas.x, canvas.y
    x0, y0, x1, y1 = imaging.context_box(
        (bbox[0] + ox, bbox[1] + oy, bbox[2] + ox, bbox[3] + oy), (canvas.width, canvas.height),
        native=s.native, multiple=s.multiple, within=(ox, oy, ox + size[0], oy + size[1]))
    return x0 - ox, y0 - oy, x1 - ox, y1 - oy


def inpaint(s: Sampler, nets: list[Any]) -> list[EngineImage]:
    job = s.job
    assert job.image is not None and job.mask is not None
    mask_img = job.mask.convert("L")
    bbox = mask_img.getbbox()  # C speed even on a 4096² canvas
    if bbox is None:
        raise InvalidInput("mask", job.params.mask, "is empty (all black): nothing to inpaint")
    box = _context_box(s, bbox, job.image.size)
    crop = np.asarray(job.image.crop(box).convert("RGB"))
    selection = np.asarray(mask_img.crop(box), dtype=np.float32) / 255.0
    feather = imaging.Feather.for_bbox(bbox)
    results = _denoise(s, nets, crop, selection, box, feather, job.params.fill)
    alpha = imaging.composite_mask(selection, feather)
    inner = imaging.mask_bbox(alpha)
    assert inner is not None  # composite_mask keeps parts thinner than the blend as selected
    x0, y0, x1, y1 = inner
    region = Region(x=box[0] + x0, y=box[1] + y0, width=x1 - x0, height=y1 - y0)
    out = []
    for i, result in enumerate(results):
        matched = imaging.match_colour(result, crop, selection)
        patch = imaging.rgba_patch(crop, matched, alpha)[y0:y1, x0:x1]
        out.append(
            EngineImage(Image.fromarray(np.ascontiguousarray(patch), "RGBA"), region, job.seed + i)
        )
    return out


def expand(s: Sampler, nets: list[Any]) -> list[EngineImage]:
    job = s.job
    assert job.image is not None and job.params.margins is not None
    m = job.params.margins
    src = np.asarray(job.image.convert("RGB"))
    h, w = src.shape[:2]
    big = imaging.extend_canvas(src, m.left, m.top, m.right, m.bottom)
    bh, bw = big.shape[:2]
    seam = int(max(2, min(32, min(w, h) // 8)))
    selection, comp = imaging.seam_mask((bw, bh), (m.left, m.top, m.left + w, m.top + h), seam)
    bbox = imaging.mask_bbox(selection)
    assert bbox is not None  # the protocol guarantees a margin > 0
    box = imaging.context_box(bbox, (bw, bh), native=s.native, multiple=s.multiple)
    x0, y0, x1, y1 = box
    crop = big[y0:y1, x0:x1]
    sel = selection[y0:y1, x0:x1]
    feather = imaging.Feather(grow=2, feather=max(2, seam // 2), blend=0)
    results = _denoise(s, nets, crop, sel, box, feather, "keep", control_offset=(-m.left, -m.top))
    region = Region(x=-m.left, y=-m.top, width=bw, height=bh)
    out = []
    for i, result in enumerate(results):
        matched = imaging.match_colour(result, crop, sel)
        canvas = big.copy()
        canvas[y0:y1, x0:x1] = imaging.composite(crop, matched, comp[y0:y1, x0:x1])
        rgba = cv2.cvtColor(canvas, cv2.COLOR_RGB2RGBA)  # opaque
        out.append(EngineImage(Image.fromarray(rgba, "RGBA"), region, job.seed + i))
    return out

"""ControlNet preprocessors, in-process with opencv and numpy (no downloads): an RGB image at
the size the ControlNet will see in, a control map out. Torch-free."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image


def _grey(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.uint8)


def _rgb(channel: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(np.repeat(channel[..., None], 3, axis=2)), "RGB")


def canny(image: Image.Image, low: int = 100, high: int = 200) -> Image.Image:
    """White edges on black (cv2.Canny with hysteresis thresholds `low`/`high`)."""
    return _rgb(cv2.Canny(_grey(image), low, high))


def scribble(image: Image.Image) -> Image.Image:
    """Thick, simplified white strokes on black: edges of a smoothed image, dilated."""
    g = cv2.GaussianBlur(_grey(image), (5, 5), 0)
    edges = cv2.Canny(g, 50, 120)
    side = max(3, (min(image.size) // 128) * 2 + 1)
    thick = cv2.dilate(edges, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side)))
    return _rgb(thick)


def lineart(image: Image.Image, threshold: int = 8) -> Image.Image:
    """Clean white lines on black: where a pixel is darker than its neighbourhood's brightest
    (a dilation difference, the 'lineart standard' idea), thresholded."""
    g = cv2.GaussianBlur(_grey(image).astype(np.float32), (0, 0), 1.0)
    intensity = cv2.dilate(g, np.ones((3, 3), np.uint8)) - g
    scale = max(float(np.percentile(intensity, 99.5)), 1.0)
    line = np.clip(intensity * (255.0 / scale), 0, 255).astype(np.uint8)
    line[line < threshold * 4] = 0
    return _rgb(line)


def softedge(image: Image.Image) -> Image.Image:
    """Soft grey edge strength (Sobel magnitude, smoothed, normalised): a HED-like map."""
    g = cv2.GaussianBlur(_grey(image).astype(np.float32), (0, 0), 1.5)
    mag = cv2.magnitude(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
    mag = cv2.GaussianBlur(mag, (0, 0), 1.0)
    peak = max(float(mag.max()), 1e-6)
    return _rgb(np.clip(mag * (255.0 / peak), 0, 255).astype(np.uint8))


def tile(image: Image.Image, factor: int = 4) -> Image.Image:
    """The image down- then up-scaled: the tile ControlNet keeps layout and colour, adds detail."""
    w, h = image.size
    small = image.convert("RGB").resize(
        (max(1, w // factor), max(1, h // factor)), Image.Resampling.BOX
    )
    return small.resize((w, h), Image.Resampling.BICUBIC)


def mlsd(image: Image.Image) -> Image.Image:
    """Straight line segments, white on black: OpenCV's LSD line segment detector (the map
    M-LSD ControlNets follow: walls, edges of buildings and furniture, no curves)."""
    grey = _grey(image)
    lines = cv2.createLineSegmentDetector().detect(grey)[0]
    out = np.zeros_like(grey)
    width = max(1, min(image.size) // 256)
    for x0, y0, x1, y1 in ([] if lines is None else lines.reshape(-1, 4)):
        cv2.line(out, (round(x0), round(y0)), (round(x1), round(y1)), 255, width, cv2.LINE_8)
    return _rgb(out)


def none(image: Image.Image) -> Image.Image:
    """A map the client already made."""
    return image.convert("RGB")


PREPROCESSORS: dict[str, Callable[..., Image.Image]] = {
    "canny": canny,
    "scribble": scribble,
    "lineart": lineart,
    "softedge": softedge,
    "tile": tile,
    "mlsd": mlsd,
    "none": none,
}


def preprocess(kind: str, image: Image.Image, *, low: int = 100, high: int = 200) -> Image.Image:
    """The map of `kind` made from `image`; an image of a kind with no preprocessor here (depth,
    normal, openpose, segmentation, shuffle, inpaint) is the map already and is used as it is."""
    if kind == "canny":
        return canny(image, low, high)
    return PREPROCESSORS.get(kind, none)(image)

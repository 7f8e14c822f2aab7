"""Helpers of the engine tests: job params, inputs, progress sinks."""

from __future__ import annotations

from typing import Any

import numpy as np
from layerbridge.daemon.engine.api import StepProgress
from layerbridge.daemon.engine.engine import DiffusersEngine
from layerbridge.daemon.protocol.messages import JobParams
from PIL import Image


class Progress:
    def __init__(self) -> None:
        self.events: list[StepProgress] = []

    def __call__(self, event: StepProgress) -> None:
        self.events.append(event)


def sha(n: int) -> str:
    return f"{n:064x}"


def params(kind: str = "generate", **kw: Any) -> JobParams:
    base: dict[str, Any] = dict(
        kind=kind, model="demo", prompt="a red cat", steps=3, width=64, height=64
    )
    if kind != "generate":
        base.pop("width"), base.pop("height")
        base["image"] = sha(1)
    if kind == "inpaint":
        base["mask"] = sha(2)
    base.update(kw)
    return JobParams(**base)


def run(engine: DiffusersEngine, p: JobParams, seed: int = 1, **inputs: Image.Image) -> list[Any]:
    fixed = {k.replace("__", "."): v for k, v in inputs.items()}
    return engine.run(p, seed, fixed, Progress(), lambda: False)


def gradient(w: int, h: int, seed: int = 0) -> Image.Image:
    """A smooth test picture with some structure (edges for the preprocessors)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack(
        [x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 127 // max(w + h - 2, 1)],
        axis=2,
    )
    img[h // 4 : h // 2, w // 4 : w // 2] = rng.integers(0, 255, 3)
    return Image.fromarray(img.astype(np.uint8), "RGB")


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)

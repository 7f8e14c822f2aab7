"""Preprocessor models registered like any model: a transformers depth estimator (DPT,
Depth-Anything, ... anything `AutoModelForDepthEstimation` reads) turning a picture into the
depth map a depth ControlNet follows. Loaded on demand, kept resident like a ControlNet."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..errors import ModelLoadError
from .registry import ModelEntry


class DepthEstimator:
    """Call with an RGB image; returns its depth map (near is bright, as the depth ControlNets
    were trained on) at the image's size."""

    def __init__(self, path: Path) -> None:
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        self.processor = AutoImageProcessor.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForDepthEstimation.from_pretrained(path, local_files_only=True)
        self.model.eval()

    def to(self, device: torch.device, dtype: torch.dtype) -> DepthEstimator:
        self.model.to(device, dtype)
        return self

    def __call__(self, image: Image.Image) -> Image.Image:
        param = next(self.model.parameters())
        inputs = self.processor(images=image.convert("RGB"), return_tensors="pt")
        pixels = inputs["pixel_values"].to(param.device, param.dtype)
        with torch.inference_mode():
            depth = self.model(pixel_values=pixels).predicted_depth  # [1, h, w], relative
        depth = torch.nn.functional.interpolate(
            depth[:, None].float(), size=(image.height, image.width), mode="bicubic"
        )[0, 0]
        lo, hi = float(depth.min()), float(depth.max())
        scaled = (depth - lo) / max(hi - lo, 1e-6) * 255.0
        grey = scaled.clamp(0, 255).round().to(torch.uint8).cpu().numpy()
        return Image.fromarray(np.repeat(grey[..., None], 3, axis=2), "RGB")


def load_estimator(entry: ModelEntry, *, field: str) -> Any:
    try:
        return DepthEstimator(entry.path)
    except Exception as exc:  # noqa: BLE001 - any failure to read the files is the model's
        raise ModelLoadError(
            f"{field}={entry.id!r}: depth estimator files cannot be loaded "
            f"({type(exc).__name__}: {str(exc)[:300]})",
            field=field,
        ) from exc

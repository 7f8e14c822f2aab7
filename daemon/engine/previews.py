"""Per-step previews: a linear projection of the latents to RGB (~0.1 ms), per architecture.
The factors are the widely used approximations for SD-1.x/2.x and SDXL latent spaces."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from .detect import base_arch

FACTORS = {
    "sd15": (
        [
            [0.3512, 0.2297, 0.3227],
            [0.3250, 0.4974, 0.2350],
            [-0.2829, 0.1762, 0.2721],
            [-0.2120, -0.2616, -0.7177],
        ],
        [0.0, 0.0, 0.0],
    ),
    "sdxl": (
        [
            [0.3651, 0.4232, 0.4341],
            [-0.2533, -0.0042, 0.1068],
            [0.1076, 0.1111, -0.0362],
            [-0.3165, -0.2492, -0.6262],
        ],
        [0.1084, -0.0175, -0.0011],
    ),
}
FACTORS["sd2"] = FACTORS["sd15"]


def latents_to_rgb(latents: torch.Tensor, arch: str, *, index: int = 0) -> Image.Image:
    """The first (or `index`th) latent of a batch as a small RGB image (latent resolution)."""
    weights, bias = FACTORS.get(base_arch(arch), FACTORS["sd15"])
    lat = latents[index, :4].detach().to("cpu", torch.float32)  # (4, h, w)
    w = torch.tensor(weights, dtype=torch.float32)
    rgb = torch.einsum("chw,cr->hwr", lat, w) + torch.tensor(bias, dtype=torch.float32)
    arr = ((rgb.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    return Image.fromarray(np.ascontiguousarray(arr), "RGB")

"""SDXL jobs, and per-step previews for every job kind with the architecture's projection."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from layerbridge.daemon.engine.engine import DiffusersEngine
from layerbridge.daemon.engine.previews import latents_to_rgb
from layerbridge.daemon.protocol.messages import Margins
from PIL import Image

from .helpers import Progress, gradient, params, run


def test_sdxl_generate_and_refine(engine: DiffusersEngine) -> None:
    [gen] = run(engine, params(model="demo-xl", width=64, height=96))
    assert gen.image.size == (64, 96)
    [ref] = run(engine, params("refine", model="demo-xl", strength=0.7), image=gradient(80, 64))
    assert ref.image.size == (80, 64)
    again = run(engine, params(model="demo-xl", width=64, height=96))[0]
    assert again.image.tobytes() == gen.image.tobytes()


def test_sdxl_defaults_to_its_native_size(engine: DiffusersEngine) -> None:
    [out] = run(engine, params(model="demo-xl", width=None, height=None, steps=1))
    assert out.image.size == (128, 128)


def test_sdxl_and_sd_previews_use_their_own_projection() -> None:
    lat = torch.randn(1, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    sd = latents_to_rgb(lat, "sd15")
    xl = latents_to_rgb(lat, "sdxl-inpaint")
    assert sd.size == xl.size == (8, 8)
    assert sd.tobytes() != xl.tobytes()


def mask() -> Image.Image:
    m = Image.new("L", (96, 96), 0)
    m.paste(255, (24, 24, 72, 72))
    return m


@pytest.mark.parametrize("model", ["demo", "demo-xl", "demo-inpaint", "demo-xl-inpaint"])
@pytest.mark.parametrize("kind", ["generate", "refine", "inpaint", "expand"])
def test_every_job_kind_reports_steps_with_previews(
    engine: DiffusersEngine, model: str, kind: str
) -> None:
    p = params(
        kind, model=model, steps=2, **({"margins": Margins(top=16)} if kind == "expand" else {})
    )
    if kind == "refine":
        p = p.model_copy(update={"strength": 1.0})
    inputs = {"image": gradient(96, 96), "mask": mask()}
    if kind != "inpaint":
        inputs.pop("mask")
    if kind == "generate":
        inputs.pop("image")
    progress = Progress()
    engine.run(p, 1, inputs, progress, lambda: False)
    assert [(e.step, e.steps) for e in progress.events] == [(1, 2), (2, 2)]
    assert all(e.preview is not None for e in progress.events)  # interval 0 in the fixture
    assert np.asarray(progress.events[-1].preview).std() > 0

"""generate (txt2img) and refine (img2img), with or without ControlNets. A checkpoint with an
inpainting UNet runs them through its inpaint pipeline with a full mask."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PIL import Image

from ..protocol.messages import Region
from . import control
from .api import EngineImage

if TYPE_CHECKING:
    from .engine import Sampler

DEFAULT_REFINE_STRENGTH = 0.75


def _results(s: Sampler, images: list[Image.Image], region: Region) -> list[EngineImage]:
    return [
        EngineImage(image=img.convert("RGB"), region=region, seed=s.job.seed + i)
        for i, img in enumerate(images)
    ]


def run_whole(
    s: Sampler, nets: list[Any], image: Image.Image | None, strength: float, size: tuple[int, int]
) -> list[Image.Image]:
    """One pipeline call over a whole image (None: from noise) at `size`."""
    job = s.job
    w, h = size
    # refine's image is the input cut to `size` at the top left: cut its control maps the same way
    box = None if image is None else (0, 0, w, h)
    maps = [c.map(size, box) for c in job.controls]
    extra = control.components(nets)
    if job.inpaint_unet:  # 9-channel UNet: everything is an inpaint with a full mask
        src = image if image is not None else Image.new("RGB", size, (127, 127, 127))
        task = control.task("inpaint", job.controls, nets)
        kwargs: dict[str, Any] = dict(
            image=src, mask_image=Image.new("L", size, 255), strength=strength, width=w, height=h
        )
        key = "control_image"
    elif image is None:
        task, key = control.task("txt2img", job.controls, nets), "image"
        kwargs = dict(width=w, height=h)
    else:
        task, key = control.task("img2img", job.controls, nets), "control_image"
        kwargs = dict(image=image, strength=strength)
        if job.xl:
            kwargs.update(width=w, height=h)
    pipe = s.pipe(task, **extra)
    return s(pipe, **kwargs, **control.call_kwargs(job.controls, maps, key))


def generate(s: Sampler, nets: list[Any]) -> list[EngineImage]:
    p = s.job.params
    w, h = p.width or s.native, p.height or s.native
    images = run_whole(s, nets, None, 1.0, (w, h))
    return _results(s, images, Region(x=0, y=0, width=w, height=h))


def refine(s: Sampler, nets: list[Any]) -> list[EngineImage]:
    p = s.job.params
    assert s.job.image is not None
    src = s.job.image.convert("RGB")
    w, h = src.width // 8 * 8, src.height // 8 * 8
    if (
        w,
        h,
    ) != src.size:  # snap to the VAE's multiple: the right/bottom few pixels stay as they were
        src = src.crop((0, 0, w, h))
    region = Region(x=0, y=0, width=w, height=h)
    strength = DEFAULT_REFINE_STRENGTH if p.strength is None else p.strength
    if int(p.steps * strength) < 1:  # strength 0 keeps the image: nothing to denoise
        return _results(s, [src] * p.batch, region)
    return _results(s, run_whole(s, nets, src, strength, (w, h)), region)

"""ControlNet specs of a job: which registered ControlNet each uses, its map at the size the
pipeline runs at, and the pipeline arguments for one or several at once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..errors import InvalidInput
from ..protocol.messages import ControlSpec, JobParams
from .preprocess import preprocess
from .registry import ModelEntry, Registry

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in the input image's pixels (may extend past it)


@dataclass(frozen=True)
class Control:
    index: int
    spec: ControlSpec
    entry: ModelEntry
    image: Image.Image

    def map(self, size: tuple[int, int], box: Box | None = None) -> Image.Image:
        """The control map for a pipeline run at `size`, of `box` of the control image (the
        whole image when None; outside the image is black)."""
        img = self.image.convert("RGB")
        if box is not None and box != (0, 0, img.width, img.height):
            img = img.crop(box)
        if img.size != size:
            img = img.resize(size, Image.Resampling.LANCZOS)
        return preprocess(
            self.spec.type, img, low=self.spec.low_threshold, high=self.spec.high_threshold
        )


def resolve(
    registry: Registry, params: JobParams, checkpoint: ModelEntry, inputs: Mapping[str, Image.Image]
) -> list[Control]:
    out: list[Control] = []
    for i, spec in enumerate(params.control):
        if spec.model is not None:
            entry = registry.get(spec.model, field=f"control.{i}.model")
            if entry.kind != "controlnet":
                raise InvalidInput(
                    f"control.{i}.model", spec.model, f"is a {entry.kind}, not a ControlNet"
                )
        else:
            if spec.type == "none":
                raise InvalidInput(
                    f"control.{i}.model", None, "type 'none' needs the ControlNet's model id"
                )
            found = registry.find("controlnet", checkpoint.base, spec.type)
            if found is None:
                raise InvalidInput(
                    f"control.{i}.type",
                    spec.type,
                    f"no {spec.type} ControlNet for {checkpoint.base} is registered",
                )
            entry = found
        if entry.base != checkpoint.base:
            raise InvalidInput(
                f"control.{i}.model",
                entry.id,
                f"is a ControlNet for {entry.base}; model {checkpoint.id!r} is {checkpoint.base}",
            )
        image = inputs.get(f"control.{i}.image")
        if image is None:
            raise InvalidInput(
                f"control.{i}.image", spec.image, "the control image was not provided"
            )
        source = inputs.get("image")
        if source is not None and image.size != source.size:
            raise InvalidInput(
                f"control.{i}.image",
                f"{image.width}x{image.height}",
                f"must have the input image's size {source.width}x{source.height} "
                "(it is read in the input's pixels)",
            )
        out.append(Control(i, spec, entry, image))
    return out


def call_kwargs(controls: list[Control], maps: list[Image.Image], image_key: str) -> dict[str, Any]:
    """Arguments of a ControlNet pipeline call: one net as scalars, several as lists."""
    if not controls:
        return {}
    one = len(controls) == 1
    scales = [c.spec.strength for c in controls]
    return {
        image_key: maps[0] if one else maps,
        "controlnet_conditioning_scale": scales[0] if one else scales,
        "control_guidance_start": [c.spec.start for c in controls],
        "control_guidance_end": [c.spec.end for c in controls],
    }


def components(nets: list[Any]) -> dict[str, Any]:
    if not nets:
        return {}
    return {"controlnet": nets[0] if len(nets) == 1 else list(nets)}

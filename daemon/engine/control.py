"""ControlNet specs of a job: which registered ControlNet each uses, its map at the size the
pipeline runs at, and the pipeline arguments for one or several at once.

A map is made from the control image where a preprocessor exists for its type (opencv ones in
`preprocess`, a registered depth estimator for depth) and `preprocess` is not false; otherwise
the image is used as the map it already is. A union ControlNet (one net, several map types)
follows the type each spec names, as its control mode."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image

from ..errors import InvalidInput
from ..protocol.messages import ControlSpec, JobParams
from .preprocess import PREPROCESSORS, preprocess
from .registry import ModelEntry, Registry

Box = tuple[int, int, int, int]  # x0, y0, x1, y1 in the input image's pixels (may extend past it)
Estimate = Callable[[Image.Image], Image.Image]

# control modes of the union ControlNets (xinsir controlnet-union-sdxl-1.0 / ProMax, as the
# diffusers documentation of StableDiffusionXLControlNetUnionPipeline lists them)
UNION_MODES = {
    "openpose": 0,
    "depth": 1,
    "softedge": 2,
    "scribble": 2,
    "canny": 3,
    "lineart": 3,
    "mlsd": 3,
    "normal": 4,
    "segmentation": 5,
    "tile": 6,
    "inpaint": 7,
}
ESTIMATED = ("depth",)  # map types a registered preprocessor model makes


@dataclass(frozen=True)
class Control:
    index: int
    spec: ControlSpec
    entry: ModelEntry
    image: Image.Image
    estimator: ModelEntry | None = None  # the preprocessor model that makes this map
    estimate: Estimate | None = None  # that model, loaded (set when the job runs)

    @property
    def union(self) -> bool:
        return self.entry.info.control_type == "union"

    @property
    def mode(self) -> int:
        return UNION_MODES[self.spec.type]

    def map(self, size: tuple[int, int], box: Box | None = None) -> Image.Image:
        """The control map for a pipeline run at `size`, of `box` of the control image (the
        whole image when None; outside the image is black)."""
        img = self.image.convert("RGB")
        if box is not None and box != (0, 0, img.width, img.height):
            img = img.crop(box)
        if img.size != size:
            img = img.resize(size, Image.Resampling.LANCZOS)
        if not self.spec.preprocess:
            return img
        if self.estimate is not None:
            return self.estimate(img).convert("RGB").resize(size, Image.Resampling.BICUBIC)
        return preprocess(
            self.spec.type, img, low=self.spec.low_threshold, high=self.spec.high_threshold
        )


def _estimator(registry: Registry, spec: ControlSpec) -> ModelEntry | None:
    if not spec.preprocess or spec.type not in ESTIMATED:
        return None
    return next(
        (
            e
            for e in registry.entries()
            if e.kind == "preprocessor" and str(e.info.control_type) == str(spec.type)
        ),
        None,
    )


def _net(registry: Registry, spec: ControlSpec, i: int, checkpoint: ModelEntry) -> ModelEntry:
    if spec.model is not None:
        entry = registry.get(spec.model, field=f"control.{i}.model")
        if entry.kind != "controlnet":
            raise InvalidInput(
                f"control.{i}.model", spec.model, f"is a {entry.kind}, not a ControlNet"
            )
        return entry
    if spec.type == "none":
        raise InvalidInput(
            f"control.{i}.model", None, "type 'none' needs the ControlNet's model id"
        )
    found = registry.find("controlnet", checkpoint.base, spec.type)
    if found is None and spec.type in UNION_MODES:
        found = registry.find("controlnet", checkpoint.base, "union")
    if found is None:
        raise InvalidInput(
            f"control.{i}.type",
            spec.type,
            f"no {spec.type} ControlNet for {checkpoint.base} is registered",
        )
    return found


def _check_union(controls: list[Control]) -> None:
    unions = [c for c in controls if c.union]
    if not unions:
        return
    c = unions[0]
    if len(controls) > 1:
        raise InvalidInput(
            f"control.{controls[1].index}.model",
            controls[1].entry.id,
            f"a job with a union ControlNet ({c.entry.id!r}) takes that one control only",
        )
    if c.spec.type not in UNION_MODES:
        raise InvalidInput(
            f"control.{c.index}.type",
            c.spec.type,
            f"union ControlNet {c.entry.id!r} needs the map's type, one of "
            f"{', '.join(UNION_MODES)}",
        )


def resolve(
    registry: Registry, params: JobParams, checkpoint: ModelEntry, inputs: Mapping[str, Image.Image]
) -> list[Control]:
    out: list[Control] = []
    for i, spec in enumerate(params.control):
        entry = _net(registry, spec, i, checkpoint)
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
        out.append(Control(i, spec, entry, image, _estimator(registry, spec)))
    _check_union(out)
    return out


def task(base: str, controls: list[Control], nets: list[Any]) -> str:
    """The task pipeline's name: `txt2img`, `cn_txt2img` (ControlNets), `cnu_txt2img` (union)."""
    if not nets:
        return base
    return ("cnu_" if any(c.union for c in controls) else "cn_") + base


def call_kwargs(controls: list[Control], maps: list[Image.Image], image_key: str) -> dict[str, Any]:
    """Arguments of a ControlNet pipeline call: one net as scalars, several as lists."""
    if not controls:
        return {}
    if controls[0].union:  # one union net: lists of maps and modes, `control_image` always
        c = controls[0]
        return {
            "control_image": [maps[0]],
            "control_mode": [c.mode],
            "controlnet_conditioning_scale": c.spec.strength,
            "control_guidance_start": c.spec.start,
            "control_guidance_end": c.spec.end,
        }
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


def has_preprocessor(kind: str) -> bool:
    return kind in PREPROCESSORS or kind in ESTIMATED

"""Loading checkpoints and ControlNets, and deriving task pipelines from one base pipeline with
`from_pipe` (shared weights, no copy). Schedulers are swapped per job from the base config."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import diffusers
import torch
import transformers
from diffusers import (
    ControlNetModel,
    ControlNetUnionModel,
    DDIMScheduler,
    DPMSolverMultistepScheduler,
    EulerAncestralDiscreteScheduler,
    EulerDiscreteScheduler,
    StableDiffusionControlNetImg2ImgPipeline,
    StableDiffusionControlNetInpaintPipeline,
    StableDiffusionControlNetPipeline,
    StableDiffusionImg2ImgPipeline,
    StableDiffusionInpaintPipeline,
    StableDiffusionPipeline,
    StableDiffusionXLControlNetImg2ImgPipeline,
    StableDiffusionXLControlNetInpaintPipeline,
    StableDiffusionXLControlNetPipeline,
    StableDiffusionXLControlNetUnionImg2ImgPipeline,
    StableDiffusionXLControlNetUnionInpaintPipeline,
    StableDiffusionXLControlNetUnionPipeline,
    StableDiffusionXLImg2ImgPipeline,
    StableDiffusionXLInpaintPipeline,
    StableDiffusionXLPipeline,
    UniPCMultistepScheduler,
)

from ..errors import ModelLoadError
from .detect import base_arch
from .registry import ModelEntry

log = logging.getLogger(__name__)
diffusers.utils.logging.disable_progress_bar()
diffusers.utils.logging.set_verbosity_error()
transformers.utils.logging.disable_progress_bar()

CONFIGS = Path(__file__).with_name("configs")

# Deprecation noise from inside diffusers/torch that callers cannot act on (numpy 2 asking
# torch tensors for `copy=`). Only these exact messages are silenced, only around our calls.
# peft warns on every second adapter of a model, which is exactly how we use it.
LIBRARY_NOISE: tuple[tuple[str, type[Warning]], ...] = (
    (r"__array__ implementation doesn't accept a copy keyword", DeprecationWarning),
    (r"Already found a `peft_config` attribute in the model", UserWarning),
)


@contextmanager
def quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        for message, category in LIBRARY_NOISE:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield


# task -> (SD 1.x/2.x class, SDXL class)
TASKS: dict[str, tuple[type[Any], type[Any]]] = {
    "txt2img": (StableDiffusionPipeline, StableDiffusionXLPipeline),
    "img2img": (StableDiffusionImg2ImgPipeline, StableDiffusionXLImg2ImgPipeline),
    "inpaint": (StableDiffusionInpaintPipeline, StableDiffusionXLInpaintPipeline),
    "cn_txt2img": (StableDiffusionControlNetPipeline, StableDiffusionXLControlNetPipeline),
    "cn_img2img": (
        StableDiffusionControlNetImg2ImgPipeline,
        StableDiffusionXLControlNetImg2ImgPipeline,
    ),
    "cn_inpaint": (
        StableDiffusionControlNetInpaintPipeline,
        StableDiffusionXLControlNetInpaintPipeline,
    ),
    # union ControlNets exist for SDXL only (the registry refuses them for other families)
    "cnu_txt2img": (StableDiffusionXLControlNetUnionPipeline,) * 2,
    "cnu_img2img": (StableDiffusionXLControlNetUnionImg2ImgPipeline,) * 2,
    "cnu_inpaint": (StableDiffusionXLControlNetUnionInpaintPipeline,) * 2,
}


def _dpmpp(cfg: Any, karras: bool) -> Any:
    return DPMSolverMultistepScheduler.from_config(
        cfg, algorithm_type="dpmsolver++", solver_order=2, use_karras_sigmas=karras
    )


SCHEDULERS = {
    "ddim": lambda cfg: DDIMScheduler.from_config(cfg),
    "euler": lambda cfg: EulerDiscreteScheduler.from_config(cfg),
    "euler_a": lambda cfg: EulerAncestralDiscreteScheduler.from_config(cfg),
    "dpmpp_2m": lambda cfg: _dpmpp(cfg, False),
    "dpmpp_2m_karras": lambda cfg: _dpmpp(cfg, True),
    "unipc": lambda cfg: UniPCMultistepScheduler.from_config(cfg),
}


def make_scheduler(name: str, base_config: Any) -> Any:
    with quiet():
        return SCHEDULERS[name](base_config)


def is_xl(arch: str) -> bool:
    return base_arch(arch) == "sdxl"


def task_class(task: str, arch: str) -> type[Any]:
    sd, xl = TASKS[task]
    return xl if is_xl(arch) else sd


def config_folder(entry: ModelEntry) -> Path:
    """The diffusers config a single-file checkpoint is read with: the record's own `config`
    (set at import), else the one shipped for its architecture."""
    return entry.config or CONFIGS / entry.arch


# Where CLIP tokenizers come from when the config folder has none (the shipped configs carry no
# vocabularies): a registered diffusers checkpoint of the same family, else the hub cache.
HUB_TOKENIZERS = {
    "tokenizer": "openai/clip-vit-large-patch14",
    "tokenizer_2": "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k",
}


def _has_tokenizer(folder: Path) -> bool:
    return (folder / "vocab.json").is_file() or (folder / "tokenizer.json").is_file()


def _tokenizers(entry: ModelEntry, folder: Path, donors: list[Path]) -> dict[str, Any]:
    from transformers import CLIPTokenizer

    out: dict[str, Any] = {}
    names = ["tokenizer", "tokenizer_2"] if is_xl(entry.arch) else ["tokenizer"]
    for name in names:
        if _has_tokenizer(folder / name):
            continue
        donor = next((d / name for d in donors if _has_tokenizer(d / name)), None)
        if donor is not None:
            out[name] = CLIPTokenizer.from_pretrained(donor)
            continue
        try:
            tok = CLIPTokenizer.from_pretrained(HUB_TOKENIZERS[name], local_files_only=True)
        except Exception:  # noqa: BLE001 - not in the cache
            tok = None
        if tok is None or len(tok) < 1000:  # transformers 5 gives an empty tokenizer, not an error
            raise ModelLoadError(
                f"model={entry.id!r}: reading a single-file {entry.arch} checkpoint needs the CLIP "
                f"tokenizer ({HUB_TOKENIZERS[name]}); register any diffusers-format "
                f"{base_arch(entry.arch)} checkpoint, or run once with a network",
                field="model",
            )
        out[name] = tok
    return out


def _read_checkpoint(
    entry: ModelEntry, cls: type[Any], donors: list[Path], extra: dict[str, Any]
) -> Any:
    if entry.info.format == "diffusers":
        return cls.from_pretrained(entry.path, local_files_only=True, **extra)
    folder = config_folder(entry)
    if not (folder / "model_index.json").is_file():
        raise ModelLoadError(
            f"model={entry.id!r}: no architecture config for {entry.arch!r} "
            "to read the single file with",
            field="model",
        )
    extra = extra | _tokenizers(entry, folder, donors)
    return cls.from_single_file(
        str(entry.path),
        config=str(folder),
        local_files_only=True,
        use_safetensors=not entry.pickle,
        **extra,
    )


def load_checkpoint(entry: ModelEntry, donors: list[Path] | None = None) -> Any:
    """The base (txt2img) pipeline of a checkpoint, on the CPU in fp32; the caller places it.
    `donors`: diffusers folders of the same family whose tokenizers a single file may borrow."""
    cls = task_class("txt2img", entry.arch)
    extra: dict[str, Any] = {}
    if not is_xl(entry.arch):
        extra = {
            "safety_checker": None,
            "feature_extractor": None,
            "requires_safety_checker": False,
        }
    try:
        with quiet():
            pipe = _read_checkpoint(entry, cls, donors or [], extra)
    except ModelLoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to read the files is the model's
        raise ModelLoadError(
            f"model={entry.id!r}: its files cannot be loaded "
            f"({type(exc).__name__}: {str(exc)[:300]})",
            field="model",
        ) from exc
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_controlnet(entry: ModelEntry, dtype: torch.dtype, *, field: str) -> Any:
    try:
        cls: Any = ControlNetUnionModel if entry.info.control_type == "union" else ControlNetModel
        if entry.info.format == "diffusers":
            return cls.from_pretrained(entry.path, torch_dtype=dtype, local_files_only=True)
        folder = entry.config or (CONFIGS / f"controlnet-{base_arch(entry.arch)}")
        return cls.from_single_file(
            str(entry.path), config=str(folder), torch_dtype=dtype, local_files_only=True
        )
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(
            f"{field}={entry.id!r}: ControlNet files cannot be loaded "
            f"({type(exc).__name__}: {str(exc)[:300]})",
            field=field,
        ) from exc


def native_side(pipe: Any) -> int:
    """The checkpoint's native square side in pixels (512 for SD-1.5, 1024 for SDXL)."""
    return int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)


def derive(base: Any, task: str, arch: str, **components: Any) -> Any:
    """A task pipeline sharing `base`'s weights. No torch_dtype here: from_pipe would cast the
    shared modules in place."""
    cls = task_class(task, arch)
    if type(base) is cls and not components:
        return base
    pipe = cls.from_pipe(base, **components)
    pipe.set_progress_bar_config(disable=True)
    return pipe

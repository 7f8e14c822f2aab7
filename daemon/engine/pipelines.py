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
from .tokenizers import clip_tokenizer, families

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


def _has_tokenizer(folder: Path) -> bool:
    return (folder / "vocab.json").is_file() or (folder / "tokenizer.json").is_file()


def _tokenizers(entry: ModelEntry, folder: Path) -> dict[str, Any]:
    """The tokenizers a single file is read with: the config folder's own where it has them,
    else the family's CLIP tokenizers built from the vocabulary the daemon carries."""
    return {
        name: clip_tokenizer(family)
        for name, family in families(entry.arch).items()
        if not _has_tokenizer(folder / name)
    }


def _read_checkpoint(entry: ModelEntry, cls: type[Any], extra: dict[str, Any]) -> Any:
    if entry.info.format == "diffusers":
        # a folder never falls back to its pickles unless imported with allow_pickle (then
        # each component is read from safetensors where it has them, else its pickle)
        return cls.from_pretrained(
            entry.path,
            local_files_only=True,
            use_safetensors=None if entry.pickle else True,
            variant=entry.variant,
            **extra,
        )
    folder = config_folder(entry)
    if not (folder / "model_index.json").is_file():
        raise ModelLoadError(
            f"model={entry.id!r}: no architecture config for {entry.arch!r} "
            "to read the single file with",
            field="model",
        )
    extra = extra | _tokenizers(entry, folder)
    return cls.from_single_file(
        str(entry.path),
        config=str(folder),
        local_files_only=True,
        use_safetensors=not entry.pickle,
        **extra,
    )


def _set_prediction(pipe: Any, prediction: str | None) -> None:
    """Sample as the checkpoint was trained (epsilon or v), whatever its config folder says."""
    if prediction is None or pipe.scheduler.config.get("prediction_type") == prediction:
        return
    pipe.scheduler = type(pipe.scheduler).from_config(
        pipe.scheduler.config, prediction_type=prediction
    )


def load_checkpoint(entry: ModelEntry) -> Any:
    """The base (txt2img) pipeline of a checkpoint, on the CPU in fp32; the caller places it.
    Its scheduler predicts what the registry records for the model (`prediction`)."""
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
            pipe = _read_checkpoint(entry, cls, extra)
    except ModelLoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to read the files is the model's
        raise ModelLoadError(
            f"model={entry.id!r}: its files cannot be loaded "
            f"({type(exc).__name__}: {str(exc)[:300]})",
            field="model",
        ) from exc
    if entry.variant:  # fp16 files: the engine places the pipeline in its own dtype
        pipe.to(torch.float32)
    _set_prediction(pipe, entry.info.prediction)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def load_controlnet(entry: ModelEntry, dtype: torch.dtype, *, field: str) -> Any:
    try:
        cls: Any = ControlNetUnionModel if entry.info.control_type == "union" else ControlNetModel
        if entry.info.format == "diffusers":
            return cls.from_pretrained(
                entry.path,
                torch_dtype=dtype,
                local_files_only=True,
                use_safetensors=None if entry.pickle else True,
                variant=entry.variant,
            )
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

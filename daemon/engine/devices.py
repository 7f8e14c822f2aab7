"""Device and dtype choice, memory accounting, and recognising out-of-memory errors."""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import dataclass
from typing import Any

import torch

from ..config import EngineSettings
from ..errors import InvalidInput

log = logging.getLogger(__name__)

DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}


@dataclass(frozen=True)
class Device:
    torch_device: torch.device
    dtype: torch.dtype
    name: str

    @property
    def type(self) -> str:
        return self.torch_device.type

    @property
    def dtype_name(self) -> str:
        return {v: k for k, v in DTYPES.items()}[self.dtype]


def pick_device(settings: EngineSettings) -> Device:
    """CUDA, then MPS, then CPU (unless settings name one); fp16 on GPUs, fp32 on CPU."""
    kind = settings.device
    if kind == "auto":
        if torch.cuda.is_available():
            kind = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            kind = "mps"
        else:
            kind = "cpu"
            _explain_missing_gpu()
    if kind.startswith("cuda") and not torch.cuda.is_available():
        raise InvalidInput("engine.device", kind, "no CUDA device is available on this machine")
    if kind.startswith("cuda:") and int(kind[5:]) >= torch.cuda.device_count():
        raise InvalidInput("engine.device", kind,
                           f"this machine has {torch.cuda.device_count()} CUDA device(s), "
                           f"numbered from 0")
    if kind == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise InvalidInput("engine.device", kind, "MPS is not available on this machine")
    dev = torch.device(kind)
    if settings.dtype == "auto":
        dtype = torch.float32 if kind == "cpu" else torch.float16
    else:
        dtype = DTYPES[settings.dtype]
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
    elif kind == "mps":
        name = "Apple GPU (MPS)"
    else:
        name = f"CPU ({os.cpu_count()} cores)"
    if settings.threads:
        torch.set_num_threads(settings.threads)
    return Device(dev, dtype, name)


def _explain_missing_gpu() -> None:
    """Falling back to the CPU on a machine with an NVIDIA GPU is nearly always an install
    problem (PyPI's torch for Windows is CPU-only; a CUDA build needs a working driver): say so
    once at start, instead of leaving a designer to wonder why a fill takes minutes."""
    if shutil.which("nvidia-smi") is None:
        return
    if torch.version.cuda is None:
        log.warning(
            "an NVIDIA GPU is present but this torch build is CPU-only, so jobs run on the CPU; "
            "install the CUDA build of torch==%s from https://download.pytorch.org/whl/ "
            "(see the README's GPU section)", torch.__version__.split("+")[0])
    else:
        log.warning(
            "this torch build has CUDA %s but no CUDA device is usable, so jobs run on the CPU; "
            "check the NVIDIA driver with `nvidia-smi`", torch.version.cuda)


def total_memory(device: Device) -> int:
    if device.type == "cuda":
        return int(torch.cuda.get_device_properties(device.torch_device).total_memory)
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 0


def free_memory(device: Device) -> int:
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device.torch_device)
        return int(free)
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover
        return 8 << 30


def module_bytes(*modules: Any, seen: set[int] | None = None) -> int:
    """Bytes of the parameters and buffers of `modules`, each storage counted once."""
    seen = set() if seen is None else seen
    total = 0
    for module in modules:
        if not isinstance(module, torch.nn.Module):
            continue
        for t in [*module.parameters(), *module.buffers()]:
            if t.device.type == "meta":
                continue
            key = t.untyped_storage().data_ptr()
            if key in seen or key == 0:
                continue
            seen.add(key)
            total += t.untyped_storage().nbytes()
    return total


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


def release_memory(device: Device) -> None:
    import gc

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    elif device.type == "mps":
        torch.mps.empty_cache()

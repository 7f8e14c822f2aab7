"""DreamBooth-style prior preservation: the class images a job trains beside its own, generated
first by the base checkpoint (as diffusers' `train_dreambooth_lora` does before training), and
kept in the job's folder so a resumed job reads them back instead of generating them again.

Image `i` is drawn with a seed derived from (job seed, i), so an image lost in a crash comes back
the same, and the set is stored as PNG (lossless): a resumed job trains on the very same pixels.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from .pipelines import quiet
from .training_data import Example, step_seed

CLASS_STEPS = 30  # inference steps per class image: diffusers' example uses the pipeline default


@dataclass(frozen=True)
class ClassProgress:
    done: int  # images ready (read back or generated)
    total: int
    eta_s: float
    image: Image.Image  # the image just generated


def _fingerprint(prompt: str, count: int, side: int, seed: int, base_hash: str) -> str:
    blob = json.dumps([prompt, side, seed, base_hash, CLASS_STEPS]) + f"/{count}"
    return hashlib.sha256(blob.encode()).hexdigest()


def class_images(
    pipe: Any,
    folder: Path,
    *,
    prompt: str,
    count: int,
    side: int,
    seed: int,
    base_hash: str,
    device: torch.device,
    mixed: torch.dtype | None,
    on_image: Callable[[ClassProgress], None],
    should_stop: Callable[[], bool],
) -> list[Example] | None:
    """The `count` class images of `prompt` at `side`², generating those not yet in `folder`
    (checked before each image); None when `should_stop()` asked to stop first."""
    stamp = folder / "inputs.sha256"
    want = _fingerprint(prompt, count, side, seed, base_hash)
    try:
        same = stamp.read_text().strip() == want
    except OSError:
        same = False
    if not same:  # another prompt, size or base: none of the stored images is of this job
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        stamp.write_text(want)
    out: list[Example] = []
    missing = [i for i in range(count) if not (folder / f"{i:04d}.png").is_file()]
    started, made = time.monotonic(), 0
    placed = False
    for i in range(count):
        path = folder / f"{i:04d}.png"
        image: Image.Image | None = None
        if i in missing:
            if should_stop():
                return None
            if not placed:
                pipe.to(device)
                placed = True
            image = _generate(pipe, prompt, side, step_seed(seed, i, "class"), device, mixed)
            part = path.with_name(path.name + ".part")
            image.save(part, format="PNG")
            os.replace(part, path)  # a crash mid-write leaves no half image under the real name
            made += 1
        with Image.open(path) as stored:
            rgb = stored.convert("RGB")  # what training sees: the stored pixels, fresh or not
        out.append(Example(rgb, prompt))
        if image is not None:  # images read back are not news
            left = sum(1 for j in missing if j > i)
            on_image(ClassProgress(i + 1, count, (time.monotonic() - started) / made * left, image))
    return out


def _generate(pipe: Any, prompt: str, side: int, seed: int, device: torch.device,
              mixed: torch.dtype | None) -> Image.Image:
    autocast: contextlib.AbstractContextManager[Any] = (
        torch.autocast("cuda", dtype=mixed) if mixed is not None else contextlib.nullcontext())
    gen = torch.Generator("cpu").manual_seed(seed)
    with torch.inference_mode(), autocast, quiet():
        out = pipe(prompt=prompt, num_inference_steps=CLASS_STEPS, height=side, width=side,
                   generator=gen, output_type="pil")
    image: Image.Image = out.images[0]
    return image

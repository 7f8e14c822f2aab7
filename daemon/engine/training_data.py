"""The training set of a LoRA job: aspect-ratio buckets, resize and crop, flips, and a batch order
that is a pure function of (seed, step), so a resumed job sees exactly the batches it would have.

Bucketing follows diffusers' training utilities (`generate_aspect_ratio_buckets`,
`find_nearest_bucket`): every image goes to the bucket nearest its aspect ratio, a batch never
mixes buckets, and each image is scaled to cover its bucket and then cropped to it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch
from diffusers.training_utils import find_nearest_bucket, generate_aspect_ratio_buckets
from PIL import Image

from ..errors import InvalidInput


@dataclass(frozen=True)
class Example:
    """One training image with its caption (the trigger word already placed)."""

    image: Image.Image
    caption: str


@dataclass(frozen=True)
class Sample:
    """One cropped, maybe flipped image of a batch, in the UNet's pixel range (-1..1)."""

    pixels: torch.Tensor  # (3, h, w) float32
    caption: str
    original_size: tuple[int, int]  # (h, w) before resizing: SDXL's size conditioning
    crop_top_left: tuple[int, int]  # (top, left) in the resized image


def step_seed(seed: int, step: int, salt: str) -> int:
    """A 63-bit seed derived from the job's seed, the step and what it is for (noise, crop)."""
    digest = hashlib.sha256(f"{seed}:{step}:{salt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def dataset_hash(examples: list[Example]) -> str:
    """sha256 over the images' pixels and sizes and the captions, in order."""
    h = hashlib.sha256()
    for ex in examples:
        rgb = ex.image.convert("RGB")
        h.update(f"{rgb.width}x{rgb.height}\0".encode())
        h.update(hashlib.sha256(rgb.tobytes()).digest())
        h.update(ex.caption.encode() + b"\0")
    return h.hexdigest()


class Dataset:
    """Images scaled once to cover their bucket; crops and flips are drawn per step."""

    def __init__(
        self,
        examples: list[Example],
        *,
        resolution: int,
        multiple: int,
        batch_size: int,
        seed: int,
        flip: bool,
        random_crop: bool,
    ) -> None:
        if not examples:
            raise InvalidInput("images", [], "a training set needs at least one image")
        self.buckets: list[tuple[int, int]] = generate_aspect_ratio_buckets(
            resolution, divisibility=multiple
        )
        self.multiple = multiple
        self.batch_size = batch_size
        self.seed = seed
        self.flip = flip
        self.random_crop = random_crop
        self.captions = [ex.caption for ex in examples]
        self.original_sizes: list[tuple[int, int]] = []
        self.bucket_of: list[int] = []
        self.resized: list[np.ndarray] = []
        for ex in examples:
            rgb = ex.image.convert("RGB")
            index = find_nearest_bucket(rgb.height, rgb.width, self.buckets)
            bh, bw = self.buckets[index]
            scale = max(bh / rgb.height, bw / rgb.width)
            size = (max(bw, round(rgb.width * scale)), max(bh, round(rgb.height * scale)))
            self.original_sizes.append((rgb.height, rgb.width))
            self.bucket_of.append(index)
            self.resized.append(np.asarray(rgb.resize(size, Image.Resampling.BICUBIC)))
        # a batch is drawn from one bucket; a bucket with fewer images than the batch size
        # still makes (smaller) batches, as in kohya-ss' bucketing
        groups: dict[int, list[int]] = {}
        for i, b in enumerate(self.bucket_of):
            groups.setdefault(b, []).append(i)
        self._groups = [groups[b] for b in sorted(groups)]
        self.batches_per_epoch = sum(-(-len(g) // batch_size) for g in self._groups)

    def __len__(self) -> int:
        return len(self.resized)

    def _epoch_batches(self, epoch: int) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, epoch])
        batches: list[list[int]] = []
        for group in self._groups:
            order = [group[i] for i in rng.permutation(len(group))]
            batches += [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def batch_indices(self, step: int) -> list[int]:
        """The images of the batch at `step` (0-based): a function of (seed, step) alone."""
        epoch, within = divmod(step, self.batches_per_epoch)
        return self._epoch_batches(epoch)[within]

    def batch(self, step: int) -> list[Sample]:
        rng = np.random.default_rng(step_seed(self.seed, step, "crop"))
        out = []
        for i in self.batch_indices(step):
            bh, bw = self.buckets[self.bucket_of[i]]
            arr = self.resized[i]
            h, w = arr.shape[:2]
            if self.random_crop:
                top = int(rng.integers(0, h - bh + 1))
                left = int(rng.integers(0, w - bw + 1))
            else:
                top, left = (h - bh) // 2, (w - bw) // 2
            crop = arr[top : top + bh, left : left + bw]
            flip = self.flip and bool(rng.integers(0, 2))
            if flip:
                crop = crop[:, ::-1]
            pixels = torch.from_numpy(crop.copy()).permute(2, 0, 1).float()
            out.append(
                Sample(
                    pixels=pixels / 127.5 - 1.0,
                    caption=self.captions[i],
                    original_size=self.original_sizes[i],
                    crop_top_left=(top, left),
                )
            )
        return out

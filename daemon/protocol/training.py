"""The `train` part of a `job.submit`: a LoRA trained on blobs already uploaded. No I/O.

Captions: one per image (`captions`), or one `caption` template for all; `{trigger}` in either is
replaced by the trigger word, and a caption without it gets the trigger word put in front, so the
LoRA is always called by it.

Prior preservation (DreamBooth): with `class_prompt` and `class_images`, the daemon first generates
that many images of the class prompt with the base checkpoint, then trains on each step's batch
and a batch of class images, adding `prior_loss_weight` times the class images' loss, so the LoRA
learns the subject without drifting the whole class towards it.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

TRAIN_LIMITS = {
    "max_images": 1000,
    "max_steps": 20000,
    "max_rank": 128,
    "max_resolution": 1536,
    "max_batch": 16,
    "max_class_images": 1000,
}

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="lowercase hex sha256")]
TRIGGER = re.compile(r"^[^\s,{}][^,{}]{0,63}$")


def _field_error(field: str, value: object, reason: str) -> ValueError:
    # messages._field_error's convention: the codec puts the location (params.train) in front
    return ValueError(f"@{field}@ {field}={value!r}: {reason}")


class TrainSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="the id the trained LoRA is registered under",
    )
    trigger: str = Field(min_length=1, max_length=64, description="the word that calls the LoRA")
    images: list[Sha256] = Field(min_length=1, max_length=TRAIN_LIMITS["max_images"])
    captions: list[Annotated[str, Field(max_length=1000)]] | None = Field(
        default=None, description="one per image, in order; None: `caption` for all")
    caption: str = Field(default="{trigger}", max_length=1000,
                         description="the caption template when `captions` is not given")
    steps: int = Field(default=1000, ge=1, le=TRAIN_LIMITS["max_steps"])
    rank: int = Field(default=16, ge=1, le=TRAIN_LIMITS["max_rank"])
    alpha: int | None = Field(default=None, ge=1, le=4 * TRAIN_LIMITS["max_rank"],
                              description="None: the rank")
    learning_rate: float = Field(default=1e-4, gt=0.0, le=1e-2)
    resolution: int = Field(default=512, ge=64, le=TRAIN_LIMITS["max_resolution"])
    batch_size: int = Field(default=1, ge=1, le=TRAIN_LIMITS["max_batch"])
    checkpoint_every: int = Field(default=100, ge=1, le=TRAIN_LIMITS["max_steps"])
    sample_every: int = Field(default=0, ge=0, le=TRAIN_LIMITS["max_steps"],
                              description="0: only a sample at the end")
    sample_prompt: str = Field(default="", max_length=1000, description="'': the trigger word")
    flip: bool = False
    random_crop: bool = False
    train_text_encoder: bool = False
    prediction_type: Literal["epsilon", "v_prediction"] | None = None
    class_prompt: str = Field(default="", max_length=1000,
                              description="prior preservation: the class, e.g. 'a photo of a dog'")
    class_images: int = Field(default=0, ge=0, le=TRAIN_LIMITS["max_class_images"],
                              description="prior preservation: class images generated first; 0: off")
    prior_loss_weight: float = Field(default=1.0, gt=0.0, le=10.0,
                                     description="weight of the class images' loss")

    @model_validator(mode="after")
    def _consistent(self) -> TrainSpec:
        if not TRIGGER.match(self.trigger):
            raise _field_error("trigger", self.trigger,
                               "a word or short phrase without commas or braces")
        if self.captions is not None and len(self.captions) != len(self.images):
            raise _field_error("captions", len(self.captions),
                               f"one caption per image: there are {len(self.images)} images")
        if len(set(self.images)) != len(self.images):
            dup = next(s for i, s in enumerate(self.images) if s in self.images[:i])
            raise _field_error("images", dup, "this image is listed twice")
        if self.class_images and not self.class_prompt.strip():
            raise _field_error("class_prompt", self.class_prompt,
                               f"{self.class_images} class images need a class prompt")
        if self.class_prompt.strip() and not self.class_images:
            raise _field_error("class_images", self.class_images,
                               "a class prompt needs at least one class image")
        if self.resolution % 8:
            raise _field_error("resolution", self.resolution, "must be a multiple of 8")
        return self

    def caption_of(self, index: int) -> str:
        """The caption image `index` trains with, the trigger word in it."""
        text = self.captions[index] if self.captions is not None else self.caption
        text = text.strip()
        if "{trigger}" in text:
            return text.replace("{trigger}", self.trigger)
        if re.search(rf"(?<!\w){re.escape(self.trigger)}(?!\w)", text):
            return text
        return f"{self.trigger}, {text}" if text else self.trigger

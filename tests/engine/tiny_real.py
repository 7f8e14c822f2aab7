"""Test helper: tiny SD-1.5, SD-2 and SDXL pipelines whose text encoders take the real CLIP
vocabulary (49,408 tokens), so single files can be read with the tokenizers the daemon carries,
and the config folders (`--config`) such files are read with: configs only, no weights and no
tokenizer, like the ones the daemon ships."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import torch
from layerbridge.daemon.engine.demo import _scheduler, _unet, _vae
from layerbridge.daemon.engine.tokenizers import clip_tokenizer
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

VOCAB = 49408


def text_encoder(hidden: int, *, seed: int, projection: bool = False, pad: int = 49407) -> Any:
    cfg = CLIPTextConfig(
        vocab_size=VOCAB, hidden_size=hidden, intermediate_size=37, num_attention_heads=4,
        num_hidden_layers=2, max_position_embeddings=77, projection_dim=hidden,
        bos_token_id=49406, eos_token_id=49407, pad_token_id=pad, hidden_act="gelu",
    )  # fmt: skip
    torch.manual_seed(seed)
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(cfg)


def sd(*, seed: int = 1, inpaint: bool = False, family: str = "clip-l") -> Any:
    """SD-1.5 layout (`family="openclip"`: SD-2's tokenizer and a linear-projection UNet)."""
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline

    cls: Any = StableDiffusionInpaintPipeline if inpaint else StableDiffusionPipeline
    unet = _unet(seed, xl=False, in_channels=9 if inpaint else 4)
    if family == "openclip":
        torch.manual_seed(seed)
        from diffusers import UNet2DConditionModel

        unet = UNet2DConditionModel.from_config(
            {**unet.config, "use_linear_projection": True, "attention_head_dim": (2, 4)}
        )
    return cls(
        vae=_vae(seed + 1), text_encoder=text_encoder(32, seed=seed + 2),
        tokenizer=clip_tokenizer(family), unet=unet, scheduler=_scheduler(),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )  # fmt: skip


def sdxl(*, seed: int = 3) -> Any:
    from diffusers import StableDiffusionXLPipeline, UNet2DConditionModel

    base = _unet(seed, xl=True)
    torch.manual_seed(seed)
    # two encoders of different widths (like CLIP-L 768 and bigG 1280): diffusers tells them
    # apart by width when it reads a single file
    unet = UNet2DConditionModel.from_config(
        {**base.config, "cross_attention_dim": 80, "projection_class_embeddings_input_dim": 96}
    )
    return StableDiffusionXLPipeline(
        vae=_vae(seed + 1), text_encoder=text_encoder(32, seed=seed + 2),
        text_encoder_2=text_encoder(48, seed=seed + 3, projection=True, pad=0),
        tokenizer=clip_tokenizer("clip-l"), tokenizer_2=clip_tokenizer("openclip"),
        unet=unet, scheduler=_scheduler(), force_zeros_for_empty_prompt=True,
    )  # fmt: skip


def config_folder(pipe: Any, folder: Path) -> Path:
    """The pipeline's configs alone (what `--config` points at)."""
    pipe.save_pretrained(folder, safe_serialization=True)
    for weights in folder.rglob("*.safetensors"):
        weights.unlink()
    for name in ("tokenizer", "tokenizer_2"):
        shutil.rmtree(folder / name, ignore_errors=True)
    return folder

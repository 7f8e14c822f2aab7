"""Test helper: adapter files laid out exactly as the tools that make them write them, at tiny
widths. Key names follow kohya-ss sd-scripts (networks/lora.py: `lora_unet_` / `lora_te_` /
`lora_te1_` / `lora_te2_` + the module path with dots as underscores, `.lora_down.weight`,
`.lora_up.weight`, `.alpha`), the diffusers/peft LoRA format (`unet.<module>.lora_A.weight`),
A1111's textual inversion (`string_to_param` in a .pt, `emb_params` in a .safetensors), the
diffusers textual-inversion script (`{token: vectors}` in learned_embeds.safetensors) and the
SDXL embedding layout (`clip_l` + `clip_g`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

# sd-scripts' LoRANetwork targets: attention/feed-forward blocks of the UNet, and with
# --network_args conv_dim (LoCon) the 3x3 convolutions of ResNet blocks too
UNET_TARGETS = ("Transformer2DModel",)
LOCON_TARGETS = ("ResnetBlock2D", "Downsample2D", "Upsample2D")
TE_TARGETS = ("CLIPAttention", "CLIPMLP", "CLIPSdpaAttention")


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def kohya_modules(
    root: torch.nn.Module, prefix: str, targets: Iterable[str], *, conv: bool = False
) -> list[tuple[str, torch.nn.Module]]:
    """(kohya name, module) of every Linear (and 1x1 conv; 3x3 conv when `conv`) inside a
    module whose class is in `targets`, named as sd-scripts names them."""
    out: list[tuple[str, torch.nn.Module]] = []
    for name, module in root.named_modules():
        if type(module).__name__ not in targets:
            continue
        for child_name, child in module.named_modules():
            is_linear = isinstance(child, torch.nn.Linear)
            is_conv = isinstance(child, torch.nn.Conv2d)
            if not (is_linear or (is_conv and (child.kernel_size == (1, 1) or conv))):
                continue
            full = f"{name}.{child_name}" if child_name else name
            out.append((f"{prefix}_{full}".replace(".", "_"), child))
    return out


def _kohya_pair(
    tensors: dict[str, torch.Tensor],
    key: str,
    module: torch.nn.Module,
    rank: int,
    alpha: float,
    gen: torch.Generator,
) -> None:
    if isinstance(module, torch.nn.Conv2d):
        k = module.kernel_size
        down = torch.randn(rank, module.in_channels, *k, generator=gen) * 0.3
        up = torch.randn(module.out_channels, rank, 1, 1, generator=gen) * 0.3
    else:
        assert isinstance(module, torch.nn.Linear)
        down = torch.randn(rank, module.in_features, generator=gen) * 0.3
        up = torch.randn(module.out_features, rank, generator=gen) * 0.3
    tensors[f"{key}.lora_down.weight"] = down
    tensors[f"{key}.lora_up.weight"] = up
    tensors[f"{key}.alpha"] = torch.tensor(alpha)


def kohya_lora(
    path: Path,
    pipe: Any,
    *,
    seed: int,
    rank: int = 4,
    alpha: float = 2.0,
    text_encoder: bool = True,
    locon: bool = False,
    metadata: dict[str, str] | None = None,
) -> dict[str, torch.Tensor]:
    """An SD-1.x/2.x LoRA as sd-scripts saves it (SDXL: `lora_te1_`/`lora_te2_` and the text
    encoders of both). UNet module paths are diffusers' (sd-scripts converts the UNet first)."""
    gen = _gen(seed)
    tensors: dict[str, torch.Tensor] = {}
    targets = UNET_TARGETS + (LOCON_TARGETS if locon else ())
    for key, module in kohya_modules(pipe.unet, "lora_unet", targets, conv=locon):
        _kohya_pair(tensors, key, module, rank, alpha, gen)
    if text_encoder:
        encoders = [("lora_te", pipe.text_encoder)]
        if getattr(pipe, "text_encoder_2", None) is not None:
            encoders = [("lora_te1", pipe.text_encoder), ("lora_te2", pipe.text_encoder_2)]
        for prefix, encoder in encoders:
            model = getattr(encoder, "text_model", encoder)
            for key, module in kohya_modules(model, prefix, TE_TARGETS):
                # sd-scripts names text-encoder modules from `text_model.`
                key = key.replace(f"{prefix}_", f"{prefix}_text_model_", 1)
                _kohya_pair(tensors, key, module, rank, alpha, gen)
    meta = {"ss_network_module": "networks.lora", "ss_network_dim": str(rank),
            "ss_network_alpha": str(alpha), "ss_base_model_version": "sd_v1"}
    if locon:
        meta["ss_network_args"] = json.dumps({"conv_dim": str(rank), "conv_alpha": str(alpha)})
    save_file(tensors, str(path), metadata=meta | (metadata or {}))
    return tensors


def peft_lora(path: Path, pipe: Any, *, seed: int, rank: int = 4) -> dict[str, torch.Tensor]:
    """A LoRA in the diffusers training scripts' format (peft names, `unet.` /
    `text_encoder.` prefixes), as `save_lora_weights` writes it."""
    gen = _gen(seed)
    tensors: dict[str, torch.Tensor] = {}
    parts: list[tuple[str, torch.nn.Module, tuple[str, ...]]] = [
        ("unet", pipe.unet, ("to_q", "to_k", "to_v", "to_out.0")),
        ("text_encoder", pipe.text_encoder, ("q_proj", "k_proj", "v_proj", "out_proj")),
    ]
    for prefix, root, names in parts:
        for full, sub in root.named_modules():
            if isinstance(sub, torch.nn.Linear) and any(full.endswith(n) for n in names):
                tensors[f"{prefix}.{full}.lora_A.weight"] = (
                    torch.randn(rank, sub.in_features, generator=gen) * 0.3
                )
                tensors[f"{prefix}.{full}.lora_B.weight"] = (
                    torch.randn(sub.out_features, rank, generator=gen) * 0.3
                )
    save_file(tensors, str(path))
    return tensors


def loha(path: Path, pipe: Any, *, seed: int) -> None:
    """A LyCORIS LoHa: Hadamard-product factors `hada_w1_a` ... per kohya-named module."""
    gen = _gen(seed)
    tensors: dict[str, torch.Tensor] = {}
    for key, module in kohya_modules(pipe.unet, "lora_unet", UNET_TARGETS):
        if not isinstance(module, torch.nn.Linear):
            continue
        o, i = module.out_features, module.in_features
        for n in ("1", "2"):
            tensors[f"{key}.hada_w{n}_a"] = torch.randn(o, 4, generator=gen)
            tensors[f"{key}.hada_w{n}_b"] = torch.randn(4, i, generator=gen)
        tensors[f"{key}.alpha"] = torch.tensor(4.0)
    save_file(tensors, str(path), metadata={"ss_network_module": "lycoris.kohya"})


def lokr(path: Path, pipe: Any, *, seed: int) -> None:
    """A LyCORIS LoKr: Kronecker factors `lokr_w1` / `lokr_w2` per kohya-named module."""
    gen = _gen(seed)
    tensors: dict[str, torch.Tensor] = {}
    for key, module in kohya_modules(pipe.unet, "lora_unet", UNET_TARGETS):
        if not isinstance(module, torch.nn.Linear):
            continue
        o, i = module.out_features, module.in_features
        tensors[f"{key}.lokr_w1"] = torch.randn(2, 2, generator=gen)
        tensors[f"{key}.lokr_w2"] = torch.randn(o // 2, i // 2, generator=gen)
    save_file(tensors, str(path), metadata={"ss_network_module": "lycoris.kohya"})


def diffusers_embedding(folder: Path, token: str, hidden: int, *, seed: int = 5) -> Path:
    """learned_embeds.safetensors as diffusers' textual_inversion.py saves it: {token: [hidden]}
    (one vector, the sd-concepts-library layout)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "learned_embeds.safetensors"
    save_file({token: torch.randn(hidden, generator=_gen(seed))}, str(path))
    return path


def a1111_pt_embedding(path: Path, name: str, hidden: int, *, vectors: int, seed: int = 6) -> None:
    """An A1111 .pt embedding (modules/textual_inversion: string_to_token, string_to_param,
    name, step, sd_checkpoint, sd_checkpoint_name)."""
    torch.save(
        {
            "string_to_token": {"*": 265},
            "string_to_param": {"*": torch.randn(vectors, hidden, generator=_gen(seed))},
            "name": name,
            "step": 1500,
            "sd_checkpoint": "a9263745",
            "sd_checkpoint_name": "v1-5-pruned",
        },
        path,
    )


def a1111_safetensors_embedding(path: Path, hidden: int, *, vectors: int, seed: int = 7) -> None:
    """An A1111/Civitai .safetensors embedding: {emb_params: [vectors, hidden]}."""
    save_file({"emb_params": torch.randn(vectors, hidden, generator=_gen(seed))}, str(path))


def sdxl_embedding(path: Path, hidden_l: int, hidden_g: int, *, vectors: int, seed: int = 8) -> None:
    gen = _gen(seed)
    save_file(
        {
            "clip_l": torch.randn(vectors, hidden_l, generator=gen),
            "clip_g": torch.randn(vectors, hidden_g, generator=gen),
        },
        str(path),
    )


def kohya_sdxl_lora(path: Path, pipe: Any, *, seed: int, rank: int = 4) -> dict[str, torch.Tensor]:
    """An SDXL LoRA as sd-scripts saves it: the UNet in the original (SGM) block names
    (`lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q`), `lora_te1_` and
    `lora_te2_` for the two text encoders."""
    from .ldm import unet_to_ldm

    gen = _gen(seed)
    tensors: dict[str, torch.Tensor] = {}
    for key, module in kohya_modules(pipe.unet, "lora_unet", UNET_TARGETS):
        diffusers_name = key.removeprefix("lora_unet_")
        name = next(n for n, m in pipe.unet.named_modules() if m is module)
        ldm = next(iter(unet_to_ldm({f"{name}.weight": torch.zeros(1)}, pipe.unet.config)))
        ldm_name = ldm.removeprefix("model.diffusion_model.").removesuffix(".weight")
        assert diffusers_name
        _kohya_pair(tensors, "lora_unet_" + ldm_name.replace(".", "_"), module, rank, 2.0, gen)
    for prefix, encoder in (("lora_te1", pipe.text_encoder), ("lora_te2", pipe.text_encoder_2)):
        model = getattr(encoder, "text_model", encoder)
        for key, module in kohya_modules(model, prefix, TE_TARGETS):
            key = key.replace(f"{prefix}_", f"{prefix}_text_model_", 1)
            _kohya_pair(tensors, key, module, rank, 2.0, gen)
    meta = {"ss_network_module": "networks.lora", "ss_base_model_version": "sdxl_base_v1-0"}
    save_file(tensors, str(path), metadata=meta)
    return tensors

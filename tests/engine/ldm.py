"""Test helper: write a diffusers SD pipeline as an original (LDM layout) single-file checkpoint,
so single-file import is tested on tiny models. The inverse of diffusers' own conversion."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

RESNET = {
    "norm1": "in_layers.0",
    "conv1": "in_layers.2",
    "time_emb_proj": "emb_layers.1",
    "norm2": "out_layers.0",
    "conv2": "out_layers.3",
    "conv_shortcut": "skip_connection",
}


def _resnet(rest: str) -> str:
    head, _, tail = rest.partition(".")
    return f"{RESNET.get(head, head)}.{tail}"


def unet_to_ldm(sd: dict[str, torch.Tensor], config: Any) -> dict[str, torch.Tensor]:
    L = config["layers_per_block"]
    up_attn = ["CrossAttn" in t for t in config["up_block_types"]]
    fixed = {
        "time_embedding.linear_1": "time_embed.0",
        "time_embedding.linear_2": "time_embed.2",
        "add_embedding.linear_1": "label_emb.0.0",
        "add_embedding.linear_2": "label_emb.0.2",
        "conv_in": "input_blocks.0.0",
        "conv_norm_out": "out.0",
        "conv_out": "out.2",
    }
    out = {}
    for key, t in sd.items():
        new = None
        for a, b in fixed.items():
            if key.startswith(a + "."):
                new = b + key[len(a) :]
        if m := re.match(r"down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
            i, j, rest = int(m[1]), int(m[2]), m[3]
            new = f"input_blocks.{1 + i * (L + 1) + j}.0.{_resnet(rest)}"
        elif m := re.match(r"down_blocks\.(\d+)\.attentions\.(\d+)\.(.*)", key):
            i, j, rest = int(m[1]), int(m[2]), m[3]
            new = f"input_blocks.{1 + i * (L + 1) + j}.1.{rest}"
        elif m := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key):
            new = f"input_blocks.{(int(m[1]) + 1) * (L + 1)}.0.op.{m[2]}"
        elif m := re.match(r"mid_block\.resnets\.(\d+)\.(.*)", key):
            new = f"middle_block.{2 * int(m[1])}.{_resnet(m[2])}"
        elif m := re.match(r"mid_block\.attentions\.0\.(.*)", key):
            new = f"middle_block.1.{m[1]}"
        elif m := re.match(r"up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
            i, j, rest = int(m[1]), int(m[2]), m[3]
            new = f"output_blocks.{i * (L + 1) + j}.0.{_resnet(rest)}"
        elif m := re.match(r"up_blocks\.(\d+)\.attentions\.(\d+)\.(.*)", key):
            i, j, rest = int(m[1]), int(m[2]), m[3]
            new = f"output_blocks.{i * (L + 1) + j}.1.{rest}"
        elif m := re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key):
            i = int(m[1])
            new = f"output_blocks.{i * (L + 1) + L}.{2 if up_attn[i] else 1}.conv.{m[2]}"
        assert new is not None, key
        out["model.diffusion_model." + new] = t
    return out


def vae_to_ldm(sd: dict[str, torch.Tensor], config: Any) -> dict[str, torch.Tensor]:
    n = len(config["block_out_channels"])
    attn = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}
    out = {}
    for key, t in sd.items():
        new = key.replace("conv_norm_out", "norm_out")
        if m := re.match(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
            new = (
                f"encoder.down.{m[1]}.block.{m[2]}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
            )
        elif m := re.match(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.(.*)", key):
            new = f"encoder.down.{m[1]}.downsample.{m[2]}"
        elif m := re.match(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
            rest = m[3].replace("conv_shortcut", "nin_shortcut")
            new = f"decoder.up.{n - 1 - int(m[1])}.block.{m[2]}.{rest}"
        elif m := re.match(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.*)", key):
            new = f"decoder.up.{n - 1 - int(m[1])}.upsample.{m[2]}"
        elif m := re.match(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.*)", key):
            new = (
                f"{m[1]}.mid.block_{int(m[2]) + 1}.{m[3].replace('conv_shortcut', 'nin_shortcut')}"
            )
        elif m := re.match(
            r"(encoder|decoder)\.mid_block\.attentions\.0\.(.*)\.(weight|bias)", key
        ):
            new = f"{m[1]}.mid.attn_1.{attn[m[2]]}.{m[3]}"
            if m[3] == "weight" and t.ndim == 2:
                t = t[:, :, None, None]
        out["first_stage_model." + new] = t
    return out


def write_single_file(pipe: Any, path: Path, *, metadata: dict[str, str] | None = None) -> None:
    sd: dict[str, torch.Tensor] = {}
    sd |= unet_to_ldm(pipe.unet.state_dict(), pipe.unet.config)
    sd |= vae_to_ldm(pipe.vae.state_dict(), pipe.vae.config)
    for (
        k,
        t,
    ) in pipe.text_encoder.state_dict().items():  # transformers 5 drops the text_model. wrapper
        sd[
            "cond_stage_model.transformer."
            + (k if k.startswith("text_model.") else "text_model." + k)
        ] = t
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path), metadata=metadata)


def controlnet_to_ldm(net: Any) -> dict[str, torch.Tensor]:
    """A diffusers ControlNetModel in the original layout (`control_model.` keys)."""
    sd = net.state_dict()
    n_hint = len(net.config["conditioning_embedding_out_channels"]) - 1
    shared = {k: v for k, v in sd.items() if not k.startswith(("controlnet_", "add_embedding"))}
    cfg = dict(net.config)
    cfg["up_block_types"] = []
    out = {
        k.replace("model.diffusion_model.", "control_model."): v
        for k, v in unet_to_ldm(shared, cfg).items()
    }
    for k, v in sd.items():
        if m := re.match(r"controlnet_cond_embedding\.conv_in\.(.*)", k):
            out[f"control_model.input_hint_block.0.{m[1]}"] = v
        elif m := re.match(r"controlnet_cond_embedding\.blocks\.(\d+)\.(.*)", k):
            out[f"control_model.input_hint_block.{2 * int(m[1]) + 2}.{m[2]}"] = v
        elif m := re.match(r"controlnet_cond_embedding\.conv_out\.(.*)", k):
            out[f"control_model.input_hint_block.{2 * n_hint * 2 + 2}.{m[1]}"] = v
        elif m := re.match(r"controlnet_down_blocks\.(\d+)\.(.*)", k):
            out[f"control_model.zero_convs.{m[1]}.0.{m[2]}"] = v
        elif m := re.match(r"controlnet_mid_block\.(.*)", k):
            out[f"control_model.middle_block_out.0.{m[1]}"] = v
    return out


def _text_model_keys(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # transformers 5 drops the `text_model.` wrapper of CLIPTextModel (not of ...WithProjection)
    return {(k if k.startswith(("text_model.", "text_projection")) else "text_model." + k): t
            for k, t in sd.items()}


def open_clip_to_ldm(sd: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """A transformers CLIP text encoder in OpenCLIP's layout (`...model.transformer.resblocks`),
    as SD-2 (`cond_stage_model.model.`) and SDXL (`conditioner.embedders.1.model.`) store it."""
    out: dict[str, torch.Tensor] = {}
    qkv: dict[str, dict[str, torch.Tensor]] = {}
    fixed = {
        "text_model.embeddings.token_embedding.weight": "token_embedding.weight",
        "text_model.embeddings.position_embedding.weight": "positional_embedding",
        "text_model.final_layer_norm.weight": "ln_final.weight",
        "text_model.final_layer_norm.bias": "ln_final.bias",
    }
    for key, t in _text_model_keys(sd).items():
        if key in fixed:
            out[prefix + fixed[key]] = t
        elif key == "text_projection.weight":
            out[prefix + "text_projection"] = t.T.contiguous()
        elif m := re.match(r"text_model\.encoder\.layers\.(\d+)\.(.*)", key):
            i, rest = m[1], m[2]
            if q := re.match(r"self_attn\.([qkv])_proj\.(weight|bias)", rest):
                qkv.setdefault(f"{i}.{q[2]}", {})[q[1]] = t
                continue
            rest = (rest.replace("self_attn.", "attn.").replace("layer_norm1", "ln_1")
                    .replace("layer_norm2", "ln_2").replace("mlp.fc1", "mlp.c_fc")
                    .replace("mlp.fc2", "mlp.c_proj"))
            out[f"{prefix}transformer.resblocks.{i}.{rest}"] = t
    for name, parts in qkv.items():
        i, kind = name.split(".")
        out[f"{prefix}transformer.resblocks.{i}.attn.in_proj_{kind}"] = torch.cat(
            [parts["q"], parts["k"], parts["v"]]
        )
    return out


def write_sd2_single_file(pipe: Any, path: Path, *, metadata: dict[str, str] | None = None,
                          extra: dict[str, torch.Tensor] | None = None) -> None:
    """An SD-2.x checkpoint as Stability's releases lay it out (OpenCLIP-H text encoder)."""
    sd: dict[str, torch.Tensor] = {}
    sd |= unet_to_ldm(pipe.unet.state_dict(), pipe.unet.config)
    sd |= vae_to_ldm(pipe.vae.state_dict(), pipe.vae.config)
    sd |= open_clip_to_ldm(pipe.text_encoder.state_dict(), "cond_stage_model.model.")
    sd |= extra or {}
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path), metadata=metadata)


def write_sdxl_single_file(pipe: Any, path: Path, *, metadata: dict[str, str] | None = None) -> None:
    """An SDXL checkpoint as sd_xl_base_1.0.safetensors lays it out: CLIP-L under
    `conditioner.embedders.0.transformer.`, OpenCLIP-bigG under `conditioner.embedders.1.model.`."""
    sd: dict[str, torch.Tensor] = {}
    sd |= unet_to_ldm(pipe.unet.state_dict(), pipe.unet.config)
    sd |= vae_to_ldm(pipe.vae.state_dict(), pipe.vae.config)
    for k, t in _text_model_keys(pipe.text_encoder.state_dict()).items():
        sd["conditioner.embedders.0.transformer." + k] = t
    sd |= open_clip_to_ldm(pipe.text_encoder_2.state_dict(), "conditioner.embedders.1.model.")
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path), metadata=metadata)

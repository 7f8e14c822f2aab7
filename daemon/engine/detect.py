"""What a model file or folder is: kind (checkpoint, ControlNet, LoRA, embedding) and base
architecture, read from safetensors headers and diffusers configs, never from file names.

Torch-free: the registry (and so the CLI) uses it. Pickles are opened only by `pickle_keys`, which
imports torch lazily and loads with `weights_only=True`.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
KINDS = ("checkpoint", "controlnet", "lora", "embedding", "vae", "preprocessor")
# the latent width of the SD-1/2/XL VAEs; SD3 and FLUX VAEs have 16
SD_LATENT_CHANNELS = 4
SDXL_VAE_SCALING = 0.13025
MAX_HEADER = 100 * 1024 * 1024


@dataclass(frozen=True)
class Detected:
    kind: str
    arch: str  # sd15, sd15-inpaint, sd2, sd2-inpaint, sdxl, sdxl-inpaint (LoRA etc.: base only)
    format: str  # diffusers | single_file
    control_type: str | None = None


def base_arch(arch: str) -> str:
    """`sdxl-inpaint` -> `sdxl`: what LoRAs, embeddings and ControlNets must match."""
    return arch.split("-", 1)[0]


def read_header(path: Path) -> tuple[dict[str, tuple[str, list[int]]], dict[str, str]]:
    """Tensor name -> (dtype, shape), and the `__metadata__` strings, of a .safetensors file."""
    try:
        with path.open("rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise ValueError("file shorter than a safetensors header")
            (n,) = struct.unpack("<Q", raw)
            if n > MAX_HEADER:
                raise ValueError(f"header of {n} bytes is implausible")
            header = json.loads(f.read(n))
    except (OSError, ValueError) as exc:
        raise InvalidInput("path", str(path), f"not a readable safetensors file ({exc})") from None
    meta = header.pop("__metadata__", None) or {}
    tensors = {k: (v.get("dtype", "?"), list(v.get("shape", []))) for k, v in header.items()}
    return tensors, {str(k): str(v) for k, v in meta.items()}


def pickle_keys(path: Path) -> dict[str, tuple[str, list[int]]]:
    """Keys and shapes of a pickle checkpoint, loaded with weights_only (no code runs)."""
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is the file's fault
        raise InvalidInput("path", str(path), f"cannot be loaded safely ({exc})") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    out: dict[str, tuple[str, list[int]]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, torch.Tensor):
            out[prefix] = (str(value.dtype), list(value.shape))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)

    walk("", obj)
    return out


def _arch_from_context_dim(dim: int, *, xl_markers: bool) -> str:
    if xl_markers or dim == 2048:
        return "sdxl"
    if dim == 1024:
        return "sd2"
    return "sd15"


def _arch_from_metadata(meta: dict[str, str]) -> str | None:
    text = (
        meta.get("modelspec.architecture", "") + " " + meta.get("ss_base_model_version", "")
    ).lower()
    if "xl" in text:
        return "sdxl"
    if "v2" in text or "sd2" in text or "stable-diffusion-v2" in text:
        return "sd2"
    if "v1" in text or "sd1" in text or "stable-diffusion-v1" in text:
        return "sd15"
    return None


def classify_tensors(
    tensors: dict[str, tuple[str, list[int]]], meta: dict[str, str], path: Path
) -> Detected:
    keys = tensors.keys()
    declared = _arch_from_metadata(meta)

    def first(pred: Any) -> tuple[str, list[int]] | None:
        for k in keys:
            if pred(k):
                return tensors[k]
        return None

    # ---- full checkpoints (original LDM layout)
    conv_in = tensors.get("model.diffusion_model.input_blocks.0.0.weight")
    if conv_in is not None:
        xl = any(
            k.startswith(("conditioner.embedders.1", "model.diffusion_model.label_emb"))
            for k in keys
        )
        k_proj = first(
            lambda k: k.startswith("model.diffusion_model.") and k.endswith("attn2.to_k.weight")
        )
        dim = k_proj[1][1] if k_proj and len(k_proj[1]) == 2 else 768
        if any(k.startswith("cond_stage_model.model.") for k in keys):
            dim = 1024
        arch = declared or _arch_from_context_dim(dim, xl_markers=xl)
        if len(conv_in[1]) > 1 and conv_in[1][1] == 9:
            arch += "-inpaint"
        return Detected("checkpoint", arch, "single_file")
    # ---- ControlNet (original or diffusers single file)
    hint = first(lambda k: "input_hint_block" in k or k.startswith("controlnet_cond_embedding"))
    if hint is not None:
        xl = any("add_embedding" in k or "label_emb" in k for k in keys)
        k_proj = first(lambda k: k.endswith("attn2.to_k.weight"))
        dim = k_proj[1][1] if k_proj and len(k_proj[1]) == 2 else 768
        union = any(k.startswith(("task_embedding", "control_add_embedding")) for k in keys)
        return Detected(
            "controlnet",
            declared or _arch_from_context_dim(dim, xl_markers=xl),
            "single_file",
            "union" if union else None,
        )
    # ---- VAE alone (A1111/Civitai LDM layout, or a diffusers AutoencoderKL saved as one file)
    decoder_in = tensors.get("decoder.conv_in.weight")
    if decoder_in is not None and "encoder.conv_in.weight" in tensors:
        channels = decoder_in[1][1] if len(decoder_in[1]) == 4 else 0
        if channels != SD_LATENT_CHANNELS:
            raise InvalidInput(
                "path",
                str(path),
                f"is a VAE with {channels} latent channels (SD3/FLUX families); this daemon "
                f"runs SD-1.x/2.x/XL, whose VAEs have {SD_LATENT_CHANNELS}",
            )
        return Detected("vae", declared or "sd", "single_file")
    # ---- LyCORIS factorisations diffusers' SD/SDXL LoRA loader cannot read (it refuses their
    # keys as "not correctly renamed"): name the format instead of a generic refusal
    for marker, name in ((".hada_w1_a", "LoHa"), (".lokr_w1", "LoKr")):
        if any(marker in k for k in keys):
            raise InvalidInput(
                "path",
                str(path),
                f"is a LyCORIS {name} file; diffusers cannot load {name} into SD/SDXL pipelines "
                "(LoRA and LoCon files load)",
            )
    # ---- LoRA: kohya (lora_unet_/lora_te_) or diffusers/peft (lora.down / lora_A)
    if any(("lora_down" in k or "lora.down" in k or "lora_A" in k) for k in keys):
        xl = any(k.startswith(("lora_te2_", "text_encoder_2.", "te2.")) for k in keys)
        k_proj = first(
            lambda k: (
                "attn2" in k
                and "to_k" in k
                and ("lora_down" in k or "lora.down" in k or "lora_A" in k)
            )
        )
        dim = k_proj[1][1] if k_proj and len(k_proj[1]) == 2 else 768
        return Detected(
            "lora", declared or _arch_from_context_dim(dim, xl_markers=xl), "single_file"
        )
    # ---- textual inversion: one or a few tensors of [n, hidden] (or clip_l/clip_g for SDXL)
    if "clip_g" in keys and "clip_l" in keys:
        return Detected("embedding", "sdxl", "single_file")
    a1111 = first(lambda k: k.startswith("string_to_param"))
    if a1111 is not None:  # A1111 .pt embedding
        hidden = a1111[1][-1] if a1111[1] else 768
        return Detected("embedding", {1024: "sd2"}.get(hidden, "sd15"), "single_file")
    vectors = [s for _, s in tensors.values()]
    if 1 <= len(vectors) <= 4 and all(len(s) in (1, 2) for s in vectors):
        hidden = vectors[0][-1]
        arch = declared or {1024: "sd2", 768: "sd15"}.get(hidden, "sd15")
        return Detected("embedding", arch, "single_file")
    raise InvalidInput(
        "path", str(path), "not a checkpoint, ControlNet, LoRA or embedding this daemon knows"
    )


def _folder(path: Path) -> Detected:
    index = path / "model_index.json"
    if index.is_file():
        cls = json.loads(index.read_text()).get("_class_name", "")
        unet_cfg = _json(path / "unet" / "config.json")
        xl = "XL" in cls or unet_cfg.get("addition_embed_type") == "text_time"
        dim = unet_cfg.get("cross_attention_dim", 768)
        arch = _arch_from_context_dim(dim if isinstance(dim, int) else 768, xl_markers=xl)
        if unet_cfg.get("in_channels") == 9:
            arch += "-inpaint"
        return Detected("checkpoint", arch, "diffusers")
    cfg = _json(path / "config.json")
    if cfg.get("_class_name") in ("ControlNetModel", "ControlNetUnionModel"):
        xl = cfg.get("addition_embed_type") == "text_time"
        dim = cfg.get("cross_attention_dim", 768)
        arch = _arch_from_context_dim(dim if isinstance(dim, int) else 768, xl_markers=xl)
        union = cfg.get("_class_name") == "ControlNetUnionModel"
        declared_type = "union" if union else cfg.get("layerbridge_control_type")
        return Detected("controlnet", arch, "diffusers", declared_type)
    if cfg.get("_class_name") == "AutoencoderKL":
        if cfg.get("latent_channels", SD_LATENT_CHANNELS) != SD_LATENT_CHANNELS:
            raise InvalidInput(
                "path", str(path), f"is a VAE with {cfg.get('latent_channels')} latent channels "
                f"(SD3/FLUX families); SD-1.x/2.x/XL VAEs have {SD_LATENT_CHANNELS}"
            )
        xl = cfg.get("scaling_factor") == SDXL_VAE_SCALING
        return Detected("vae", "sdxl" if xl else "sd", "diffusers")
    architectures = cfg.get("architectures") or []
    if any(str(a).endswith("ForDepthEstimation") for a in architectures):
        return Detected("preprocessor", "any", "transformers", "depth")
    for name, kind in (
        ("pytorch_lora_weights.safetensors", "lora"),
        ("learned_embeds.safetensors", "embedding"),
    ):
        if (path / name).is_file():
            tensors, meta = read_header(path / name)
            det = classify_tensors(tensors, meta, path / name)
            return Detected(kind, det.arch, "diffusers")
    raise InvalidInput(
        "path", str(path), "folder is not a diffusers pipeline, ControlNet, LoRA or embedding"
    )


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def detect(path: Path, *, allow_pickle: bool = False) -> Detected:
    """Kind and architecture of `path`; refuses pickles unless `allow_pickle`."""
    if path.is_dir():
        return _folder(path)
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        tensors, meta = read_header(path)
        return classify_tensors(tensors, meta, path)
    if suffix in PICKLE_SUFFIXES:
        if not allow_pickle:
            raise InvalidInput(
                "path", str(path), "pickle files can run code when loaded; import with allow_pickle"
            )
        return classify_tensors(pickle_keys(path), {}, path)
    raise InvalidInput("path", str(path), "expected a diffusers folder or a .safetensors file")

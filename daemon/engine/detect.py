"""What a model file or folder is: kind (checkpoint, ControlNet, LoRA, embedding), base
architecture and sampling (epsilon or v-prediction), read from safetensors headers, metadata
and diffusers configs, never from file names. Files that are cut short, malformed, missing a
component, or of a family the daemon cannot run are refused here, naming the file or family.

Torch-free: the registry (and so the CLI) uses it. Pickles are opened only by `pickle_tensors`,
which imports torch lazily and loads with `weights_only=True`.
"""

from __future__ import annotations

import json
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidInput
from .families import (
    SUPPORTED_PIPELINES,
    family_of_pipeline,
    lora_layout_is_sd,
    unsupported_family,
)

PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
KINDS = ("checkpoint", "controlnet", "lora", "embedding", "vae", "preprocessor")
PREDICTIONS = ("epsilon", "v_prediction")
# the latent width of the SD-1/2/XL VAEs; SD3 and FLUX VAEs have 16
SD_LATENT_CHANNELS = 4
SDXL_VAE_SCALING = 0.13025
MAX_HEADER = 100 * 1024 * 1024
DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
    "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "U32": 4, "U64": 8,
}  # fmt: skip
# components a pipeline is loaded without (safety checker, its image processor, IP-Adapter)
OPTIONAL_COMPONENTS = ("safety_checker", "feature_extractor", "image_encoder")

Tensors = dict[str, tuple[str, list[int]]]
Values = Callable[[str], list[float] | None]


@dataclass(frozen=True)
class Detected:
    kind: str
    arch: str  # sd15, sd15-inpaint, sd2, sd2-inpaint, sdxl, sdxl-inpaint (LoRA etc.: base only)
    format: str  # diffusers | single_file
    control_type: str | None = None
    prediction: str | None = None  # checkpoints: epsilon | v_prediction
    prediction_source: str | None = None  # where `prediction` was read (shown in `models list`)
    variant: str | None = None  # diffusers folders whose weights exist only as `*.fp16.*`
    pickle: bool = False  # some weights are pickles (imported with allow_pickle)


def base_arch(arch: str) -> str:
    """`sdxl-inpaint` -> `sdxl`: what LoRAs, embeddings and ControlNets must match."""
    return arch.split("-", 1)[0]


# ---------------------------------------------------------------------- safetensors


def _bad(path: Path, reason: str) -> InvalidInput:
    return InvalidInput("path", str(path), reason)


def _header(path: Path) -> tuple[dict[str, Any], int, int]:
    """The parsed header, its length and the file size; every structural fault named."""
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            raw = f.read(8)
            if len(raw) != 8:
                raise _bad(path, f"is not a safetensors file ({size} bytes, shorter than a header)")
            (n,) = struct.unpack("<Q", raw)
            if n > MAX_HEADER:
                raise _bad(path, f"is not a safetensors file (a header of {n} bytes is implausible)")
            if 8 + n > size:
                raise _bad(
                    path,
                    f"is truncated: its header needs {8 + n} bytes, the file has {size} "
                    "(an interrupted copy or download?)",
                )
            text = f.read(n)
    except OSError as exc:
        raise _bad(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        header = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise _bad(path, "is not a safetensors file (its header is not JSON)") from None
    if not isinstance(header, dict):
        raise _bad(path, "is not a safetensors file (its header is not a JSON object)")
    return header, n, size


def read_header(path: Path) -> tuple[Tensors, dict[str, str]]:
    """Tensor name -> (dtype, shape), and the `__metadata__` strings, of a .safetensors file.
    Refuses a malformed header, and a file shorter than its header's offsets say."""
    header, n, size = _header(path)
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict):
        raise _bad(path, "is malformed: __metadata__ is not an object")
    tensors: Tensors = {}
    end = 0
    for name, info in header.items():
        dtype = info.get("dtype") if isinstance(info, dict) else None
        shape = info.get("shape") if isinstance(info, dict) else None
        offsets = info.get("data_offsets") if isinstance(info, dict) else None
        if (
            not isinstance(dtype, str)
            or not isinstance(shape, list)
            or not all(isinstance(d, int) and d >= 0 for d in shape)
            or not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1]
        ):
            raise _bad(path, f"is malformed: tensor {name[:120]!r} has no valid dtype/shape/offsets")
        width = DTYPE_BYTES.get(dtype)
        if width is not None and math.prod(shape) * width != offsets[1] - offsets[0]:
            raise _bad(path, f"is malformed: tensor {name[:120]!r} does not fit its offsets")
        end = max(end, offsets[1])
        tensors[str(name)] = (dtype, list(shape))
    if 8 + n + end > size:
        raise _bad(
            path,
            f"is truncated: its tensors end at byte {8 + n + end}, the file has {size} "
            "(an interrupted copy or download?)",
        )
    return tensors, {str(k): str(v) for k, v in meta.items()}


def tensor_values(path: Path, name: str) -> list[float] | None:
    """The values of one small float tensor of a .safetensors file, without torch."""
    header, n, _ = _header(path)
    info = header.get(name)
    if not isinstance(info, dict):
        return None
    start, stop = info["data_offsets"]
    with path.open("rb") as f:
        f.seek(8 + n + start)
        data = f.read(stop - start)
    dtype = info.get("dtype")
    if dtype == "F32":
        return list(struct.unpack(f"<{len(data) // 4}f", data))
    if dtype == "F16":
        return list(struct.unpack(f"<{len(data) // 2}e", data))
    if dtype == "BF16":  # the high half of an IEEE float32
        halves = struct.unpack(f"<{len(data) // 2}H", data)
        return list(struct.unpack(f"<{len(halves)}f", struct.pack(f"<{len(halves)}I",
                                                                   *(h << 16 for h in halves))))
    return None


def pickle_tensors(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """Tensors of a pickle checkpoint (loaded with weights_only: no code runs), and the other
    top-level values (`global_step`, ...)."""
    import torch

    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure is the file's fault
        raise _bad(path, f"cannot be loaded safely ({str(exc)[:200]})") from None
    extra: dict[str, Any] = {}
    if isinstance(obj, dict):
        extra = {k: v for k, v in obj.items() if isinstance(v, (int, float, str))}
        if isinstance(obj.get("state_dict"), dict):
            obj = obj["state_dict"]
    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, torch.Tensor):
            out[prefix] = value
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)

    walk("", obj)
    return out, extra


def pickle_keys(path: Path) -> Tensors:
    """Keys and shapes of a pickle checkpoint, loaded with weights_only (no code runs)."""
    tensors, _ = pickle_tensors(path)
    return {k: (str(t.dtype), list(t.shape)) for k, t in tensors.items()}


# ---------------------------------------------------------------------- classification


def _arch_from_context_dim(dim: int | None) -> str | None:
    return {768: "sd15", 1024: "sd2", 2048: "sdxl"}.get(dim) if dim is not None else None


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


def _prediction_from_metadata(meta: dict[str, str]) -> str | None:
    spec = meta.get("modelspec.prediction_type", "").strip().lower()
    if spec in ("v", "v_prediction", "v-prediction"):
        return "v_prediction"
    if spec in ("epsilon", "eps"):
        return "epsilon"
    arch = meta.get("modelspec.architecture", "").lower()
    if arch.startswith("stable-diffusion-v2-768-v"):
        return "v_prediction"
    if arch.startswith("stable-diffusion-v2-512"):
        return "epsilon"
    v_param = meta.get("ss_v_parameterization", "").strip().lower()
    if v_param in ("true", "false"):
        return "v_prediction" if v_param == "true" else "epsilon"
    return None


# ComfyUI's test for SD-2: the 768-v checkpoints' last attention block has spread-out norm
# biases (std > 0.09), the 512 epsilon base's do not. Only where the file does not say.
V_TEST_KEY = "model.diffusion_model.output_blocks.11.1.transformer_blocks.0.norm1.bias"
V_TEST_STD = 0.09


def checkpoint_prediction(
    arch: str, tensors: Tensors, meta: dict[str, str], values: Values, extra: dict[str, Any]
) -> tuple[str, str]:
    """(prediction, where it was read): metadata, a `v_pred` key, a `global_step` of 875000
    (the SD-2 512 base), then for SD-2 the norm-bias test; else epsilon."""
    said = _prediction_from_metadata(meta)
    if said is not None:
        return said, "metadata"
    if "v_pred" in tensors:  # the marker ComfyUI and the v-prediction SDXL merges write
        return "v_prediction", "v_pred key"
    if base_arch(arch) != "sd2" or arch.endswith("-inpaint"):  # SD-2 inpainting is epsilon
        return "epsilon", "family"
    if extra.get("global_step") == 875000:
        return "epsilon", "global_step"
    bias = values(V_TEST_KEY)
    if bias:
        mean = sum(bias) / len(bias)
        std = math.sqrt(sum((b - mean) ** 2 for b in bias) / len(bias))
        return ("v_prediction" if std > V_TEST_STD else "epsilon"), "norm test"
    return "v_prediction", "family"  # most SD-2 files in circulation are 768-v


def classify_tensors(
    tensors: Tensors,
    meta: dict[str, str],
    path: Path,
    values: Values | None = None,
    extra: dict[str, Any] | None = None,
) -> Detected:
    keys = tensors.keys()
    family = unsupported_family(keys, meta)
    if family is not None:
        raise _bad(path, f"is a {family} model; this daemon runs SD-1.x, SD-2.x and SDXL only")
    declared = _arch_from_metadata(meta)

    def first(pred: Any) -> tuple[str, list[int]] | None:
        for k in keys:
            if pred(k):
                return tensors[k]
        return None

    def width(shape: tuple[str, list[int]] | None) -> int | None:
        return shape[1][1] if shape is not None and len(shape[1]) == 2 else None

    # ---- full checkpoints (original LDM layout)
    conv_in = tensors.get("model.diffusion_model.input_blocks.0.0.weight")
    if conv_in is not None:
        # the text encoder's layout names the family: CLIP-L (SD-1), OpenCLIP-H (SD-2), both
        # as `conditioner.embedders` (SDXL); the cross-attention width where they are absent
        if any(k.startswith("conditioner.embedders.1.") for k in keys) or any(
            k.startswith("model.diffusion_model.label_emb") for k in keys
        ):
            arch: str | None = "sdxl"
        elif any(k.startswith("cond_stage_model.model.") for k in keys):
            arch = "sd2"
        elif any(k.startswith("cond_stage_model.transformer.") for k in keys):
            arch = "sd15"
        else:
            arch = _arch_from_context_dim(
                width(first(lambda k: k.startswith("model.diffusion_model.")
                            and k.endswith("attn2.to_k.weight")))
            )
        arch = declared or arch
        if arch is None:
            raise _bad(path, "is a checkpoint of no family this daemon knows (SD-1.x, SD-2.x, SDXL)")
        channels = conv_in[1][1] if len(conv_in[1]) > 1 else 4
        if channels not in (4, 9):
            raise _bad(path, f"has a UNet with {channels} input channels (instruct-pix2pix, an "
                       "upscaler?); this daemon runs text-to-image and 9-channel inpaint models")
        if channels == 9:
            arch += "-inpaint"
        prediction, source = checkpoint_prediction(
            arch, tensors, meta, values or (lambda _: None), extra or {}
        )
        return Detected("checkpoint", arch, "single_file", prediction=prediction,
                        prediction_source=source)
    # ---- ControlNet (original or diffusers single file)
    hint = first(lambda k: "input_hint_block" in k or k.startswith("controlnet_cond_embedding"))
    if hint is not None:
        xl = any("add_embedding" in k or "label_emb" in k for k in keys)
        arch = "sdxl" if xl else _arch_from_context_dim(
            width(first(lambda k: k.endswith("attn2.to_k.weight")))
        )
        union = any(k.startswith(("task_embedding", "control_add_embedding")) for k in keys)
        # no width it knows (a test-sized net read with `config=`): SD-1.x's layout
        return Detected(
            "controlnet", declared or arch or "sd15", "single_file", "union" if union else None
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
        if not lora_layout_is_sd(keys):
            raise _bad(path, "is a LoRA for a model family this daemon does not run (its layers "
                       "are not an SD-1.x, SD-2.x or SDXL UNet or text encoder)")
        arch = declared
        if arch is None and any(k.startswith(("lora_te2_", "text_encoder_2.", "te2.")) for k in keys):
            arch = "sdxl"
        if arch is None:
            down = ("lora_down", "lora.down", "lora_A")
            k_width = width(first(lambda k: "attn2" in k and "to_k" in k and any(d in k for d in down)))
            arch = _arch_from_context_dim(k_width)
            if arch is None and k_width is None:  # text encoder only: CLIP-L 768, OpenCLIP-H 1024
                te = width(first(lambda k: k.startswith(("lora_te_", "lora_te1_", "text_encoder."))
                                 and "mlp" in k and "fc1" in k and any(d in k for d in down)))
                arch = {768: "sd15", 1024: "sd2"}.get(te) if te is not None else None
            if arch is None:
                raise _bad(path, f"is a LoRA for no family this daemon knows (cross-attention "
                           f"width {k_width}; SD-1.x is 768, SD-2.x 1024, SDXL 2048)")
        return Detected("lora", arch, "single_file")
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
    raise _bad(path, "is not a checkpoint, ControlNet, LoRA or embedding this daemon knows")


# ---------------------------------------------------------------------- diffusers folders


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def weights_tag(name: str) -> str | None:
    """The variant a weights file name carries: `model.fp16.safetensors`,
    `x.fp16-00001-of-00002.safetensors` -> "fp16"."""
    parts = name.removesuffix(".safetensors").split(".")
    return parts[1].split("-")[0] if len(parts) > 1 else None


def _weights(folder: Path, root: Path, *, allow_pickle: bool) -> tuple[str | None, bool]:
    """Check one model component's weights; returns (the variant it needs, pickled?).
    Every safetensors file is checked for truncation; shards named by an index must exist."""
    label = folder.relative_to(root).as_posix() if folder != root else folder.name
    files = sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    indexes = [p for p in files if ".safetensors.index" in p.name and p.suffix == ".json"]
    shards: list[Path] = [p for p in files if p.suffix == ".safetensors"]
    for index in indexes:
        weight_map = _json(index).get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise _bad(index, "is not a valid shard index (no weight_map)")
        for shard in sorted(set(map(str, weight_map.values()))):
            if not (folder / shard).is_file():
                raise _bad(folder / shard, f"is missing: {index.name} names it")
    for file in shards:
        read_header(file)
    if shards:
        # `x.safetensors` needs no variant; `x.fp16.safetensors` alone needs variant="fp16"
        plain = [p for p in shards if len(p.name.split(".")) == 2]
        if plain:
            return None, False
        return weights_tag(shards[0].name), False
    pickles = [p for p in files if p.suffix in PICKLE_SUFFIXES]
    if pickles:
        if not allow_pickle:
            raise _bad(folder / pickles[0].name, f"{label}/ holds only pickled weights, which can "
                       "run code when loaded; import with allow_pickle")
        return None, True
    raise _bad(folder, f"{label}/ has no weights (diffusion_pytorch_model.safetensors or "
               "model.safetensors): an incomplete download?")


def _components(path: Path, index: dict[str, Any], *, allow_pickle: bool) -> tuple[str | None, bool]:
    """Every component model_index.json names must be there, whole; returns (variant, pickle)."""
    variants: set[str] = set()
    pickled = False
    for name, spec in index.items():
        if name.startswith("_") or name in OPTIONAL_COMPONENTS:
            continue
        if not isinstance(spec, list) or len(spec) != 2 or spec[0] is None or spec[1] is None:
            continue
        sub = path / name
        cls = str(spec[1])
        if not sub.is_dir():
            raise _bad(path, f"is missing its {name}/ folder ({cls}): an incomplete download?")
        if "Tokenizer" in cls:
            if not ((sub / "vocab.json").is_file() and (sub / "merges.txt").is_file()) and not (
                sub / "tokenizer.json"
            ).is_file():
                raise _bad(sub, f"{name}/ has no vocab.json + merges.txt or tokenizer.json")
        elif "Scheduler" in cls:
            if not (sub / "scheduler_config.json").is_file():
                raise _bad(sub, f"{name}/ has no scheduler_config.json")
        else:
            if not (sub / "config.json").is_file():
                raise _bad(sub, f"{name}/ has no config.json")
            variant, pk = _weights(sub, path, allow_pickle=allow_pickle)
            pickled |= pk
            if variant:
                variants.add(variant)
    if len(variants) > 1:
        raise _bad(path, f"mixes weight variants ({', '.join(sorted(variants))})")
    return (variants.pop() if variants else None), pickled


def _folder(path: Path, *, allow_pickle: bool) -> Detected:
    index_file = path / "model_index.json"
    if index_file.is_file():
        index = _json(index_file)
        if not index:
            raise _bad(index_file, "is not valid JSON")
        cls = str(index.get("_class_name", ""))
        if cls not in SUPPORTED_PIPELINES:
            raise _bad(path, f"is a {family_of_pipeline(cls)} pipeline ({cls}); this daemon "
                       "runs SD-1.x, SD-2.x and SDXL only")
        variant, pickled = _components(path, index, allow_pickle=allow_pickle)
        unet_cfg = _json(path / "unet" / "config.json")
        xl = "XL" in cls or unet_cfg.get("addition_embed_type") == "text_time"
        dim = unet_cfg.get("cross_attention_dim", 768)
        arch = "sdxl" if xl else ("sd2" if dim == 1024 else "sd15")
        if unet_cfg.get("in_channels") == 9:
            arch += "-inpaint"
        prediction = _json(path / "scheduler" / "scheduler_config.json").get("prediction_type")
        if prediction not in PREDICTIONS:
            prediction = "epsilon"
        return Detected("checkpoint", arch, "diffusers", prediction=prediction,
                        prediction_source="scheduler config", variant=variant, pickle=pickled)
    cfg = _json(path / "config.json")
    if cfg.get("_class_name") in ("ControlNetModel", "ControlNetUnionModel"):
        variant, pickled = _weights(path, path, allow_pickle=allow_pickle)
        xl = cfg.get("addition_embed_type") == "text_time"
        dim = cfg.get("cross_attention_dim", 768)
        arch = "sdxl" if xl else ("sd2" if dim == 1024 else "sd15")
        union = cfg.get("_class_name") == "ControlNetUnionModel"
        ctype = "union" if union else cfg.get("layerbridge_control_type")
        return Detected("controlnet", arch, "diffusers", str(ctype) if ctype else None,
                        variant=variant, pickle=pickled)
    if cfg.get("_class_name") == "AutoencoderKL":
        if cfg.get("latent_channels", SD_LATENT_CHANNELS) != SD_LATENT_CHANNELS:
            raise InvalidInput(
                "path", str(path), f"is a VAE with {cfg.get('latent_channels')} latent channels "
                f"(SD3/FLUX families); SD-1.x/2.x/XL VAEs have {SD_LATENT_CHANNELS}"
            )
        variant, pickled = _weights(path, path, allow_pickle=allow_pickle)
        xl = cfg.get("scaling_factor") == SDXL_VAE_SCALING
        return Detected("vae", "sdxl" if xl else "sd", "diffusers", variant=variant, pickle=pickled)
    architectures = cfg.get("architectures") or []
    if any(str(a).endswith("ForDepthEstimation") for a in architectures):
        return Detected("preprocessor", "any", "transformers", "depth")
    if cfg.get("_class_name"):
        raise _bad(path, f"is a {family_of_pipeline(str(cfg['_class_name']))} model folder; this "
                   "daemon registers checkpoints, ControlNets, LoRAs and embeddings")
    for name, kind in (
        ("pytorch_lora_weights.safetensors", "lora"),
        ("learned_embeds.safetensors", "embedding"),
    ):
        if (path / name).is_file():
            tensors, meta = read_header(path / name)
            det = classify_tensors(tensors, meta, path / name)
            return Detected(kind, det.arch, "diffusers")
    raise _bad(path, "folder is not a diffusers pipeline, ControlNet, LoRA or embedding")


def detect(path: Path, *, allow_pickle: bool = False) -> Detected:
    """Kind, architecture and sampling of `path`; refuses pickles unless `allow_pickle`, and
    damaged files and families the daemon cannot run always."""
    if path.is_dir():
        return _folder(path, allow_pickle=allow_pickle)
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        tensors, meta = read_header(path)
        return classify_tensors(tensors, meta, path, lambda name: tensor_values(path, name))
    if suffix in PICKLE_SUFFIXES:
        if not allow_pickle:
            raise _bad(path, "pickle files can run code when loaded; import with allow_pickle")
        state, extra = pickle_tensors(path)
        shapes = {k: (str(t.dtype), list(t.shape)) for k, t in state.items()}

        def values(name: str) -> list[float] | None:
            t = state.get(name)
            return [float(x) for x in t.float().flatten().tolist()] if t is not None else None

        found = classify_tensors(shapes, {}, path, values, extra)
        return Detected(**{**found.__dict__, "pickle": True})
    raise _bad(path, "expected a diffusers folder or a .safetensors file")

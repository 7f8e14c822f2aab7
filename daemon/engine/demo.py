"""`layerbridge models demo`: tiny random-weight models in real diffusers formats, so every
pipeline (txt2img, img2img, inpaint, ControlNet, LoRA, embeddings, SDXL) runs on a CPU in
seconds. Seeded: every build gives the same bytes. Idempotent: models already built are kept.

torch/diffusers are imported inside the functions: the CLI imports this module cheaply.
"""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import Paths
from ..protocol.messages import ModelInfo
from .registry import Registry

CONTROL_TYPES = ("canny", "scribble", "lineart", "softedge", "tile")
SAMPLE_SIZE = 16  # latent side: native 128 px, so tests stay fast
DEMO_VERSION = 3  # bump when the builders change: older builds are rebuilt


def _bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    bs += list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs), strict=True))


WORDS = ("a", "the", "cat", "dog", "red", "blue", "sky", "tree", "photo", "of", "house", "sea")


def write_tokenizer(folder: Path) -> int:
    """A byte-level BPE vocab in CLIP's layout (bytes, bytes+</w>, merges, specials). Returns its
    size (the text encoder's vocab_size must cover it)."""
    folder.mkdir(parents=True, exist_ok=True)
    symbols = list(_bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols]
    merges: list[tuple[str, str]] = []
    for word in WORDS:  # merge each word left to right, the last piece with </w>
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        while len(pieces) > 1:
            pair = (pieces[0], pieces[1])
            if pair not in merges:
                merges.append(pair)
                if pair[0] + pair[1] not in vocab:
                    vocab.append(pair[0] + pair[1])
            pieces = [pieces[0] + pieces[1]] + pieces[2:]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(
        json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False)
    )
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "\n".join(f"{a} {b}" for a, b in merges) + "\n"
    )
    (folder / "tokenizer_config.json").write_text(
        json.dumps(
            {"model_max_length": 77, "tokenizer_class": "CLIPTokenizer", "do_lower_case": True}
        )
    )
    (folder / "special_tokens_map.json").write_text(
        json.dumps(
            {
                "bos_token": "<|startoftext|>",
                "eos_token": "<|endoftext|>",
                "pad_token": "<|endoftext|>",
                "unk_token": "<|endoftext|>",
            }
        )
    )
    return len(vocab)


def _text_encoder(vocab_size: int, *, projection: bool, seed: int) -> Any:
    import torch
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cfg = CLIPTextConfig(
        vocab_size=vocab_size + 8,
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=3,
        max_position_embeddings=77,
        projection_dim=32,
        bos_token_id=vocab_size - 2,
        eos_token_id=vocab_size - 1,
        pad_token_id=vocab_size - 1,
        hidden_act="gelu",
    )
    torch.manual_seed(seed)
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(cfg)


def _vae(seed: int) -> Any:
    import torch
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(
        block_out_channels=(16, 32, 32, 32),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        norm_num_groups=8,
        layers_per_block=1,
        sample_size=SAMPLE_SIZE * 8,
    )


def _unet(seed: int, *, xl: bool, in_channels: int = 4) -> Any:
    import torch
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    common: dict[str, Any] = dict(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=SAMPLE_SIZE,
        in_channels=in_channels,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
    )
    if xl:
        common.update(
            attention_head_dim=(2, 4),
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=8,
            transformer_layers_per_block=(1, 1),
            projection_class_embeddings_input_dim=80,  # 6 size ids * 8 + pooled text (32)
            cross_attention_dim=64,  # both text encoders, 32 + 32
        )
    else:
        common.update(attention_head_dim=8, cross_attention_dim=32)
    return UNet2DConditionModel(**common)


def _scheduler() -> Any:
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="leading",
    )


def build_sd(folder: Path, *, seed: int, inpaint: bool = False) -> Any:
    """A tiny SD-1.5-architecture pipeline saved in diffusers format; returns the pipeline."""
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline
    from transformers import CLIPTokenizer

    n = write_tokenizer(folder / "_tok")
    tokenizer = CLIPTokenizer.from_pretrained(folder / "_tok")
    cls: Any = StableDiffusionInpaintPipeline if inpaint else StableDiffusionPipeline
    pipe = cls(
        vae=_vae(seed + 1),
        text_encoder=_text_encoder(n, projection=False, seed=seed + 2),
        tokenizer=tokenizer,
        unet=_unet(seed, xl=False, in_channels=9 if inpaint else 4),
        scheduler=_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    shutil.rmtree(folder / "_tok")
    return pipe


def build_sdxl(folder: Path, *, seed: int, inpaint: bool = False) -> Any:
    from diffusers import StableDiffusionXLInpaintPipeline, StableDiffusionXLPipeline
    from transformers import CLIPTokenizer

    n = write_tokenizer(folder / "_tok")
    tokenizer = CLIPTokenizer.from_pretrained(folder / "_tok")
    cls: Any = StableDiffusionXLInpaintPipeline if inpaint else StableDiffusionXLPipeline
    pipe = cls(
        vae=_vae(seed + 1),
        text_encoder=_text_encoder(n, projection=False, seed=seed + 2),
        text_encoder_2=_text_encoder(n, projection=True, seed=seed + 3),
        tokenizer=tokenizer,
        tokenizer_2=CLIPTokenizer.from_pretrained(folder / "_tok"),
        unet=_unet(seed, xl=True, in_channels=9 if inpaint else 4),
        scheduler=_scheduler(),
        force_zeros_for_empty_prompt=True,
    )
    pipe.save_pretrained(folder, safe_serialization=True)
    shutil.rmtree(folder / "_tok")
    return pipe


def _controlnet_from(pipeline: Callable[[], Any], folder: Path, *, seed: int, control_type: str) -> None:
    build_controlnet(folder, pipeline().unet, seed=seed, control_type=control_type)


def build_controlnet(folder: Path, unet: Any, *, seed: int, control_type: str) -> None:
    import torch
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    net = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=(8, 16, 32, 32))
    with torch.no_grad():  # from_unet zero-inits the outputs: give them weight so control shows
        for block in [*net.controlnet_down_blocks, net.controlnet_mid_block]:
            block.weight.normal_(0, 0.3)
        # and the map's way in, else every map gives the same image
        net.controlnet_cond_embedding.conv_out.weight.normal_(0, 0.3)
    net.register_to_config(layerbridge_control_type=control_type)
    net.save_pretrained(folder, safe_serialization=True)


def build_lora(path: Path, pipe: Any, *, seed: int, arch: str, kohya: bool = False) -> None:
    """A rank-4 LoRA on the UNet's attention and the text encoder(s), random non-zero weights."""
    import torch
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(seed)
    tensors: dict[str, torch.Tensor] = {}
    rank = 4

    def add(prefix: str, module: Any, names: tuple[str, ...]) -> None:
        for full, sub in module.named_modules():
            if isinstance(sub, torch.nn.Linear) and full.rsplit(".", 1)[-1] in names:
                down = torch.randn(rank, sub.in_features, generator=gen) * 0.2
                up = torch.randn(sub.out_features, rank, generator=gen) * 0.2
                if kohya:
                    key = f"{prefix}_{full}".replace(".", "_")
                    tensors[f"{key}.lora_down.weight"] = down
                    tensors[f"{key}.lora_up.weight"] = up
                    tensors[f"{key}.alpha"] = torch.tensor(float(rank))
                else:
                    tensors[f"{prefix}.{full}.lora_A.weight"] = down
                    tensors[f"{prefix}.{full}.lora_B.weight"] = up

    attn = ("to_q", "to_k", "to_v", "to_out.0") if not kohya else ("to_q", "to_k", "to_v", "0")
    add("lora_unet" if kohya else "unet", pipe.unet, attn)
    spec = "stable-diffusion-xl-v1-base/lora" if arch == "sdxl" else "stable-diffusion-v1/lora"
    save_file(tensors, str(path), metadata={"modelspec.architecture": spec, "format": "pt"})


def build_embedding(path: Path, pipe: Any, *, seed: int) -> None:
    import torch
    from safetensors.torch import save_file

    gen = torch.Generator().manual_seed(seed)
    hidden = pipe.text_encoder.config.hidden_size
    save_file({"emb_params": torch.randn(2, hidden, generator=gen)}, str(path))


def _stamp(folder: Path) -> Path:
    return folder / ".layerbridge-demo"


def build_demo(paths: Paths, *, only: tuple[str, ...] | None = None) -> list[ModelInfo]:
    """Build (if missing) and register the demo models; the first becomes the default model if
    there is none. Returns the demo models' infos."""
    import diffusers
    import torch
    import transformers

    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
    paths.ensure()
    reg = Registry(paths)
    out: list[ModelInfo] = []
    root = paths.models

    def ensure(
        model_id: str, make: Callable[[Path], None], file: bool = False, **record: Any
    ) -> None:
        if only is not None and model_id not in only:
            return
        target = root / (f"{model_id}.safetensors" if file else model_id)
        if file:
            done = target.is_file()
        else:
            stamp = _stamp(target)
            done = stamp.is_file() and stamp.read_text() == str(DEMO_VERSION)
        if not done:
            if target.is_dir():
                shutil.rmtree(target)
            part = target.with_name(target.name + ".part")
            if part.is_dir():
                shutil.rmtree(part)
            if not file:
                part.mkdir(parents=True)
            with torch.random.fork_rng(devices=[]):
                make(part)
            if not file:
                _stamp(part).write_text(str(DEMO_VERSION))
            part.replace(target)
        out.append(reg.register(model_id, target, replace=True, name=f"Demo {model_id}", **record))

    cache: dict[str, Any] = {}

    def sd() -> Any:
        if "sd" not in cache:
            from diffusers import StableDiffusionPipeline

            cache["sd"] = StableDiffusionPipeline.from_pretrained(root / "demo")
        return cache["sd"]

    def xl() -> Any:
        if "xl" not in cache:
            from diffusers import StableDiffusionXLPipeline

            cache["xl"] = StableDiffusionXLPipeline.from_pretrained(root / "demo-xl")
        return cache["xl"]

    ckpt: dict[str, Any] = dict(kind="checkpoint", format="diffusers")
    ensure("demo", lambda f: build_sd(f, seed=1), arch="sd15", **ckpt)
    ensure("demo-inpaint", lambda f: build_sd(f, seed=2, inpaint=True), arch="sd15-inpaint", **ckpt)
    ensure("demo-xl", lambda f: build_sdxl(f, seed=3), arch="sdxl", **ckpt)
    ensure(
        "demo-xl-inpaint",
        lambda f: build_sdxl(f, seed=4, inpaint=True),
        arch="sdxl-inpaint",
        **ckpt,
    )
    for i, ctype in enumerate(CONTROL_TYPES):
        ensure(
            f"demo-cn-{ctype}",
            functools.partial(_controlnet_from, sd, seed=10 + i, control_type=ctype),
            kind="controlnet",
            arch="sd15",
            format="diffusers",
            control_type=ctype,
        )
    ensure(
        "demo-xl-cn-canny",
        lambda f: build_controlnet(f, xl().unet, seed=20, control_type="canny"),
        kind="controlnet",
        arch="sdxl",
        format="diffusers",
        control_type="canny",
    )
    lora: dict[str, Any] = dict(kind="lora", format="single_file", file=True)
    ensure(
        "demo-lora",
        lambda f: build_lora(f, sd(), seed=30, arch="sd15"),
        arch="sd15",
        trigger_words=["demostyle"],
        default_weight=0.8,
        **lora,
    )
    ensure(
        "demo-lora-kohya",
        lambda f: build_lora(f, sd(), seed=31, arch="sd15", kohya=True),
        arch="sd15",
        **lora,
    )
    ensure("demo-xl-lora", lambda f: build_lora(f, xl(), seed=32, arch="sdxl"), arch="sdxl", **lora)
    ensure(
        "demo-embedding",
        lambda f: build_embedding(f, sd(), seed=40),
        kind="embedding",
        arch="sd15",
        format="single_file",
        file=True,
    )
    if reg.default() is None and (only is None or "demo" in only):
        reg.set_default("demo")
        out = [i.model_copy(update={"default": i.id == "demo"}) for i in out]
    return out

"""Model families the daemon cannot run, told from tensor names and safetensors metadata, so
that `models add` refuses them by name instead of registering them as SD-1.5.

Key markers follow the layouts the original implementations, kohya-ss sd-scripts, diffusers and
ComfyUI write (the same markers diffusers' single-file loader checks). Torch-free.
"""

from __future__ import annotations

from collections.abc import Iterable

# pipelines the daemon loads (model_index.json `_class_name`)
SUPPORTED_PIPELINES = frozenset({
    "StableDiffusionPipeline",
    "StableDiffusionImg2ImgPipeline",
    "StableDiffusionInpaintPipeline",
    "StableDiffusionXLPipeline",
    "StableDiffusionXLImg2ImgPipeline",
    "StableDiffusionXLInpaintPipeline",
})

# metadata words (modelspec.architecture, ss_base_model_version) -> family; checked in order
METADATA_FAMILIES: tuple[tuple[str, str], ...] = (
    ("chroma", "Chroma (FLUX)"),
    ("flux", "FLUX"),
    ("stable-diffusion-3", "SD3"),
    ("sd3", "SD3"),
    ("cascade", "Stable Cascade"),
    ("wuerstchen", "Stable Cascade"),
    ("lumina", "Lumina"),
    ("pixart", "PixArt"),
    ("hunyuan", "Hunyuan"),
    ("auraflow", "AuraFlow"),
    ("kolors", "Kolors"),
    ("playground-v2.5", "Playground v2.5"),
    ("stable-video", "Stable Video Diffusion"),
    ("svd", "Stable Video Diffusion"),
    ("sana", "Sana"),
    ("hidream", "HiDream"),
    ("qwen", "Qwen-Image"),
    ("wan", "Wan"),
    ("ltx", "LTX-Video"),
    ("mochi", "Mochi"),
    ("cosmos", "Cosmos"),
)

# substrings of tensor names -> family (kohya LoRA names use `_` where others use `.`)
KEY_FAMILIES: tuple[tuple[str, str], ...] = (
    ("double_blocks", "FLUX"),  # BFL original, kohya lora_unet_double_blocks_*
    ("single_blocks", "FLUX"),
    ("single_transformer_blocks", "FLUX"),  # diffusers FluxTransformer2DModel
    ("distilled_guidance_layer", "Chroma (FLUX)"),
    ("joint_blocks", "SD3"),  # MMDiT original and kohya lora_unet_joint_blocks_*
    ("context_embedder", "SD3"),
    ("clip_txt_mapper", "Stable Cascade"),
    ("channelwise", "Stable Cascade"),
    ("lora_prior_unet", "Stable Cascade"),
    ("double_layers", "AuraFlow"),
    ("cond_seq_linear", "AuraFlow"),
    ("adaln_single", "PixArt"),
    ("text_embedding_padding", "Hunyuan"),
    ("mlp_t5", "Hunyuan"),
    ("cap_embedder", "Lumina"),
    ("edm_mean", "Playground v2.5"),
    ("t5xxl", "a T5 text encoder (SD3/FLUX)"),
    ("lora_te3", "a T5 text encoder (SD3/FLUX)"),
    ("time_stack", "Stable Video Diffusion"),
    ("temporal_transformer", "AnimateDiff"),
    ("motion_modules", "AnimateDiff"),
)

# SDXL's refiner (OpenCLIP as the only embedder) needs aesthetic-score conditioning
REFINER_KEY = "conditioner.embedders.0.model.transformer."

PIPELINE_FAMILIES: tuple[tuple[str, str], ...] = (
    ("Flux", "FLUX"),
    ("Chroma", "Chroma (FLUX)"),
    ("StableDiffusion3", "SD3"),
    ("StableCascade", "Stable Cascade"),
    ("Wuerstchen", "Stable Cascade"),
    ("Kandinsky", "Kandinsky"),
    ("PixArt", "PixArt"),
    ("HunyuanDiT", "Hunyuan"),
    ("AuraFlow", "AuraFlow"),
    ("Kolors", "Kolors"),
    ("Sana", "Sana"),
    ("Lumina", "Lumina"),
    ("StableVideoDiffusion", "Stable Video Diffusion"),
    ("AnimateDiff", "AnimateDiff"),
    ("IF", "DeepFloyd IF"),
    ("Wan", "Wan"),
    ("LTX", "LTX-Video"),
    ("StableDiffusionUpscale", "SD x4 upscaler"),
    ("StableDiffusionLatentUpscale", "SD latent upscaler"),
    ("StableDiffusionInstructPix2Pix", "instruct-pix2pix"),
    ("StableUnCLIP", "Stable unCLIP"),
)


def unsupported_family(keys: Iterable[str], meta: dict[str, str]) -> str | None:
    """The family a file belongs to when it is one the daemon cannot run, else None."""
    said = (
        meta.get("modelspec.architecture", "") + " " + meta.get("ss_base_model_version", "")
    ).lower()
    for word, family in METADATA_FAMILIES:
        if word in said:
            return family
    names = list(keys)
    lowered = [k.lower() for k in names]
    for marker, family in KEY_FAMILIES:
        if any(marker in k for k in lowered):
            return family
    if any(k.startswith(REFINER_KEY) for k in names) and not any(
        k.startswith("conditioner.embedders.1.") for k in names
    ):
        return "SDXL refiner"
    if any(k.startswith(("transformer.", "lora_transformer_")) for k in names):
        if any("add_k_proj" in k or "add_q_proj" in k for k in lowered):
            return "SD3"  # joint attention with no single-stream blocks (those are FLUX's)
        return "transformer (DiT)"  # SD-1/2/XL LoRAs target `unet`, never `transformer`
    return None


# the layers of an SD UNet or CLIP text encoder, in every naming LoRA tools write
SD_LORA_PREFIXES = (
    "lora_unet_", "lora_te_", "lora_te1_", "lora_te2_",  # kohya-ss
    "unet.", "text_encoder.", "text_encoder_2.", "te1.", "te2.",  # diffusers / peft
    "base_model.model.",  # peft state dicts saved whole
    "down_blocks.", "mid_block.", "up_blocks.",  # diffusers UNet attn-procs LoRAs (no prefix)
)  # fmt: skip


def lora_layout_is_sd(keys: Iterable[str]) -> bool:
    """Whether a LoRA's tensor names are those of an SD-1/2/XL UNet or text encoder."""
    weights = [k for k in keys if "lora" in k.lower()]
    return bool(weights) and all(k.startswith(SD_LORA_PREFIXES) for k in weights)


def family_of_pipeline(cls: str) -> str:
    """A readable family name for a diffusers pipeline or model class."""
    for prefix, family in PIPELINE_FAMILIES:
        if cls.startswith(prefix):
            return family
    return cls or "unknown"

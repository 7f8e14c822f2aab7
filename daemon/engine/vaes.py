"""VAEs registered on their own: a single file as A1111/Civitai ship them (LDM key layout, e.g.
vae-ft-mse-840000-ema-pruned.safetensors) or a diffusers AutoencoderKL folder, chosen per job
(`vae`) or per checkpoint (its record's `vae`), and swapped into the pipeline for that job only."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidInput, ModelLoadError
from ..protocol.messages import JobParams
from .detect import base_arch
from .pipelines import config_folder
from .registry import ModelEntry, Registry

# VAEs of these families share one architecture; a VAE whose family is unknown ("sd") fits any
SHARED = {"sd15": ("sd15", "sd2", "sd"), "sd2": ("sd15", "sd2", "sd"), "sdxl": ("sdxl", "sd")}


def resolve(registry: Registry, params: JobParams, checkpoint: ModelEntry) -> ModelEntry | None:
    """The job's VAE: its `vae` field, else the checkpoint's default; None: the checkpoint's own."""
    field = "vae" if params.vae else "model"
    vae_id = params.vae or checkpoint.info.vae
    if vae_id is None:
        return None
    entry = registry.get(vae_id, field=field)
    if entry.kind != "vae":
        raise InvalidInput(field, vae_id, f"is a {entry.kind}, not a VAE")
    if entry.base not in SHARED.get(checkpoint.base, (checkpoint.base, "sd")):
        raise InvalidInput(
            field, vae_id, f"is a VAE for {entry.base}; model {checkpoint.id!r} is {checkpoint.base}"
        )
    return entry


def load_vae(entry: ModelEntry, checkpoint: ModelEntry, *, field: str) -> Any:
    """The VAE as an AutoencoderKL; a single file is read with the checkpoint's VAE config, so
    its latent scaling is the checkpoint family's (as A1111 applies a loose VAE)."""
    from diffusers import AutoencoderKL

    try:
        if entry.info.format == "diffusers":
            return AutoencoderKL.from_pretrained(entry.path, local_files_only=True)
        folder = checkpoint.path if checkpoint.info.format == "diffusers" else config_folder(checkpoint)
        return AutoencoderKL.from_single_file(
            str(entry.path),
            config=str(folder),
            subfolder="vae",
            local_files_only=True,
            use_safetensors=not entry.pickle,
        )
    except Exception as exc:  # noqa: BLE001 - a damaged file or one of other shapes
        raise ModelLoadError(
            f"{field}={entry.id!r}: VAE cannot be loaded for {base_arch(checkpoint.arch)} "
            f"({type(exc).__name__}: {str(exc)[:300]})",
            field=field,
        ) from exc

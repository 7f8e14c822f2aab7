"""LoRAs and textual-inversion embeddings: loaded into a resident pipeline once, then switched
per job with `set_adapters` (weight 0 or no LoRA gives back the base output exactly)."""

from __future__ import annotations

import contextlib
import re
from typing import Any

import torch

from ..errors import InvalidInput, ModelLoadError
from ..protocol.messages import JobParams
from .pipelines import quiet
from .registry import ModelEntry, Registry
from .residency import Resident


def adapter_name(model_id: str) -> str:
    return "lb_" + re.sub(r"[^A-Za-z0-9_]", "_", model_id)


def resolve(
    registry: Registry, params: JobParams, checkpoint: ModelEntry
) -> tuple[list[tuple[ModelEntry, float]], list[ModelEntry]]:
    """The job's LoRAs (with weights) and embeddings: those listed in `loras`, plus registered
    embeddings of the checkpoint's architecture whose id appears in a prompt."""
    loras: list[tuple[ModelEntry, float]] = []
    embeddings: list[ModelEntry] = []
    for i, spec in enumerate(params.loras):
        field = f"loras.{i}.id"
        entry = registry.get(spec.id, field=field)
        if entry.kind not in ("lora", "embedding"):
            raise InvalidInput(field, spec.id, f"is a {entry.kind}, not a LoRA or embedding")
        if entry.base != checkpoint.base:
            raise InvalidInput(
                field,
                spec.id,
                f"is a {entry.kind} for {entry.base}; model {checkpoint.id!r} is {checkpoint.base}",
            )
        if entry.kind == "lora":
            loras.append((entry, spec.weight))
        else:
            embeddings.append(entry)
    text = f" {params.prompt} {params.negative_prompt} "
    for entry in registry.entries():
        wanted = entry.kind == "embedding" and entry.base == checkpoint.base
        if (
            wanted
            and entry not in embeddings
            and re.search(rf"(?<![\w-]){re.escape(entry.id)}(?![\w-])", text)
        ):
            embeddings.append(entry)
    return loras, embeddings


def _load_lora(pipe: Any, entry: ModelEntry, name: str) -> None:
    try:
        with quiet():
            pipe.load_lora_weights(str(entry.path), adapter_name=name)
    except Exception as exc:  # noqa: BLE001 - a damaged or mismatched file
        # the parts loaded before the failure (the UNet's, say) would stay active in every later
        # job, and a retry would fail on the name instead of on the file
        with contextlib.suppress(Exception):  # nothing of it was loaded
            pipe.delete_adapters(name)
        raise ModelLoadError(
            f"lora={entry.id!r}: cannot be loaded into a {entry.arch} pipeline ({str(exc)[:300]})",
            field="loras",
        ) from exc


def _embedding_state(entry: ModelEntry) -> Any:
    if entry.pickle:
        return torch.load(entry.path, map_location="cpu", weights_only=True)
    from safetensors.torch import load_file

    path = entry.path
    if path.is_dir():
        path = path / "learned_embeds.safetensors"
    return load_file(str(path))


def _load_embedding(pipe: Any, entry: ModelEntry) -> None:
    try:
        state = _embedding_state(entry)
        with quiet():
            if "clip_l" in state and "clip_g" in state:  # SDXL: one vector set per text encoder
                pipe.load_textual_inversion(
                    state["clip_l"],
                    token=entry.id,
                    text_encoder=pipe.text_encoder,
                    tokenizer=pipe.tokenizer,
                )
                pipe.load_textual_inversion(
                    state["clip_g"],
                    token=entry.id,
                    text_encoder=pipe.text_encoder_2,
                    tokenizer=pipe.tokenizer_2,
                )
            else:
                pipe.load_textual_inversion(state, token=entry.id)
    except Exception as exc:  # noqa: BLE001
        raise ModelLoadError(
            f"embedding={entry.id!r}: cannot be loaded ({str(exc)[:300]})", field="loras"
        ) from exc


def apply(
    res: Resident,
    pipe: Any,
    loras: list[tuple[ModelEntry, float]],
    embeddings: list[ModelEntry],
) -> bool:
    """Make exactly the job's LoRAs active at their weights on the resident pipeline. Returns
    whether new weights were loaded (the resident's size changed)."""
    grew = False
    loaded: dict[str, str] = res.state.setdefault("loras", {})  # adapter name -> file path
    for entry, _ in loras:
        name = adapter_name(entry.id)
        if loaded.get(name) != str(entry.path):
            if name in loaded:
                pipe.delete_adapters(name)
            _load_lora(pipe, entry, name)
            loaded[name] = str(entry.path)
            grew = True
    if loras:
        pipe.enable_lora()
        pipe.set_adapters(
            [adapter_name(e.id) for e, _ in loras], adapter_weights=[w for _, w in loras]
        )
    elif loaded:
        pipe.disable_lora()
    tokens: set[str] = res.state.setdefault("embeddings", set())
    for entry in embeddings:
        if entry.id not in tokens:
            _load_embedding(pipe, entry)
            tokens.add(entry.id)
            grew = True
    return grew

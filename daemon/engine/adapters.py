"""LoRAs and textual-inversion embeddings: loaded into a resident pipeline once, then switched
per job with `set_adapters` (weight 0 or no LoRA gives back the base output exactly).

Embeddings are added to the tokenizer under private tokens (`triggers.private_token`) that no
prompt text contains; a job's prompt has its embeddings' trigger words rewritten to them, on
word boundaries. So a loaded embedding cannot change a prompt that does not name it.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import diffusers
import torch
import transformers

from ..errors import InvalidInput, ModelLoadError
from ..protocol.messages import JobParams
from . import triggers
from .detect import read_header
from .pipelines import quiet
from .registry import ModelEntry, Registry
from .residency import Resident

log = logging.getLogger(__name__)

PARTS = ("unet", "text_encoder", "text_encoder_2")
# what a LoRA file's keys start with, per part it targets (kohya-ss, diffusers/peft layouts)
PART_PREFIXES = {
    "unet": ("lora_unet_", "unet.", "lycoris_unet_"),
    "text_encoder": ("lora_te_", "lora_te1_", "text_encoder.", "te1.", "te."),
    "text_encoder_2": ("lora_te2_", "text_encoder_2.", "te2."),
}
# a load failure that means "this LoRA was made for other shapes/modules", not a damaged file
MISFIT = re.compile(r"mismatch|shape|not found in the base model|target modules", re.I)
# transformers points at the LOAD REPORT it logged (silenced here) instead of saying what differs
REPORT_POINTER = "look at the above report"


@dataclass(frozen=True)
class Lora:
    entry: ModelEntry
    weight: float
    field: str  # loras.N.id


@dataclass(frozen=True)
class Embedding:
    entry: ModelEntry
    field: str  # loras.N.id when listed, prompt when called by a trigger word
    triggers: tuple[str, ...]  # whole words of the prompt that call it
    token: str  # the private token it is loaded under


def adapter_name(model_id: str) -> str:
    return "lb_" + re.sub(r"[^A-Za-z0-9_]", "_", model_id)


def embedding_triggers(entry: ModelEntry) -> tuple[str, ...]:
    """Its id, its trigger words and the token stored in its file."""
    words = [entry.id, *entry.info.trigger_words]
    if not entry.pickle:  # a pickle's token was read into trigger_words at `models add`
        with contextlib.suppress(InvalidInput):
            words += triggers.file_tokens(entry.path)
    return tuple(dict.fromkeys(w.strip() for w in words if w.strip()))


def _embedding(entry: ModelEntry, field: str) -> Embedding:
    token = triggers.private_token(entry.id, entry.path)
    return Embedding(entry, field, embedding_triggers(entry), token)


def resolve(
    registry: Registry, params: JobParams, checkpoint: ModelEntry
) -> tuple[list[Lora], list[Embedding]]:
    """The job's LoRAs (with weights) and embeddings: those listed in `loras`, plus registered
    embeddings of the checkpoint's architecture whose trigger words appear in a prompt."""
    loras: list[Lora] = []
    embeddings: list[Embedding] = []
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
            loras.append(Lora(entry, spec.weight, field))
        else:
            embeddings.append(_embedding(entry, field))
    text = f"{params.prompt}\n{params.negative_prompt}"
    listed = {e.entry.id for e in embeddings}
    for entry in registry.entries():
        if entry.kind != "embedding" or entry.base != checkpoint.base or entry.id in listed:
            continue
        found = _embedding(entry, "prompt")
        if triggers.mentions(text, found.triggers):
            embeddings.append(found)
    return loras, embeddings


def prompts(params: JobParams, embeddings: list[Embedding]) -> tuple[str, str]:
    """The prompt and negative prompt with each embedding's trigger words (whole words only)
    replaced by its private token."""
    tokens = {word: e.token for e in embeddings for word in e.triggers}
    return triggers.rewrite(params.prompt, tokens), triggers.rewrite(params.negative_prompt, tokens)


@contextlib.contextmanager
def _silenced() -> Iterator[None]:
    """transformers prints a multi-line LOAD REPORT for every text-encoder LoRA (its base
    weights are "newly initialized" from its point of view); we log one line of our own."""
    before_t = transformers.utils.logging.get_verbosity()
    before_d = diffusers.utils.logging.get_verbosity()
    transformers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.set_verbosity_error()
    try:
        with quiet():
            yield
    finally:
        transformers.utils.logging.set_verbosity(before_t)
        diffusers.utils.logging.set_verbosity(before_d)


def _file_parts(entry: ModelEntry) -> dict[str, int]:
    """Keys of the LoRA file per part it targets (the rest under `other`)."""
    file = entry.path
    if file.is_dir():
        file = file / "pytorch_lora_weights.safetensors"
    if file.suffix.lower() != ".safetensors" or not file.is_file():
        return {}
    counts: dict[str, int] = {}
    for key in read_header(file)[0]:
        part = next((p for p, pre in PART_PREFIXES.items() if key.startswith(pre)), "other")
        counts[part] = counts.get(part, 0) + 1
    return counts


def _layers(pipe: Any, name: str) -> dict[str, int]:
    """Layers of each pipeline part that carry adapter `name` (what actually loaded)."""
    out: dict[str, int] = {}
    for part in PARTS:
        module = getattr(pipe, part, None)
        if module is None:
            continue
        n = sum(
            1
            for m in module.modules()
            if isinstance(getattr(m, "lora_A", None), torch.nn.ModuleDict) and name in m.lora_A
        )
        if n:
            out[part] = n
    return out


def _drop(pipe: Any, name: str) -> None:
    # the parts loaded before a failure (the UNet's, say) would stay active in every later job,
    # and a retry would fail on the name instead of on the file
    with contextlib.suppress(Exception):  # nothing of it was loaded
        pipe.delete_adapters(name)


def _load_lora(pipe: Any, lora: Lora, name: str, checkpoint: ModelEntry) -> None:
    entry = lora.entry
    try:
        with _silenced():
            pipe.load_lora_weights(str(entry.path), adapter_name=name)
    except Exception as exc:  # noqa: BLE001 - a damaged or mismatched file
        _drop(pipe, name)
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        if REPORT_POINTER in str(exc):
            detail = "text-encoder layers of other sizes"
        if MISFIT.search(str(exc)):
            raise InvalidInput(
                lora.field,
                entry.id,
                f"does not fit model {checkpoint.id!r} ({checkpoint.arch}): its layers have "
                f"other shapes or names ({detail})",
            ) from exc
        raise ModelLoadError(
            f"{lora.field}={entry.id!r}: cannot be loaded into a {checkpoint.arch} pipeline "
            f"({detail})",
            field=lora.field,
        ) from exc
    layers = _layers(pipe, name)
    keys = _file_parts(entry)
    if not layers:
        _drop(pipe, name)
        raise InvalidInput(
            lora.field,
            entry.id,
            f"none of its {sum(keys.values()) or 'its'} keys fit model {checkpoint.id!r} "
            f"({checkpoint.arch}): is it a LoRA for another model family?",
        )
    parts = ", ".join(
        f"{part} {layers.get(part, 0)} layers ({keys.get(part, 0)} keys)"
        for part in PARTS
        if part in layers or keys.get(part)
    )
    unused = f"; {keys['other']} keys for no known part" if keys.get("other") else ""
    log.info("LoRA %r loaded from %s: %s%s", entry.id, entry.path.name, parts, unused)


def _embedding_state(entry: ModelEntry) -> Any:
    file = triggers.embedding_file(entry.path)
    if entry.pickle:
        return torch.load(file, map_location="cpu", weights_only=True)
    from safetensors.torch import load_file

    return load_file(str(file))


def _vectors(entry: ModelEntry, state: Any) -> dict[str, torch.Tensor]:
    """Text-encoder attribute -> the embedding's vectors, from any of the layouts: diffusers
    (`{token: t}`), A1111 (`string_to_param`, `emb_params`), SDXL (`clip_l` + `clip_g`)."""
    if isinstance(state, torch.Tensor):
        return {"text_encoder": state}
    if not isinstance(state, dict):
        raise ValueError(f"holds a {type(state).__name__}, not embedding vectors")
    if "clip_l" in state and "clip_g" in state:  # SDXL: one set per text encoder
        return {"text_encoder": state["clip_l"], "text_encoder_2": state["clip_g"]}
    if isinstance(state.get("string_to_param"), dict) and state["string_to_param"]:
        return {"text_encoder": next(iter(state["string_to_param"].values()))}
    if "emb_params" in state:
        return {"text_encoder": state["emb_params"]}
    tensors = [v for v in state.values() if isinstance(v, torch.Tensor)]
    if len(tensors) == 1:
        return {"text_encoder": tensors[0]}
    raise ValueError(f"no embedding layout matches its keys {sorted(map(str, state))[:6]}")


def _load_embedding(pipe: Any, emb: Embedding, checkpoint: ModelEntry) -> None:
    entry = emb.entry
    try:
        vectors = _vectors(entry, _embedding_state(entry))
        with _silenced():
            for encoder, tensor in vectors.items():
                tokenizer = "tokenizer" if encoder == "text_encoder" else "tokenizer_2"
                pipe.load_textual_inversion(
                    tensor.float(),
                    token=emb.token,
                    text_encoder=getattr(pipe, encoder),
                    tokenizer=getattr(pipe, tokenizer),
                )
    except Exception as exc:  # noqa: BLE001
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        if "shape" in detail:
            raise InvalidInput(
                emb.field,
                entry.id,
                f"embedding does not fit model {checkpoint.id!r} ({checkpoint.arch}): {detail}",
            ) from exc
        raise ModelLoadError(
            f"{emb.field}={entry.id!r}: embedding cannot be loaded ({detail})", field=emb.field
        ) from exc
    shapes = ", ".join(f"{k} {tuple(v.shape)}" for k, v in vectors.items())
    log.info("embedding %r loaded from %s: %s", entry.id, entry.path.name, shapes)


def apply(
    res: Resident,
    pipe: Any,
    checkpoint: ModelEntry,
    loras: list[Lora],
    embeddings: list[Embedding],
) -> bool:
    """Make exactly the job's LoRAs active at their weights on the resident pipeline, and its
    embeddings known to the tokenizer. Returns whether new weights were loaded (the resident's
    size changed)."""
    grew = False
    loaded: dict[str, str] = res.state.setdefault("loras", {})  # adapter name -> file path
    for lora in loras:
        name = adapter_name(lora.entry.id)
        if loaded.get(name) != str(lora.entry.path):
            if name in loaded:
                pipe.delete_adapters(name)
                del loaded[name]
            _load_lora(pipe, lora, name, checkpoint)
            loaded[name] = str(lora.entry.path)
            grew = True
    if loras:
        pipe.enable_lora()
        pipe.set_adapters(
            [adapter_name(lo.entry.id) for lo in loras],
            adapter_weights=[lo.weight for lo in loras],
        )
    elif loaded:
        pipe.disable_lora()
    tokens: set[str] = res.state.setdefault("embeddings", set())
    for emb in embeddings:
        if emb.token not in tokens:
            _load_embedding(pipe, emb, checkpoint)
            tokens.add(emb.token)
            grew = True
    return grew

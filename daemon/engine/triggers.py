"""Which words of a prompt call an embedding: its id, its trigger words and the token stored in
its file, matched as whole words only; and the prompt rewritten to the private token the
tokenizer knows the embedding by. Torch-free (the registry reads a file's token at `models add`);
a pickle's token is read with torch imported lazily and `weights_only=True`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .detect import PICKLE_SUFFIXES, read_header

# keys that hold vectors in the A1111 and SDXL layouts, not a token someone trained
LAYOUT_KEYS = frozenset({"emb_params", "string_to_param", "clip_l", "clip_g"})
DIFFUSERS_FILE = "learned_embeds.safetensors"
# A word character or a hyphen next to a trigger means it is part of a longer word: "ink" must
# not fire inside "pink", "drink", "Inkwell" or "ink-stained".
_BEFORE = r"(?<![\w-])"
_AFTER = r"(?![\w-])"


def embedding_file(path: Path) -> Path:
    """The vectors' file of an embedding (a diffusers training folder holds learned_embeds)."""
    return path / DIFFUSERS_FILE if path.is_dir() else path


def tokens_in_state(state: Mapping[str, Any]) -> list[str]:
    """The tokens an embedding's state dict names: a diffusers file's single key, an A1111
    file's `name`. The A1111 safetensors layout (`emb_params`) names none."""
    if "string_to_param" in state:
        name = state.get("name")
        return [name] if isinstance(name, str) and name.strip() else []
    keys = [k for k in state if k not in LAYOUT_KEYS]
    return keys if len(keys) == 1 and len(state) == 1 else []


def file_tokens(path: Path) -> list[str]:
    """The tokens stored in an embedding file (see `tokens_in_state`); [] when it names none."""
    file = embedding_file(path)
    if file.suffix.lower() in PICKLE_SUFFIXES:
        import torch

        try:
            state = torch.load(file, map_location="cpu", weights_only=True)
        except Exception:  # noqa: BLE001 - detect() already refused what cannot be read
            return []
        return tokens_in_state(state) if isinstance(state, dict) else []
    tensors, _ = read_header(file)
    return tokens_in_state(dict.fromkeys(tensors))


def private_token(model_id: str, path: Path) -> str:
    """The token an embedding is added to the tokenizer under: lower case (CLIP lower-cases the
    prompt) and not a word any prompt contains, so it can never match inside other text."""
    digest = hashlib.sha256(f"{model_id}\0{path}".encode()).hexdigest()[:12]
    return f"<lb-emb-{digest}>"


def mentions(text: str, words: Iterable[str]) -> bool:
    """Whether `text` holds one of `words` as a whole word."""
    pattern = _pattern(words)
    return pattern is not None and pattern.search(text) is not None


def rewrite(text: str, tokens: Mapping[str, str]) -> str:
    """`text` with each whole-word trigger (key) replaced by its private token (value); the
    longest trigger wins where several start at the same place."""
    pattern = _pattern(tokens)
    if pattern is None:
        return text
    return pattern.sub(lambda m: tokens[m.group(0)], text)


def _pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted({w for w in words if w}, key=len, reverse=True)
    if not ordered:
        return None
    return re.compile(_BEFORE + "(?:" + "|".join(map(re.escape, ordered)) + ")" + _AFTER)

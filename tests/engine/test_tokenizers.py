"""The CLIP tokenizers the daemon builds from the vocabulary it carries give the ids of the
tokenizers that diffusers-format models of each family ship (their configs copied here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from layerbridge.daemon.engine.tokenizers import (
    clip_tokenizer,
    families,
    vocab_and_merges,
    write_tokenizer_files,
)
from transformers import CLIPTokenizer


def _added(content: str) -> dict[str, object]:
    return {"__type": "AddedToken", "content": content, "lstrip": False, "normalized": True,
            "rstrip": False, "single_word": False}  # fmt: skip


# tokenizer_config.json / special_tokens_map.json of the diffusers repos, as published
CLIP_L_CONFIG = {  # runwayml/stable-diffusion-v1-5 tokenizer, SDXL base `tokenizer`
    "add_prefix_space": False, "bos_token": _added("<|startoftext|>"), "do_lower_case": True,
    "eos_token": _added("<|endoftext|>"), "errors": "replace", "model_max_length": 77,
    "name_or_path": "openai/clip-vit-large-patch14", "pad_token": "<|endoftext|>",
    "special_tokens_map_file": "./special_tokens_map.json", "tokenizer_class": "CLIPTokenizer",
    "unk_token": _added("<|endoftext|>"),
}  # fmt: skip
OPENCLIP_CONFIG = {**CLIP_L_CONFIG, "pad_token": "!"}  # SD-2.1 `tokenizer`, SDXL `tokenizer_2`
SPECIALS = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>",
            "unk_token": "<|endoftext|>"}  # fmt: skip

PROMPTS = [
    "a photo of a cat",
    "A Lighthouse at DUSK, oil painting; 4k!!",
    "café au lait — naïve résumé 🐱 #brand-ink",
    "  spaces\tand\nnewlines  ",
    "word " * 100,  # longer than 77 tokens: truncated, ends with <|endoftext|>
    "",
]


def test_the_vocabulary_is_clips_49408_tokens() -> None:
    vocab, merges = vocab_and_merges()
    assert len(vocab) == 49408 and len(merges) == 48894
    assert (vocab["!"], vocab["<|startoftext|>"], vocab["<|endoftext|>"]) == (0, 49406, 49407)


def test_published_prompts_get_their_published_ids() -> None:
    # the ids in transformers' CLIP documentation
    tok = clip_tokenizer("clip-l")
    assert tok("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert tok("a photo of a dog").input_ids == [49406, 320, 1125, 539, 320, 1929, 49407]


@pytest.mark.parametrize(
    ("family", "config", "pad_id"),
    [("clip-l", CLIP_L_CONFIG, 49407), ("openclip", OPENCLIP_CONFIG, 0)],
)
def test_each_family_matches_the_tokenizer_its_diffusers_repos_ship(
    tmp_path: Path, family: str, config: dict[str, object], pad_id: int
) -> None:
    repo = tmp_path / "tokenizer"
    write_tokenizer_files(repo, family)  # vocab.json + merges.txt, as those repos carry them
    (repo / "tokenizer_config.json").write_text(json.dumps(config))
    specials = {**SPECIALS, "pad_token": config["pad_token"]}
    (repo / "special_tokens_map.json").write_text(json.dumps(specials))
    shipped = CLIPTokenizer.from_pretrained(repo)
    ours = clip_tokenizer(family)
    assert (ours.pad_token_id, ours.model_max_length) == (shipped.pad_token_id, 77) == (pad_id, 77)
    for prompt in PROMPTS:
        # exactly how the SD pipelines call their tokenizers
        kw = dict(padding="max_length", max_length=77, truncation=True)
        assert ours(prompt, **kw).input_ids == shipped(prompt, **kw).input_ids, prompt
    long = ours(PROMPTS[4], padding="max_length", max_length=77, truncation=True).input_ids
    assert len(long) == 77 and long[-1] == 49407


def test_sd2_pads_with_bang_and_sd15_with_end_of_text() -> None:
    kw = dict(padding="max_length", max_length=77)
    assert clip_tokenizer("clip-l")("a cat", **kw).input_ids[4:] == [49407] * 73
    assert clip_tokenizer("openclip")("a cat", **kw).input_ids[4:] == [0] * 73


def test_each_architecture_gets_its_tokenizers() -> None:
    assert families("sd15-inpaint") == {"tokenizer": "clip-l"}
    assert families("sd2") == {"tokenizer": "openclip"}
    assert families("sdxl") == {"tokenizer": "clip-l", "tokenizer_2": "openclip"}

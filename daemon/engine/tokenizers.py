"""The CLIP tokenizers of the families the daemon runs, built offline from the BPE vocabulary
it carries (`tokenizer_data/bpe_simple_vocab_16e6.txt.gz`, from OpenCLIP; MIT, see the LICENSE
beside it). A single-file checkpoint carries no tokenizer, and no hub may be reachable.

All the families share one vocabulary (49,408 tokens: 256 byte symbols, the same with `</w>`,
48,894 merges, `<|startoftext|>`, `<|endoftext|>`) and a 77-token context; they differ in the
padding token:

- `clip-l` (OpenAI CLIP ViT-L/14: SD-1.x `tokenizer`, SDXL `tokenizer`): pads with
  `<|endoftext|>` (id 49407), as runwayml/stable-diffusion-v1-5's tokenizer_config.json says;
- `openclip` (OpenCLIP ViT-H/14 and ViT-bigG/14: SD-2.x `tokenizer`, SDXL `tokenizer_2`): pads
  with `!` (id 0), as stable-diffusion-2-1's and stable-diffusion-xl-base-1.0's `tokenizer_2`
  configs say, which is what OpenCLIP's own tokenizer pads with.

transformers is imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from typing import Any, cast

from .detect import base_arch

DATA = Path(__file__).with_name("tokenizer_data")
BPE_FILE = DATA / "bpe_simple_vocab_16e6.txt.gz"
MAX_LENGTH = 77
N_MERGES = 49152 - 256 - 2  # what CLIP's own simple_tokenizer reads of the file
START, END = "<|startoftext|>", "<|endoftext|>"

# family -> pad token (everything else is the same)
PAD = {"clip-l": END, "openclip": "!"}


def families(arch: str) -> dict[str, str]:
    """Pipeline component name -> tokenizer family, for a checkpoint architecture."""
    base = base_arch(arch)
    if base == "sdxl":
        return {"tokenizer": "clip-l", "tokenizer_2": "openclip"}
    if base == "sd2":
        return {"tokenizer": "openclip"}
    return {"tokenizer": "clip-l"}


def _bytes_to_unicode() -> dict[int, str]:
    # GPT-2/CLIP's reversible map of bytes to printable characters (the base symbols)
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    printable += range(ord("®"), ord("ÿ") + 1)
    chars = printable[:]
    n = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + n)
            n += 1
    return dict(zip(printable, (chr(c) for c in chars), strict=True))


@functools.cache
def vocab_and_merges() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """CLIP's vocabulary and merges, built the way CLIP's simple_tokenizer builds them."""
    lines = gzip.decompress(BPE_FILE.read_bytes()).decode("utf-8").split("\n")
    merges = [(a, b) for a, b in (line.split() for line in lines[1 : N_MERGES + 1])]
    symbols = list(_bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    tokens += [START, END]
    return {t: i for i, t in enumerate(tokens)}, merges


def clip_tokenizer(family: str) -> Any:
    """A transformers CLIPTokenizer of `family` (`clip-l` or `openclip`)."""
    from transformers import CLIPTokenizer

    vocab, merges = vocab_and_merges()
    return CLIPTokenizer(
        vocab=dict(vocab),
        merges=cast(Any, list(merges)),  # transformers 5 takes (a, b) pairs
        unk_token=END,
        bos_token=START,
        eos_token=END,
        pad_token=PAD[family],
        model_max_length=MAX_LENGTH,
        do_lower_case=True,
    )


def write_tokenizer_files(folder: Path, family: str) -> None:
    """vocab.json, merges.txt and the configs of `family`, laid out as a diffusers repo's
    `tokenizer/` folder is (for tools that read files)."""
    vocab, merges = vocab_and_merges()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8"
    )
    specials = {"bos_token": START, "eos_token": END, "unk_token": END, "pad_token": PAD[family]}
    (folder / "special_tokens_map.json").write_text(json.dumps(specials, indent=1))
    config = {
        "tokenizer_class": "CLIPTokenizer",
        "model_max_length": MAX_LENGTH,
        "do_lower_case": True,
        "add_prefix_space": False,
        "errors": "replace",
        **specials,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=1))

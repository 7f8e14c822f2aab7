"""Embeddings are called by their id and by the token stored in their file, only as whole words,
and leave every prompt that does not name them exactly as a fresh daemon renders it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from layerbridge.daemon.config import EngineSettings, Paths
from layerbridge.daemon.engine.engine import DiffusersEngine
from layerbridge.daemon.engine.registry import Registry
from layerbridge.daemon.errors import InvalidInput
from layerbridge.daemon.protocol.messages import LoraSpec

from . import layouts
from .helpers import params, run

HIDDEN = 32  # the demo text encoder's width


def daemon(demo_paths: Paths, tmp_path: Path, name: str = "data") -> tuple[Registry, DiffusersEngine]:
    paths = Paths(tmp_path / name).ensure()
    reg = Registry(paths)
    reg.add(demo_paths.models / "demo", model_id="demo")
    return reg, DiffusersEngine(paths, EngineSettings(threads=1))


def image(eng: DiffusersEngine, prompt: str, **kw: object) -> bytes:
    return bytes(run(eng, params(prompt=prompt, **kw))[0].image.tobytes())


def test_a_diffusers_embedding_is_called_by_its_trained_token_and_by_its_id(
    demo_paths: Paths, tmp_path: Path
) -> None:
    folder = tmp_path / "cat-toy"
    layouts.diffusers_embedding(folder, "<cat-toy>", HIDDEN)
    reg, eng = daemon(demo_paths, tmp_path)
    info = reg.add(folder / "learned_embeds.safetensors", model_id="cattoy")
    assert info.kind == "embedding" and "<cat-toy>" in info.trigger_words
    plain = image(eng, "a photo of a cat")
    by_token = image(eng, "a photo of a <cat-toy>")
    by_id = image(eng, "a photo of a cattoy")
    assert by_token != image(eng, "a photo of a")
    assert by_token == by_id
    assert plain == image(eng, "a photo of a cat")


def test_a_training_folder_embedding_loads_and_takes_its_id_from_the_token(
    demo_paths: Paths, tmp_path: Path
) -> None:
    folder = tmp_path / "output"
    layouts.diffusers_embedding(folder, "<cat-toy>", HIDDEN)
    reg, eng = daemon(demo_paths, tmp_path)
    info = reg.add(folder / "learned_embeds.safetensors")
    assert info.id == "cat-toy"
    assert image(eng, "a <cat-toy> on the sea") != image(eng, "a on the sea")


def test_an_a1111_pt_embedding_is_called_by_its_stored_name(
    demo_paths: Paths, tmp_path: Path
) -> None:
    pt = tmp_path / "file-name.pt"
    layouts.a1111_pt_embedding(pt, "inkwash", HIDDEN, vectors=3)
    reg, eng = daemon(demo_paths, tmp_path)
    reg.add(pt, allow_pickle=True)
    assert image(eng, "a house, inkwash") == image(eng, "a house, file-name")
    assert image(eng, "a house, inkwash") != image(eng, "a house,")


def test_an_embedding_never_fires_inside_another_word_and_leaves_no_trace(
    demo_paths: Paths, tmp_path: Path
) -> None:
    ink = tmp_path / "ink.safetensors"
    layouts.a1111_safetensors_embedding(ink, HIDDEN, vectors=2)
    _, fresh = daemon(demo_paths, tmp_path, "fresh")
    words = ["a pink house by the sea", "drink", "Inkwell", "ink-stained", "a cat"]
    expected = [image(fresh, w) for w in words]
    reg, eng = daemon(demo_paths, tmp_path, "used")
    reg.add(ink)
    assert image(eng, "an ink drawing") != image(eng, "an drawing")
    assert image(eng, "a cat", loras=[LoraSpec(id="ink")]) == expected[-1]
    assert [image(eng, w) for w in words] == expected


def test_sdxl_embeddings_are_called_by_id_and_leave_other_prompts_alone(
    demo_paths: Paths, tmp_path: Path
) -> None:
    path = tmp_path / "xlink.safetensors"
    layouts.sdxl_embedding(path, HIDDEN, HIDDEN, vectors=2)
    paths = Paths(tmp_path / "data").ensure()
    reg = Registry(paths)
    reg.add(demo_paths.models / "demo-xl", model_id="demo-xl")
    reg.add(path)
    eng = DiffusersEngine(paths, EngineSettings(threads=1))
    before = image(eng, "a pxlink house", model="demo-xl")
    assert image(eng, "a xlink house", model="demo-xl") != image(eng, "a house", model="demo-xl")
    assert image(eng, "a pxlink house", model="demo-xl") == before


def test_an_embedding_of_another_width_fails_its_job_by_its_field(
    demo_paths: Paths, tmp_path: Path
) -> None:
    wide = tmp_path / "wide.safetensors"
    layouts.a1111_safetensors_embedding(wide, HIDDEN, vectors=1)
    reg, eng = daemon(demo_paths, tmp_path)
    reg.add(wide)
    from safetensors.torch import save_file

    save_file({"emb_params": torch.zeros(1, 48)}, str(wide))  # the file changed after `add`
    with pytest.raises(InvalidInput) as err:
        run(eng, params(prompt="a cat", loras=[LoraSpec(id="wide")]))
    assert err.value.field == "loras.0.id" and "wide" in err.value.message
    with pytest.raises(InvalidInput) as err:
        run(eng, params(prompt="a wide cat"))
    assert err.value.field == "prompt"

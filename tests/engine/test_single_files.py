"""Single-file checkpoints run with nothing else installed: no diffusers-format model of their
family registered, no hub; the daemon builds their tokenizers from the vocabulary it carries.
Each gives the same bytes as its diffusers twin carrying the tokenizers its repo would ship."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from layerbridge.daemon.config import EngineSettings, Paths
from layerbridge.daemon.engine.engine import DiffusersEngine
from layerbridge.daemon.engine.registry import Registry

from . import tiny_real
from .helpers import params, run
from .ldm import write_sdxl_single_file, write_single_file
from .test_tokenizers import CLIP_L_CONFIG, OPENCLIP_CONFIG, SPECIALS


def _twin(pipe: Any, folder: Path, tokenizers: dict[str, dict[str, object]]) -> Path:
    """The diffusers folder of `pipe`, with tokenizer folders configured like the real repo's."""
    from layerbridge.daemon.engine.tokenizers import write_tokenizer_files

    pipe.save_pretrained(folder, safe_serialization=True)
    for name, config in tokenizers.items():
        family = "openclip" if config["pad_token"] == "!" else "clip-l"
        for old in (folder / name).iterdir():
            old.unlink()
        write_tokenizer_files(folder / name, family)
        (folder / name / "tokenizer_config.json").write_text(json.dumps(config))
        specials = {**SPECIALS, "pad_token": config["pad_token"]}
        (folder / name / "special_tokens_map.json").write_text(json.dumps(specials))
    return folder


def _generate(data: Path, model: Path, **add: Any) -> tuple[Registry, bytes]:
    paths = Paths(data).ensure()
    reg = Registry(paths)
    reg.add(model, model_id="m", **add)
    eng = DiffusersEngine(paths, EngineSettings(threads=1))
    try:
        image = run(eng, params(model="m", prompt="a lighthouse at dusk", steps=2))[0].image
    finally:
        eng.unload_all()
    return reg, image.tobytes()


@pytest.mark.parametrize("xl", [False, True], ids=["sd15", "sdxl"])
def test_a_single_file_generates_with_no_other_model_registered(tmp_path: Path, xl: bool) -> None:
    pipe = tiny_real.sdxl() if xl else tiny_real.sd()
    file = tmp_path / "civitai-model.safetensors"
    (write_sdxl_single_file if xl else write_single_file)(pipe, file)
    config = tiny_real.config_folder(pipe, tmp_path / "config")
    assert not (config / "tokenizer").exists()
    reg, single = _generate(tmp_path / "data", file, config=config)
    assert [(e.id, e.info.format) for e in reg.entries()] == [("m", "single_file")]
    assert reg.get("m").arch == ("sdxl" if xl else "sd15")
    tokenizers = {"tokenizer": CLIP_L_CONFIG}
    if xl:
        tokenizers["tokenizer_2"] = OPENCLIP_CONFIG
    twin = _twin(pipe, tmp_path / "twin", tokenizers)
    _, diffusers_format = _generate(tmp_path / "twin-data", twin)
    assert single == diffusers_format

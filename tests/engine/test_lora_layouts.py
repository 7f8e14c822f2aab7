"""LoRAs laid out as kohya-ss sd-scripts and the diffusers scripts write them load, take effect,
log one line each, and fail a job by its field when they do not fit the checkpoint."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from layerbridge.daemon.config import EngineSettings, Paths
from layerbridge.daemon.engine.engine import DiffusersEngine
from layerbridge.daemon.engine.registry import Registry
from layerbridge.daemon.errors import InvalidInput
from layerbridge.daemon.protocol.messages import LoraSpec
from safetensors.torch import save_file

from . import layouts
from .helpers import params, run


@pytest.fixture(scope="module")
def pipes(demo_paths: Paths) -> dict[str, Any]:
    from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

    return {
        "sd15": StableDiffusionPipeline.from_pretrained(demo_paths.models / "demo"),
        "sdxl": StableDiffusionXLPipeline.from_pretrained(demo_paths.models / "demo-xl"),
    }


def daemon(demo_paths: Paths, tmp_path: Path) -> tuple[Registry, DiffusersEngine]:
    paths = Paths(tmp_path / "data").ensure()
    reg = Registry(paths)
    reg.add(demo_paths.models / "demo", model_id="demo")
    reg.add(demo_paths.models / "demo-xl", model_id="demo-xl")
    return reg, DiffusersEngine(paths, EngineSettings(threads=1))


def image(eng: DiffusersEngine, **kw: Any) -> np.ndarray:
    return np.asarray(run(eng, params(**kw))[0].image, dtype=np.int16)


def loaded_line(caplog: pytest.LogCaptureFixture, model_id: str) -> str:
    lines = [r.getMessage() for r in caplog.records if f"LoRA {model_id!r} loaded" in r.getMessage()]
    assert len(lines) == 1, lines
    return lines[0]


def test_a_kohya_lora_with_text_encoder_keys_and_alphas_loads_quietly_in_one_line(
    demo_paths: Paths,
    tmp_path: Path,
    pipes: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    file = tmp_path / "style_v1.safetensors"
    keys = layouts.kohya_lora(file, pipes["sd15"], seed=1)
    te_pairs = sum(1 for k in keys if k.startswith("lora_te_") and k.endswith("lora_down.weight"))
    reg, eng = daemon(demo_paths, tmp_path)
    info = reg.add(file)
    assert (info.kind, info.arch) == ("lora", "sd15")
    base = image(eng)
    with caplog.at_level(logging.INFO, logger="layerbridge"):
        styled = image(eng, loras=[LoraSpec(id="style_v1")])
    assert np.abs(styled - base).mean() > 0.5
    assert (image(eng, loras=[LoraSpec(id="style_v1", weight=0.0)]) == base).all()
    out = capfd.readouterr()
    assert "LOAD REPORT" not in out.out + out.err
    assert not [r for r in caplog.records if "LOAD REPORT" in r.getMessage()]
    line = loaded_line(caplog, "style_v1")
    assert f"text_encoder {te_pairs} layers ({te_pairs * 3} keys)" in line
    assert "unet" in line and "\n" not in line


def test_a_locon_also_changes_the_convolutions(
    demo_paths: Paths, tmp_path: Path, pipes: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    plain, locon = tmp_path / "plain.safetensors", tmp_path / "locon.safetensors"
    layouts.kohya_lora(plain, pipes["sd15"], seed=2, text_encoder=False)
    keys = layouts.kohya_lora(locon, pipes["sd15"], seed=2, text_encoder=False, locon=True)
    assert any(v.ndim == 4 and v.shape[-1] == 3 for v in keys.values())  # 3x3 conv downs
    reg, eng = daemon(demo_paths, tmp_path)
    reg.add(plain)
    reg.add(locon)
    with caplog.at_level(logging.INFO, logger="layerbridge"):
        a = image(eng, loras=[LoraSpec(id="plain")])
        b = image(eng, loras=[LoraSpec(id="locon")])
    pairs = sum(1 for k in keys if k.endswith("lora_down.weight"))
    assert f"unet {pairs} layers" in loaded_line(caplog, "locon")
    assert (a != b).any()


def test_a_peft_format_lora_loads_both_parts(
    demo_paths: Paths, tmp_path: Path, pipes: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    file = tmp_path / "pytorch_lora_weights.safetensors"
    layouts.peft_lora(file, pipes["sd15"], seed=3)
    reg, eng = daemon(demo_paths, tmp_path)
    # a tiny width names no family by itself (a real SD-1.5 one is 768 wide: detected)
    reg.register("peft", file, kind="lora", arch="sd15", format="single_file")
    base = image(eng)
    with caplog.at_level(logging.INFO, logger="layerbridge"):
        assert (image(eng, loras=[LoraSpec(id="peft")]) != base).any()
    line = loaded_line(caplog, "peft")
    assert "unet" in line and "text_encoder" in line


def test_a_kohya_sdxl_lora_with_te1_and_te2_loads_into_both_text_encoders(
    demo_paths: Paths, tmp_path: Path, pipes: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    file = tmp_path / "xl_style.safetensors"
    layouts.kohya_sdxl_lora(file, pipes["sdxl"], seed=4)
    reg, eng = daemon(demo_paths, tmp_path)
    assert reg.add(file).arch == "sdxl"
    base = image(eng, model="demo-xl")
    with caplog.at_level(logging.INFO, logger="layerbridge"):
        styled = image(eng, model="demo-xl", loras=[LoraSpec(id="xl_style")])
    assert (styled != base).any()
    line = loaded_line(caplog, "xl_style")
    assert "unet" in line and "text_encoder " in line and "text_encoder_2 " in line
    assert (image(eng, model="demo-xl", loras=[LoraSpec(id="xl_style", weight=0.0)]) == base).all()


def test_a_lora_with_other_shapes_fails_its_job_by_its_field(
    demo_paths: Paths, tmp_path: Path, pipes: dict[str, Any]
) -> None:
    file = tmp_path / "wider.safetensors"
    layouts.kohya_lora(file, pipes["sdxl"], seed=5, text_encoder=False)  # 64-wide cross-attention
    reg, eng = daemon(demo_paths, tmp_path)
    reg.register("wider", file, kind="lora", arch="sd15", format="single_file")
    base = image(eng)
    for _ in range(2):
        with pytest.raises(InvalidInput) as err:
            image(eng, loras=[LoraSpec(id="wider")])
        assert err.value.field == "loras.0.id" and "does not fit model 'demo'" in err.value.message
    assert (image(eng) == base).all()


def test_a_lora_whose_keys_match_nothing_fails_its_job_by_its_field(
    demo_paths: Paths, tmp_path: Path, pipes: dict[str, Any]
) -> None:
    import torch

    file = tmp_path / "sd3.safetensors"  # an SD3 transformer LoRA: no UNet, no CLIP keys
    name = "transformer.transformer_blocks.0.attn.to_q"
    save_file(
        {f"{name}.lora_A.weight": torch.ones(4, 32), f"{name}.lora_B.weight": torch.ones(32, 4)},
        str(file),
    )
    reg, eng = daemon(demo_paths, tmp_path)
    reg.register("sd3", file, kind="lora", arch="sd15", format="single_file")
    with pytest.raises(InvalidInput) as err:
        image(eng, loras=[LoraSpec(id="sd3")])
    assert err.value.field == "loras.0.id" and "another model family" in err.value.message


@pytest.mark.parametrize("kind", ["loha", "lokr"])
def test_lycoris_loha_and_lokr_are_refused_at_add_naming_the_format(
    tmp_path: Path, pipes: dict[str, Any], kind: str
) -> None:
    file = tmp_path / f"{kind}.safetensors"
    getattr(layouts, kind)(file, pipes["sd15"], seed=6)
    reg = Registry(Paths(tmp_path / "data").ensure())
    with pytest.raises(InvalidInput) as err:
        reg.add(file)
    assert err.value.field == "path"
    assert {"loha": "LyCORIS LoHa", "lokr": "LyCORIS LoKr"}[kind] in err.value.message

"""Model import: single-file checkpoints, architecture from the safetensors header (not the
name), pickle refusal, shipped configs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from diffusers import StableDiffusionPipeline
from layerbridge.daemon.config import EngineSettings, Paths
from layerbridge.daemon.engine.detect import detect
from layerbridge.daemon.engine.engine import DiffusersEngine
from layerbridge.daemon.engine.pipelines import CONFIGS
from layerbridge.daemon.engine.registry import Registry
from layerbridge.daemon.errors import InvalidInput
from safetensors.torch import save_file

from .helpers import params, run
from .ldm import write_single_file


def fake(
    path: Path, shapes: dict[str, tuple[int, ...]], metadata: dict[str, str] | None = None
) -> Path:
    save_file({k: torch.zeros(s) for k, s in shapes.items()}, str(path), metadata=metadata)
    return path


UNET = "model.diffusion_model."


@pytest.mark.parametrize(
    ("shapes", "arch"),
    [
        (
            {
                UNET + "input_blocks.0.0.weight": (8, 4, 3, 3),
                UNET + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (8, 768),
            },
            "sd15",
        ),
        (
            {
                UNET + "input_blocks.0.0.weight": (8, 9, 3, 3),
                UNET + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (8, 768),
            },
            "sd15-inpaint",
        ),
        (
            {
                UNET + "input_blocks.0.0.weight": (8, 4, 3, 3),
                UNET + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": (8, 1024),
            },
            "sd2",
        ),
        (
            {
                UNET + "input_blocks.0.0.weight": (8, 4, 3, 3),
                UNET + "label_emb.0.0.weight": (8, 16),
                UNET + "input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight": (8, 2048),
            },
            "sdxl",
        ),
        (
            {
                UNET + "input_blocks.0.0.weight": (8, 9, 3, 3),
                UNET + "label_emb.0.0.weight": (8, 16),
            },
            "sdxl-inpaint",
        ),
    ],
)
def test_checkpoint_architecture_comes_from_the_header(tmp_path: Path, shapes, arch: str) -> None:
    path = fake(tmp_path / "sdxl-looking-name-but-not.safetensors", shapes)
    found = detect(path)
    assert (found.kind, found.arch, found.format) == ("checkpoint", arch, "single_file")


def test_loras_controlnets_and_embeddings_are_told_apart(tmp_path: Path) -> None:
    kohya_xl = fake(
        tmp_path / "a.safetensors",
        {"lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": (4, 8)},
    )
    diff = fake(tmp_path / "b.safetensors", {"unet.down.attn2.to_k.lora_A.weight": (4, 768)})
    cn = fake(
        tmp_path / "c.safetensors", {"control_model.input_hint_block.0.weight": (16, 3, 3, 3)}
    )
    emb = fake(tmp_path / "d.safetensors", {"emb_params": (2, 768)})
    emb_xl = fake(tmp_path / "e.safetensors", {"clip_l": (2, 768), "clip_g": (2, 1280)})
    assert (detect(kohya_xl).kind, detect(kohya_xl).arch) == ("lora", "sdxl")
    assert (detect(diff).kind, detect(diff).arch) == ("lora", "sd15")
    assert detect(cn).kind == "controlnet"
    assert (detect(emb).kind, detect(emb).arch) == ("embedding", "sd15")
    assert (detect(emb_xl).kind, detect(emb_xl).arch) == ("embedding", "sdxl")


def test_lora_metadata_names_the_base_model(tmp_path: Path) -> None:
    path = fake(
        tmp_path / "x.safetensors",
        {"lora_unet_a.lora_down.weight": (4, 32)},
        {"ss_base_model_version": "sdxl_base_v1-0"},
    )
    assert detect(path).arch == "sdxl"


@pytest.mark.parametrize("suffix", [".ckpt", ".pt", ".bin", ".pth"])
def test_pickles_are_refused_unless_allowed(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"model{suffix}"
    torch.save(
        {
            UNET + "input_blocks.0.0.weight": torch.zeros(8, 4, 3, 3),
            UNET + "input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight": torch.zeros(8, 768),
        },
        path,
    )
    reg = Registry(Paths(tmp_path / "data").ensure())
    with pytest.raises(InvalidInput) as err:
        reg.add(path)
    assert err.value.field == "path" and "pickle" in err.value.message
    assert reg.list() == []
    info = reg.add(path, allow_pickle=True)
    assert (info.kind, info.arch) == ("checkpoint", "sd15")


def test_pickles_load_with_weights_only(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.ckpt"
    torch.save({"x": Evil()}, path)
    with pytest.raises(InvalidInput) as err:
        Registry(Paths(tmp_path / "data").ensure()).add(path, allow_pickle=True)
    assert "safely" in err.value.message


def test_other_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(InvalidInput):
        Registry(Paths(tmp_path / "data").ensure()).add(path)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\xff" * 32)
    with pytest.raises(InvalidInput):
        Registry(Paths(tmp_path / "data").ensure()).add(junk)


def test_shipped_configs_cover_every_architecture() -> None:
    for arch in ("sd15", "sd15-inpaint", "sd2", "sd2-inpaint", "sdxl", "sdxl-inpaint"):
        index = json.loads((CONFIGS / arch / "model_index.json").read_text())
        unet = json.loads((CONFIGS / arch / "unet" / "config.json").read_text())
        assert index["_class_name"].startswith("StableDiffusion")
        assert unet["in_channels"] == (9 if arch.endswith("inpaint") else 4)
    for base in ("sd15", "sd2", "sdxl"):
        assert (CONFIGS / f"controlnet-{base}" / "config.json").is_file()


@pytest.fixture(scope="module")
def single_file(demo_paths: Paths, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pipe = StableDiffusionPipeline.from_pretrained(demo_paths.models / "demo")
    path = tmp_path_factory.mktemp("single") / "my-model.safetensors"
    write_single_file(pipe, path)
    return path


def test_a_single_file_checkpoint_imports_and_matches_its_diffusers_twin(
    demo_paths: Paths, single_file: Path, tmp_path: Path
) -> None:
    paths = Paths(tmp_path).ensure()
    reg = Registry(paths)
    info = reg.add(single_file, config=demo_paths.models / "demo")
    assert (info.id, info.kind, info.arch, info.format) == (
        "my-model",
        "checkpoint",
        "sd15",
        "single_file",
    )
    reg.add(demo_paths.models / "demo", model_id="demo")
    eng = DiffusersEngine(paths, EngineSettings(threads=1))
    a = run(eng, params(model="my-model"))[0].image.tobytes()
    b = run(eng, params(model="demo"))[0].image.tobytes()
    assert a == b


def test_a_single_file_without_a_usable_config_fails_clearly(
    single_file: Path, tmp_path: Path
) -> None:
    from layerbridge.daemon.errors import ModelLoadError

    paths = Paths(tmp_path).ensure()
    Registry(paths).add(single_file, model_id="m")  # real SD-1.5 config: shapes will not match
    eng = DiffusersEngine(paths, EngineSettings())
    with pytest.raises(ModelLoadError) as err:
        run(eng, params(model="m", steps=1))
    assert err.value.field == "model" and "'m'" in err.value.message


def test_a_single_file_controlnet_matches_its_diffusers_twin(
    demo_paths: Paths, tmp_path: Path
) -> None:
    from diffusers import ControlNetModel
    from layerbridge.daemon.protocol.messages import ControlSpec

    from .helpers import gradient, sha
    from .ldm import controlnet_to_ldm

    net = ControlNetModel.from_pretrained(demo_paths.models / "demo-cn-canny")
    path = tmp_path / "control_v11p_sd15_canny.safetensors"
    save_file({k: v.contiguous() for k, v in controlnet_to_ldm(net).items()}, str(path))
    paths = Paths(tmp_path / "data").ensure()
    reg = Registry(paths)
    info = reg.add(path, config=demo_paths.models / "demo-cn-canny")
    assert (info.kind, info.arch, info.format, info.control_type) == (
        "controlnet",
        "sd15",
        "single_file",
        "canny",
    )
    reg.add(demo_paths.models / "demo", model_id="demo")
    reg.add(demo_paths.models / "demo-cn-canny", model_id="twin")
    eng = DiffusersEngine(paths, EngineSettings(threads=1))
    hint = {"control__0__image": gradient(64, 64)}
    one = run(eng, params(control=[ControlSpec(type="canny", image=sha(1), model=info.id)]), **hint)
    two = run(eng, params(control=[ControlSpec(type="canny", image=sha(1), model="twin")]), **hint)
    assert one[0].image.tobytes() == two[0].image.tobytes()

"""Model files as they arrive: cut short, malformed, missing a component, pickled inside a
folder, fp16-only, of a family the daemon cannot run. Each is refused at `models add` naming the
file or family, or loads."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest
import torch
from layerbridge.daemon.config import EngineSettings, Paths
from layerbridge.daemon.engine.engine import DiffusersEngine
from layerbridge.daemon.engine.registry import Registry
from layerbridge.daemon.errors import InvalidInput
from safetensors.torch import save_file

from .helpers import params, run

UNET = "model.diffusion_model."


def registry(tmp_path: Path) -> Registry:
    return Registry(Paths(tmp_path / "data").ensure())


def refused(reg: Registry, path: Path, **kw: object) -> str:
    with pytest.raises(InvalidInput) as err:
        reg.add(path, **kw)  # type: ignore[arg-type]
    assert err.value.field == "path" and reg.list() == []
    return err.value.message


# ---------------------------------------------------------------- damaged files


def test_a_file_cut_short_is_refused_naming_it(demo_paths: Paths, tmp_path: Path) -> None:
    whole = (demo_paths.models / "demo-lora.safetensors").read_bytes()
    cut = tmp_path / "half-downloaded-lora.safetensors"
    cut.write_bytes(whole[: len(whole) // 2])
    message = refused(registry(tmp_path), cut)
    assert "half-downloaded-lora.safetensors" in message and "truncated" in message


@pytest.mark.parametrize(
    "header",
    [
        b"[1, 2, 3]",
        b"{not json",
        json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 400]}}).encode(),
        json.dumps({"w": {"dtype": "F32", "shape": "big", "data_offsets": [0, 8]}}).encode(),
        json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}}).encode(),
        json.dumps({"__metadata__": [1], "w": {"dtype": "F32", "shape": [2],
                                                "data_offsets": [0, 8]}}).encode(),
    ],
    ids=["not-an-object", "not-json", "offsets-beyond-the-file", "bad-shape", "reversed",
         "bad-metadata"],
)
def test_a_malformed_header_is_a_named_error(tmp_path: Path, header: bytes) -> None:
    path = tmp_path / "odd.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 8)
    assert "odd.safetensors" in refused(registry(tmp_path), path)


def test_a_header_longer_than_the_file_is_truncated(tmp_path: Path) -> None:
    path = tmp_path / "stub.safetensors"
    path.write_bytes(struct.pack("<Q", 5000) + b'{"a":')
    assert "truncated" in refused(registry(tmp_path), path)


def test_a_folder_missing_a_component_is_refused(demo_paths: Paths, tmp_path: Path) -> None:
    folder = tmp_path / "sd-no-vae"
    shutil.copytree(demo_paths.models / "demo", folder)
    shutil.rmtree(folder / "vae")
    assert "vae/" in refused(registry(tmp_path), folder)


def test_a_folder_with_a_truncated_component_is_refused(demo_paths: Paths, tmp_path: Path) -> None:
    folder = tmp_path / "sd-cut"
    shutil.copytree(demo_paths.models / "demo", folder)
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1000])
    message = refused(registry(tmp_path), folder)
    assert "diffusion_pytorch_model.safetensors" in message and "truncated" in message


def test_pickled_weights_inside_a_folder_need_allow_pickle(demo_paths: Paths, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    folder = tmp_path / "sd-bin"
    shutil.copytree(demo_paths.models / "demo", folder)
    weights = folder / "unet" / "diffusion_pytorch_model.safetensors"
    torch.save(load_file(str(weights)), folder / "unet" / "diffusion_pytorch_model.bin")
    weights.unlink()
    reg = registry(tmp_path)
    assert "allow_pickle" in refused(reg, folder)
    info = reg.add(folder, allow_pickle=True, model_id="pickled")
    assert reg.get("pickled").pickle and info.kind == "checkpoint"
    eng = DiffusersEngine(reg._paths, EngineSettings(threads=1))
    assert len(run(eng, params(model="pickled", steps=1))) == 1


# ---------------------------------------------------------------- fp16 variant folders


def test_an_fp16_only_folder_loads_with_the_variant(demo_paths: Paths, tmp_path: Path) -> None:
    from diffusers import ControlNetModel, StableDiffusionPipeline

    folder = tmp_path / "sd-fp16"
    pipe = StableDiffusionPipeline.from_pretrained(demo_paths.models / "demo")
    pipe.to(torch.float16).save_pretrained(folder, variant="fp16", safe_serialization=True)
    assert not list(folder.rglob("diffusion_pytorch_model.safetensors"))
    net_folder = tmp_path / "cn-canny-fp16"
    net = ControlNetModel.from_pretrained(demo_paths.models / "demo-cn-canny")
    net.to(torch.float16).save_pretrained(net_folder, variant="fp16", safe_serialization=True)
    reg = registry(tmp_path)
    assert reg.add(folder, model_id="half") is not None and reg.get("half").variant == "fp16"
    cn = reg.add(net_folder, model_id="half-cn")
    assert (cn.kind, reg.get("half-cn").variant) == ("controlnet", "fp16")
    eng = DiffusersEngine(reg._paths, EngineSettings(threads=1))
    from layerbridge.daemon.protocol.messages import ControlSpec

    from .helpers import gradient, sha

    spec = ControlSpec(type="canny", image=sha(1), model="half-cn")
    out = run(eng, params(model="half", steps=1, control=[spec]), control__0__image=gradient(64, 64))
    assert len(out) == 1


# ---------------------------------------------------------------- families it cannot run


def fake(path: Path, shapes: dict[str, tuple[int, ...]], metadata: dict[str, str] | None = None) -> Path:
    save_file({k: torch.zeros(s) for k, s in shapes.items()}, str(path), metadata=metadata)
    return path


@pytest.mark.parametrize(
    ("shapes", "metadata", "family"),
    [
        ({"double_blocks.0.img_attn.norm.key_norm.scale": (4,), "img_in.weight": (4, 4)}, None,
         "FLUX"),
        ({UNET + "double_blocks.0.img_attn.qkv.weight": (4, 4)}, None, "FLUX"),
        ({"joint_blocks.0.context_block.adaLN_modulation.1.bias": (4,)}, None, "SD3"),
        ({"clip_txt_mapper.weight": (4, 4), "down_blocks.1.0.channelwise.0.weight": (4,)}, None,
         "Stable Cascade"),
        # kohya-ss sd-scripts FLUX LoRA: lora_flux naming and its metadata
        ({"lora_unet_double_blocks_0_img_attn_proj.lora_down.weight": (4, 3072),
          "lora_unet_double_blocks_0_img_attn_proj.lora_up.weight": (3072, 4),
          "lora_unet_double_blocks_0_img_attn_proj.alpha": ()},
         {"ss_base_model_version": "flux1", "ss_network_module": "networks.lora_flux"}, "FLUX"),
        # diffusers / ai-toolkit FLUX LoRA
        ({"transformer.single_transformer_blocks.0.attn.to_k.lora_A.weight": (4, 3072)}, None,
         "FLUX"),
        # diffusers SD3 LoRA
        ({"transformer.transformer_blocks.0.attn.add_k_proj.lora_A.weight": (4, 1536)}, None,
         "SD3"),
        # SD-looking keys, but the metadata names the family
        ({"lora_unet_down_blocks_1_attentions_0_proj_in.lora_down.weight": (4, 320)},
         {"modelspec.architecture": "stable-diffusion-3-medium/lora"}, "SD3"),
        ({"conditioner.embedders.0.model.transformer.resblocks.9.mlp.c_proj.bias": (4,),
          UNET + "input_blocks.0.0.weight": (8, 4, 3, 3)}, None, "SDXL refiner"),
    ],
    ids=["flux-ckpt", "flux-comfy", "sd3", "cascade", "flux-kohya-lora", "flux-diffusers-lora",
         "sd3-lora", "sd3-by-metadata", "sdxl-refiner"],
)
def test_families_it_cannot_run_are_refused_by_name(
    tmp_path: Path, shapes: dict[str, tuple[int, ...]], metadata: dict[str, str] | None, family: str
) -> None:
    path = fake(tmp_path / "model.safetensors", shapes, metadata)
    message = refused(registry(tmp_path), path)
    assert f"is a {family} " in message, message


def test_a_lora_of_unknown_width_is_not_taken_for_sd15(tmp_path: Path) -> None:
    path = fake(tmp_path / "mystery.safetensors", {
        "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight":
        (4, 4096)})  # fmt: skip
    assert "width 4096" in refused(registry(tmp_path), path)


@pytest.mark.parametrize("key", [
    "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k.lora_down.weight",
    "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight",
], ids=["kohya", "peft"])  # fmt: skip
@pytest.mark.parametrize(("width", "arch"), [(768, "sd15"), (1024, "sd2"), (2048, "sdxl")])
def test_a_lora_of_a_known_width_gets_its_family(
    tmp_path: Path, key: str, width: int, arch: str
) -> None:
    path = fake(tmp_path / "style.safetensors", {key: (4, width)})
    assert registry(tmp_path).add(path).arch == arch


def test_a_flux_pipeline_folder_is_refused_by_name(tmp_path: Path) -> None:
    folder = tmp_path / "FLUX.1-dev"
    folder.mkdir()
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    assert "FLUX" in refused(registry(tmp_path), folder)

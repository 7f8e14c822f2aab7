"""Every ControlNet type: depth, normal, openpose, segmentation, mlsd, shuffle and inpaint nets
are found by their type, a map is used as it is where no preprocessor applies, a registered
depth estimator makes depth maps, and union ControlNets follow the type each job names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from layerbridge.daemon.config import EngineSettings, Paths
from layerbridge.daemon.engine import preprocess
from layerbridge.daemon.engine.engine import DiffusersEngine
from layerbridge.daemon.engine.registry import Registry
from layerbridge.daemon.errors import InvalidInput
from layerbridge.daemon.protocol.messages import ControlSpec
from PIL import Image

from .helpers import gradient, params, run, sha

AS_IS = ["depth", "normal", "openpose", "segmentation", "shuffle", "inpaint"]


def tiny_depth_estimator(folder: Path) -> Path:
    """A Depth-Anything model (DINOv2 backbone) with random weights and its image processor,
    saved as transformers saves them."""
    from transformers import (
        DepthAnythingConfig,
        DepthAnythingForDepthEstimation,
        Dinov2Config,
        DPTImageProcessor,
    )

    backbone = Dinov2Config(
        hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=37,
        patch_size=14, image_size=56, out_features=["stage1", "stage2", "stage3", "stage4"],
        reshape_hidden_states=False,
    )
    config = DepthAnythingConfig(
        backbone_config=backbone, neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16,
        head_hidden_size=8, reassemble_hidden_size=32,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        DepthAnythingForDepthEstimation(config).save_pretrained(folder)
    DPTImageProcessor(
        size={"height": 56, "width": 56}, keep_aspect_ratio=True, ensure_multiple_of=14
    ).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def typed(demo_paths: Paths, tmp_path_factory: pytest.TempPathFactory) -> Paths:
    """A daemon with one ControlNet per type (the demo net's weights under each type)."""
    paths = Paths(tmp_path_factory.mktemp("typed")).ensure()
    reg = Registry(paths)
    reg.add(demo_paths.models / "demo", model_id="demo")
    for kind in [*AS_IS, "mlsd"]:
        reg.add(demo_paths.models / "demo-cn-canny", model_id=f"cn-{kind}", control_type=kind)
    return paths


def engine(paths: Paths) -> DiffusersEngine:
    return DiffusersEngine(paths, EngineSettings(threads=1))


def picture() -> Image.Image:
    return gradient(64, 64, seed=3)


def generate(eng: DiffusersEngine, *specs: ControlSpec, image: Image.Image | None = None,
             **kw: Any) -> bytes:
    inputs = {f"control__{i}__image": image or picture() for i in range(len(specs))}
    return bytes(run(eng, params(control=list(specs), **kw), **inputs)[0].image.tobytes())


@pytest.mark.parametrize("kind", AS_IS)
def test_a_control_type_without_a_preprocessor_uses_its_image_as_the_map(
    typed: Paths, kind: str
) -> None:
    eng = engine(typed)
    by_type = generate(eng, ControlSpec(type=kind, image=sha(5)))  # type: ignore[arg-type]
    by_model = generate(eng, ControlSpec(type="none", model=f"cn-{kind}", image=sha(5)))
    other_map = generate(eng, ControlSpec(type="none", model=f"cn-{kind}", image=sha(5)),
                         image=picture().transpose(Image.Transpose.ROTATE_90))
    assert by_type == by_model
    assert by_type != other_map and by_type != generate(eng)


def test_mlsd_finds_straight_lines_and_a_map_can_skip_its_preprocessor(typed: Paths) -> None:
    img = np.full((64, 64, 3), 20, np.uint8)
    img[16:48, 16:48] = 230
    lines = np.asarray(preprocess.preprocess("mlsd", Image.fromarray(img)))[..., 0]
    assert lines[14:19, 20:44].max(axis=0).min() == 255 and lines[28:36, 28:36].max() == 0
    eng = engine(typed)
    made = generate(eng, ControlSpec(type="mlsd", image=sha(5)), image=Image.fromarray(img))
    given = generate(
        eng, ControlSpec(type="mlsd", image=sha(5), preprocess=False),
        image=Image.fromarray(lines).convert("RGB"),
    )
    raw = generate(
        eng, ControlSpec(type="mlsd", image=sha(5), preprocess=False), image=Image.fromarray(img)
    )
    assert made == given and made != raw


def test_a_registered_depth_estimator_makes_the_depth_map(typed: Paths, tmp_path: Path) -> None:
    from layerbridge.daemon.engine.estimators import DepthEstimator

    folder = tiny_depth_estimator(tmp_path / "depth-anything-small-hf")
    paths = Paths(tmp_path / "data").ensure()
    reg = Registry(paths)
    for info in Registry(typed).list():
        reg.add(Registry(typed).locate(info.id), model_id=info.id, control_type=info.control_type)
    est = reg.add(folder)
    assert (est.kind, est.control_type, est.format) == ("preprocessor", "depth", "transformers")
    eng = engine(paths)
    photo = picture()
    estimated = generate(eng, ControlSpec(type="depth", image=sha(5)), image=photo)
    depth_map = DepthEstimator(folder)(photo)
    assert depth_map.size == photo.size and len(np.unique(np.asarray(depth_map))) > 1
    given = generate(eng, ControlSpec(type="depth", image=sha(5), preprocess=False), image=depth_map)
    as_is = generate(eng, ControlSpec(type="depth", image=sha(5), preprocess=False), image=photo)
    assert estimated == given and estimated != as_is
    assert "depth-anything-small-hf" in eng.loaded()


def test_controlnet_types_are_read_from_the_conventional_file_names(
    demo_paths: Paths, tmp_path: Path
) -> None:
    import shutil

    reg = Registry(Paths(tmp_path / "data").ensure())
    for name, kind in [
        ("control_v11f1p_sd15_depth", "depth"), ("control_v11p_sd15_normalbae", "normal"),
        ("control_v11p_sd15_openpose", "openpose"), ("control_v11p_sd15_seg", "segmentation"),
        ("control_v11p_sd15_mlsd", "mlsd"), ("control_v11e_sd15_shuffle", "shuffle"),
        ("control_v11p_sd15_inpaint", "inpaint"),
    ]:
        folder = tmp_path / name
        shutil.copytree(demo_paths.models / "demo-cn-canny", folder)
        cfg = folder / "config.json"
        cfg.write_text(cfg.read_text().replace('"layerbridge_control_type": "canny",', ""))
        assert reg.add(folder).control_type == kind, name


def tiny_union(folder: Path, demo_paths: Paths) -> None:
    from diffusers import ControlNetUnionModel, UNet2DConditionModel

    unet = UNet2DConditionModel.from_pretrained(demo_paths.models / "demo-xl" / "unet")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        shaped = ControlNetUnionModel.from_unet(
            unet, conditioning_embedding_out_channels=(8, 16, 32, 32)
        )
        # the union's transformer works at the first block's width (320 in the real ones)
        width = unet.config.block_out_channels[0]
        config = {k: v for k, v in shaped.config.items() if not k.startswith("_")} | dict(
            num_trans_channel=width, num_trans_head=2, num_proj_channel=width, num_control_type=8
        )
        net = ControlNetUnionModel.from_config(config)
        with torch.no_grad():
            net.spatial_ch_projs.weight.normal_(0, 0.3)
            for block in [*net.controlnet_down_blocks, net.controlnet_mid_block]:
                block.weight.normal_(0, 0.3)
            net.controlnet_cond_embedding.conv_out.weight.normal_(0, 0.3)
    net.save_pretrained(folder)


def test_a_union_controlnet_follows_the_type_each_job_names(
    demo_paths: Paths, tmp_path: Path
) -> None:
    folder = tmp_path / "controlnet-union-sdxl-1.0"
    tiny_union(folder, demo_paths)
    paths = Paths(tmp_path / "data").ensure()
    reg = Registry(paths)
    reg.add(demo_paths.models / "demo-xl", model_id="demo-xl")
    info = reg.add(folder, model_id="union")
    assert (info.kind, info.arch, info.control_type) == ("controlnet", "sdxl", "union")
    eng = engine(paths)
    xl: dict[str, Any] = dict(model="demo-xl", width=64, height=64)
    plain = generate(eng, **xl)
    depth = generate(eng, ControlSpec(type="depth", image=sha(5), preprocess=False), **xl)
    pose = generate(eng, ControlSpec(type="openpose", image=sha(5), preprocess=False), **xl)
    assert len({plain, depth, pose}) == 3
    with pytest.raises(InvalidInput) as err:
        generate(eng, ControlSpec(type="shuffle", image=sha(5)), **xl)
    assert err.value.field == "control.0.type"
    with pytest.raises(InvalidInput) as err:
        generate(eng, ControlSpec(type="none", model="union", image=sha(5)), **xl)
    assert err.value.field == "control.0.type" and "depth" in err.value.message

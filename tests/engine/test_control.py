"""ControlNet: the preprocessors, and real ControlNet pipelines for every job kind."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from layerbridge.daemon.config import EngineSettings, Paths
from layerbridge.daemon.engine import preprocess
from layerbridge.daemon.engine.engine import DiffusersEngine
from layerbridge.daemon.engine.registry import Registry
from layerbridge.daemon.errors import InvalidInput, UnknownModel
from layerbridge.daemon.protocol.messages import ControlSpec
from PIL import Image

from .helpers import gradient, params, run, sha


def shapes(w: int = 96, h: int = 96) -> Image.Image:
    img = np.full((h, w, 3), 30, np.uint8)
    img[20:60, 20:60] = 220
    img[50:80, 55:90] = (200, 40, 40)
    return Image.fromarray(img, "RGB")


@pytest.mark.parametrize("kind", ["canny", "scribble", "lineart", "softedge", "tile", "none"])
def test_each_preprocessor_makes_an_rgb_map_of_the_same_size(kind: str) -> None:
    out = preprocess.preprocess(kind, shapes())
    assert out.mode == "RGB" and out.size == (96, 96)


@pytest.mark.parametrize("kind", ["canny", "scribble", "lineart", "softedge"])
def test_edge_preprocessors_find_the_edges_and_not_the_flat_areas(kind: str) -> None:
    out = np.asarray(preprocess.preprocess(kind, shapes()))[..., 0]
    assert out[17:23, 35:45].max() > 100  # the square's top edge
    assert out[5:15, 5:15].max() == 0 if kind != "softedge" else out[5:15, 5:15].max() < 20
    assert out[35:45, 35:45].max() < 20  # inside the flat square


def test_canny_thresholds_matter() -> None:
    img = gradient(96, 96)
    low = np.asarray(preprocess.canny(img, 5, 10)).sum()
    high = np.asarray(preprocess.canny(img, 200, 255)).sum()
    assert low > high


def test_tile_is_a_blurred_copy() -> None:
    img = shapes()
    out = np.asarray(preprocess.tile(img), dtype=int)
    assert np.abs(out - np.asarray(img, dtype=int)).mean() < 20
    assert out.tobytes() != np.asarray(img, dtype=int).tobytes()


def test_none_passes_the_map_through() -> None:
    img = shapes()
    assert preprocess.preprocess("none", img).tobytes() == img.tobytes()


def control(kind: str = "canny", i: int = 0, **kw) -> ControlSpec:
    return ControlSpec(type=kind, image=sha(100 + i), **kw)


@pytest.mark.parametrize("job", ["generate", "refine", "inpaint"])
def test_controlnet_changes_the_result_of_every_job_kind(engine: DiffusersEngine, job: str) -> None:
    inputs = {"image": shapes(), "control__0__image": shapes()}
    if job == "inpaint":
        m = Image.new("L", (96, 96), 0)
        m.paste(255, (20, 20, 76, 76))
        inputs["mask"] = m
    if job == "generate":
        inputs.pop("image")
    plain = run(engine, params(job), **inputs)[0]
    guided = run(engine, params(job, control=[control()]), **inputs)[0]
    assert guided.image.size == plain.image.size and guided.region == plain.region
    assert guided.image.tobytes() != plain.image.tobytes()


@pytest.mark.parametrize("kind", ["scribble", "lineart", "softedge", "tile"])
def test_each_registered_control_type_runs(engine: DiffusersEngine, kind: str) -> None:
    [out] = run(engine, params(control=[control(kind)]), control__0__image=shapes())
    assert out.image.size == (64, 64)


def test_several_controlnets_at_once(engine: DiffusersEngine) -> None:
    specs = [control("canny", 0), control("softedge", 1, strength=0.5, start=0.2, end=0.8)]
    inputs = {"control__0__image": shapes(), "control__1__image": gradient(96, 96)}
    both = run(engine, params(control=specs), **inputs)[0].image.tobytes()
    one = run(engine, params(control=specs[:1]), control__0__image=shapes())[0].image.tobytes()
    assert both != one


def test_control_strength_zero_is_the_plain_result(engine: DiffusersEngine) -> None:
    plain = run(engine, params())[0].image
    zero = run(engine, params(control=[control(strength=0.0)]), control__0__image=shapes())[0].image
    assert np.abs(np.asarray(plain, int) - np.asarray(zero, int)).max() <= 1


def test_type_none_uses_the_named_controlnet_with_the_clients_map(engine: DiffusersEngine) -> None:
    spec = control("none", model="demo-cn-canny")
    [out] = run(engine, params(control=[spec]), control__0__image=preprocess.canny(shapes()))
    assert out.image.size == (64, 64)


def test_type_none_without_a_model_is_refused(engine: DiffusersEngine) -> None:
    with pytest.raises(InvalidInput) as err:
        run(engine, params(control=[control("none")]), control__0__image=shapes())
    assert err.value.field == "control.0.model"


def test_a_controlnet_for_another_architecture_is_refused(engine: DiffusersEngine) -> None:
    with pytest.raises(InvalidInput) as err:
        run(engine, params(control=[control(model="demo-xl-cn-canny")]), control__0__image=shapes())
    assert err.value.field == "control.0.model" and "sdxl" in err.value.message


def test_an_unknown_controlnet_names_its_field(engine: DiffusersEngine) -> None:
    with pytest.raises(UnknownModel) as err:
        run(engine, params(control=[control(model="nope")]), control__0__image=shapes())
    assert err.value.field == "control.0.model"


def test_a_missing_control_image_names_its_field(engine: DiffusersEngine) -> None:
    with pytest.raises(InvalidInput) as err:
        engine.run(params(control=[control()]), 1, {}, lambda e: None, lambda: False)
    assert err.value.field == "control.0.image"


@pytest.mark.parametrize("job", ["generate", "refine", "inpaint", "expand"])
def test_sdxl_controlnet_runs_every_job_kind(engine: DiffusersEngine, job: str) -> None:
    from layerbridge.daemon.protocol.messages import Margins

    extra = {"margins": Margins(right=32)} if job == "expand" else {}
    inputs = {"image": shapes(), "control__0__image": shapes()}
    if job == "inpaint":
        m = Image.new("L", (96, 96), 0)
        m.paste(255, (20, 20, 76, 76))
        inputs["mask"] = m
    if job == "generate":
        inputs.pop("image")
    [out] = run(engine, params(job, model="demo-xl", control=[control()], **extra), **inputs)
    assert out.image.size[0] >= 16


def test_a_control_image_of_another_size_than_the_input_is_refused(engine: DiffusersEngine) -> None:
    with pytest.raises(InvalidInput) as err:
        run(
            engine,
            params("refine", control=[control()]),
            image=shapes(96, 96),
            control__0__image=shapes(64, 64),
        )
    assert err.value.field == "control.0.image" and "96x96" in err.value.message


def test_expand_reads_control_in_the_inputs_pixels(engine: DiffusersEngine) -> None:
    from layerbridge.daemon.protocol.messages import Margins

    p = params("expand", margins=Margins(left=32), control=[control()])
    [out] = run(engine, p, image=shapes(), control__0__image=shapes())
    assert (out.region.x, out.region.width) == (-32, 128)



def seeing_controlnet(demo_paths: Paths, tmp_path: Path) -> DiffusersEngine:
    """An engine with the demo checkpoint and a canny ControlNet whose output depends on the map
    (the demo nets' conditioning embedding is zero-initialised: they see no map at all)."""
    from diffusers import ControlNetModel

    net = ControlNetModel.from_pretrained(demo_paths.models / "demo-cn-canny")
    with torch.no_grad():
        net.controlnet_cond_embedding.conv_out.weight.normal_(
            0, 0.5, generator=torch.Generator().manual_seed(5)
        )
    net.save_pretrained(tmp_path / "seeing-cn", safe_serialization=True)
    paths = Paths(tmp_path / "data").ensure()
    reg = Registry(paths)
    reg.add(demo_paths.models / "demo", model_id="demo")
    reg.add(tmp_path / "seeing-cn", model_id="seeing-cn", control_type="canny")
    return DiffusersEngine(paths, EngineSettings(threads=1))


def test_refine_of_an_odd_size_reads_control_in_the_inputs_pixels(
    demo_paths: Paths, tmp_path: Path
) -> None:
    # refine drops the right/bottom pixels past a multiple of 8: the control map must be cut the
    # same way, not squeezed onto the smaller image
    eng = seeing_controlnet(demo_paths, tmp_path)
    p = params("refine", strength=0.8, control=[control(model="seeing-cn")])
    odd = shapes(102, 99)
    cut = odd.crop((0, 0, 96, 96))
    [whole] = run(eng, p, image=odd, control__0__image=odd)
    [pre_cut] = run(eng, p, image=cut, control__0__image=cut)
    [blind] = run(eng, p, image=cut, control__0__image=Image.new("RGB", (96, 96)))
    assert blind.image.tobytes() != pre_cut.image.tobytes()  # this net does see its map
    assert whole.image.size == pre_cut.image.size == (96, 96)
    assert whole.image.tobytes() == pre_cut.image.tobytes()

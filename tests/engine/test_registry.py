from __future__ import annotations

import json
from pathlib import Path

import pytest
from layerbridge.daemon.config import Paths
from layerbridge.daemon.engine.registry import Registry
from layerbridge.daemon.errors import Conflict, InvalidInput, UnknownModel


def test_demo_models_are_registered_and_demo_is_default(demo_paths: Paths) -> None:
    reg = Registry(demo_paths)
    ids = {m.id for m in reg.list()}
    assert {
        "demo",
        "demo-inpaint",
        "demo-xl",
        "demo-cn-canny",
        "demo-lora",
        "demo-embedding",
    } <= ids
    assert reg.default() is not None and reg.default().id == "demo"
    assert reg.get("demo-inpaint").arch == "sd15-inpaint"
    assert reg.get("demo-xl").arch == "sdxl"
    assert reg.get("demo-xl-inpaint").arch == "sdxl-inpaint"


def test_add_registers_a_folder_by_reference_and_remove_forgets_it(
    demo_paths: Paths, tmp_path: Path
) -> None:
    reg = Registry(Paths(tmp_path).ensure())
    folder = demo_paths.models / "demo"
    info = reg.add(folder, model_id="mine")
    assert (info.kind, info.arch, info.format) == ("checkpoint", "sd15", "diffusers")
    assert reg.get("mine").path == folder.resolve()
    assert [m.id for m in reg.list()] == ["mine"]
    assert folder.is_dir()
    reg.set_default("mine")
    assert reg.default().id == "mine" and reg.list()[0].default
    reg.remove("mine")
    assert reg.list() == [] and reg.default() is None
    with pytest.raises(UnknownModel):
        reg.get("mine")


def test_a_second_registry_sees_models_added_by_another(demo_paths: Paths, tmp_path: Path) -> None:
    paths = Paths(tmp_path).ensure()
    daemon_side, cli_side = Registry(paths), Registry(paths)
    assert daemon_side.list() == []
    cli_side.add(demo_paths.models / "demo-xl", model_id="xl")
    assert daemon_side.get("xl").arch == "sdxl"


def test_add_with_an_existing_id_conflicts(demo_paths: Paths, tmp_path: Path) -> None:
    reg = Registry(Paths(tmp_path).ensure())
    reg.add(demo_paths.models / "demo", model_id="a")
    with pytest.raises(Conflict):
        reg.add(demo_paths.models / "demo", model_id="a")


def test_add_derives_a_free_id_from_the_name(demo_paths: Paths, tmp_path: Path) -> None:
    reg = Registry(Paths(tmp_path).ensure())
    assert reg.add(demo_paths.models / "demo").id == "demo"
    assert reg.add(demo_paths.models / "demo").id == "demo-2"


@pytest.mark.parametrize("bad", ["../etc", "a/b", "", ".hidden", "x" * 65, "..", "a b"])
def test_ids_that_could_be_paths_are_refused(demo_paths: Paths, tmp_path: Path, bad: str) -> None:
    reg = Registry(Paths(tmp_path).ensure())
    with pytest.raises(InvalidInput) as err:
        reg.add(demo_paths.models / "demo", model_id=bad)
    assert err.value.field == "id"
    with pytest.raises(UnknownModel):
        reg.get(bad)


def test_unknown_model_names_the_callers_field(demo_paths: Paths) -> None:
    with pytest.raises(UnknownModel) as err:
        Registry(demo_paths).get("nope", field="loras.0.id")
    assert err.value.field == "loras.0.id" and "nope" in err.value.message


def test_a_damaged_record_is_skipped_not_fatal(tmp_path: Path, demo_paths: Paths) -> None:
    paths = Paths(tmp_path).ensure()
    reg = Registry(paths)
    reg.add(demo_paths.models / "demo", model_id="good")
    (paths.models / "_registry" / "bad.json").write_text("{not json")
    assert [m.id for m in reg.list()] == ["good"]


def test_missing_path_is_invalid(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as err:
        Registry(Paths(tmp_path).ensure()).add(tmp_path / "nothing.safetensors")
    assert err.value.field == "path"


def test_record_is_small_json_with_the_absolute_path(demo_paths: Paths, tmp_path: Path) -> None:
    paths = Paths(tmp_path).ensure()
    Registry(paths).add(demo_paths.models / "demo", model_id="m")
    record = json.loads((paths.models / "_registry" / "m.json").read_text())
    assert Path(record["path"]).is_absolute() and record["arch"] == "sd15"


def test_a_controlnet_gets_its_declared_or_conventional_type(
    demo_paths: Paths, tmp_path: Path
) -> None:
    import shutil

    reg = Registry(Paths(tmp_path / "data").ensure())
    assert reg.add(demo_paths.models / "demo-cn-tile", model_id="a").control_type == "tile"
    bare = tmp_path / "control_v11p_sd15_lineart"
    shutil.copytree(demo_paths.models / "demo-cn-canny", bare)
    cfg = json.loads((bare / "config.json").read_text())
    cfg.pop("layerbridge_control_type")
    (bare / "config.json").write_text(json.dumps(cfg))
    assert reg.add(bare).control_type == "lineart"
    assert reg.add(bare, model_id="c", control_type="scribble").control_type == "scribble"
    anon = tmp_path / "mystery"
    shutil.copytree(bare, anon)
    with pytest.raises(InvalidInput) as err:
        reg.add(anon)
    assert err.value.field == "control_type"


def test_update_edits_metadata_and_keeps_the_rest(demo_paths: Paths, tmp_path: Path) -> None:
    reg = Registry(Paths(tmp_path).ensure())
    reg.add(demo_paths.models / "demo-lora.safetensors", model_id="l")
    info = reg.update("l", name="Nice", trigger_words=["shiny"], default_weight=0.6)
    assert (info.name, info.trigger_words, info.default_weight, info.kind) == (
        "Nice",
        ["shiny"],
        0.6,
        "lora",
    )
    assert reg.locate("l") == (demo_paths.models / "demo-lora.safetensors").resolve()

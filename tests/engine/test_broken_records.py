"""A broken record or model folder never stops the registry (and so `hello`) from answering;
it is listed as broken with its id and can be removed by that id."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from layerbridge.daemon.config import Paths
from layerbridge.daemon.engine.registry import Registry
from layerbridge.daemon.errors import InvalidInput


def _record(paths: Paths, model_id: str) -> Path:
    return paths.models / "_registry" / f"{model_id}.json"


def test_a_record_naming_an_unknown_control_type_is_listed_as_broken(
    demo_paths: Paths, tmp_path: Path
) -> None:
    paths = Paths(tmp_path / "data").ensure()
    reg = Registry(paths)
    reg.add(demo_paths.models / "demo", model_id="good")
    reg.add(demo_paths.models / "demo-cn-canny", model_id="odd-cn")
    record = json.loads(_record(paths, "odd-cn").read_text())
    record["control_type"] = "hyperspectral"  # written by another version, or by hand
    _record(paths, "odd-cn").write_text(json.dumps(record))
    _record(paths, "half").write_text("{not json")
    assert [m.id for m in reg.list()] == ["good"]  # what `hello` sends: still answers
    broken = {b.id: b.reason for b in reg.broken()}
    assert set(broken) == {"odd-cn", "half"} and "hyperspectral" in broken["odd-cn"]
    with pytest.raises(InvalidInput) as err:
        reg.get("odd-cn", field="control.0.model")
    assert err.value.field == "control.0.model" and "broken" in err.value.message
    for model_id in ("odd-cn", "half"):
        reg.remove(model_id)
    assert reg.broken() == [] and [m.id for m in reg.list()] == ["good"]


def test_a_model_whose_files_are_gone_is_broken_not_fatal(demo_paths: Paths, tmp_path: Path) -> None:
    paths = Paths(tmp_path / "data").ensure()
    reg = Registry(paths)
    folder = tmp_path / "on-a-usb-disk"
    shutil.copytree(demo_paths.models / "demo", folder)
    reg.add(folder, model_id="usb")
    reg.set_default("usb")
    shutil.rmtree(folder)
    assert reg.list() == [] and reg.default() is None
    assert [(b.id, "gone" in b.reason) for b in reg.broken()] == [("usb", True)]


def test_a_controlnet_config_naming_an_unknown_type_is_refused_at_add(
    demo_paths: Paths, tmp_path: Path
) -> None:
    folder = tmp_path / "cn"
    shutil.copytree(demo_paths.models / "demo-cn-canny", folder)
    cfg = json.loads((folder / "config.json").read_text())
    cfg["layerbridge_control_type"] = "hyperspectral"
    (folder / "config.json").write_text(json.dumps(cfg))
    reg = Registry(Paths(tmp_path / "data").ensure())
    with pytest.raises(InvalidInput) as err:
        reg.add(folder)
    assert err.value.field == "control_type" and "hyperspectral" in err.value.message
    assert reg.add(folder, control_type="canny").control_type == "canny"  # the user says


async def test_a_daemon_with_a_broken_record_still_welcomes_clients(daemon) -> None:  # type: ignore[no-untyped-def]
    from layerbridge.daemon.client import DaemonClient, RemoteError
    from layerbridge.daemon.protocol.messages import ModelsRemove

    record = daemon.paths.models / "_registry" / "odd-cn.json"
    record.write_text(json.dumps({
        "id": "odd-cn", "name": "odd", "arch": "sd15", "kind": "controlnet", "format": "diffusers",
        "path": str(daemon.paths.models / "demo-cn-canny"), "control_type": "hyperspectral"}))
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        ids = {m.id for m in client.welcome.models}
        assert "demo" in ids and "odd-cn" not in ids
    async with await DaemonClient.connect(daemon.url, daemon.admin_token) as admin:
        await admin.request(ModelsRemove(model_id="odd-cn"))  # by the id `models list` shows
        with pytest.raises(RemoteError):
            await admin.request(ModelsRemove(model_id="odd-cn"))
    assert not record.exists()

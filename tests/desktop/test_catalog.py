"""The Models and LoRAs tabs' item models against a real daemon."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from layerbridge.daemon.client import RemoteError
from layerbridge.desktop.catalog import CatalogController, PreviewSettings
from layerbridge.desktop.connection import DaemonConnection

from tests.desktop.conftest import Recorder, SharedDaemon, until

SMALL = PreviewSettings(width=64, height=64, steps=2)


def names(model) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(k) for k in model.row_keys()]


async def test_connecting_lists_the_registered_checkpoints(shared_connection: DaemonConnection
                                                           ) -> None:
    catalog = CatalogController(shared_connection, SMALL)
    assert catalog.apply(shared_connection.welcome.models)  # type: ignore[union-attr]
    assert "demo" in names(catalog.checkpoints)
    row = catalog.checkpoints.row_of("demo")
    assert row is not None
    assert [catalog.checkpoints.index(row, c).data() for c in range(5)] == [
        "Demo demo", "sd15", catalog.checkpoints.index(row, 2).data(), "diffusers folder",
        "★ default"]
    assert catalog.checkpoints.index(row, 2).data().endswith("MiB")


async def test_import_set_default_and_remove_a_checkpoint(shared_connection: DaemonConnection,
                                                          shared_daemon: SharedDaemon,
                                                          tmp_path: Path) -> None:
    catalog = CatalogController(shared_connection, SMALL)
    await catalog.refresh()
    copy = tmp_path / "my-checkpoint"
    shutil.copytree(shared_daemon.paths.models / "demo", copy)
    inserted = Recorder(catalog.checkpoints.rowsInserted)
    busy = Recorder(catalog.busyChanged)
    model = await catalog.add(str(copy))
    assert model.id == "my-checkpoint" and model.arch == "sd15"
    assert len(inserted.calls) == 1 and "my-checkpoint" in names(catalog.checkpoints)
    assert [c[0] for c in busy.calls] == [True, False]

    await catalog.set_default("my-checkpoint")
    defaults = [m.id for m in catalog.checkpoints.records() if m.default]
    assert defaults == ["my-checkpoint"]
    assert Path(await catalog.locate("my-checkpoint")) == copy.resolve()

    await catalog.remove("my-checkpoint")
    assert "my-checkpoint" not in names(catalog.checkpoints)
    await catalog.set_default("demo")


async def test_refreshing_an_unchanged_registry_emits_nothing(shared_connection: DaemonConnection
                                                              ) -> None:
    catalog = CatalogController(shared_connection, SMALL)
    await catalog.refresh()
    changed = Recorder(catalog.changed)
    data = Recorder(catalog.checkpoints.dataChanged)
    reset = Recorder(catalog.checkpoints.modelReset)
    await catalog.refresh()
    await catalog.refresh()
    assert changed.calls == [] and data.calls == [] and reset.calls == []


async def test_a_bad_import_is_a_clear_error(shared_connection: DaemonConnection,
                                             tmp_path: Path) -> None:
    catalog = CatalogController(shared_connection, SMALL)
    with pytest.raises(RemoteError) as refused:
        await catalog.add(str(tmp_path / "missing.safetensors"))
    assert "no such file" in refused.value.message


async def test_import_a_lora_edit_its_metadata_and_preview_it(
        shared_connection: DaemonConnection, shared_daemon: SharedDaemon, tmp_path: Path) -> None:
    catalog = CatalogController(shared_connection, SMALL, previews_dir=tmp_path / "previews")
    await catalog.refresh()
    lora = await catalog.add(str(shared_daemon.paths.models / "demo-lora.safetensors"),
                             model_id="styled")
    assert lora.kind == "lora" and names(catalog.adapters) == ["styled"]
    assert lora.name == "demo-lora"  # the file's name, without ".safetensors"
    assert catalog.adapters.get("styled").name == "demo-lora"  # type: ignore[union-attr]
    row = catalog.adapters.row_of("styled")
    assert catalog.adapters.index(row, 2).data() == "sd15"  # type: ignore[arg-type]

    edits = Recorder(catalog.adapters.dataChanged)
    await catalog.update("styled", trigger_words=["inkwash", "grain"], default_weight=0.6)
    assert len(edits.calls) == 1
    assert catalog.adapters.index(row, 3).data() == "inkwash, grain"  # type: ignore[arg-type]
    assert catalog.adapters.index(row, 4).data() == "0.6"  # type: ignore[arg-type]

    assert catalog.default_for("sd15") is not None
    thumb = await catalog.preview("styled")
    assert (thumb.width(), thumb.height()) == (64, 64)
    icon = catalog.adapters.index(row, 0).data(1)  # type: ignore[arg-type]
    assert (icon.width(), icon.height()) == (48, 48)
    # kept on disk: a new session (the tray restarted) shows it without generating again
    assert (tmp_path / "previews" / "styled.png").is_file()
    again = CatalogController(shared_connection, SMALL, previews_dir=tmp_path / "previews")
    await again.refresh()
    assert again.thumbnails["styled"].width() == 64

    await catalog.remove("styled")
    assert names(catalog.adapters) == []


async def test_a_broken_record_is_named_with_why_and_removed_from_the_models_tab(
        shared_connection: DaemonConnection, shared_daemon: SharedDaemon, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from layerbridge.daemon.engine.registry import Registry
    from layerbridge.desktop import tab_models

    moved = tmp_path / "moved-away"
    shutil.copytree(shared_daemon.paths.models / "demo", moved)
    Registry(shared_daemon.paths).register("moved-away", moved, kind="checkpoint", arch="sd15",
                                           format="diffusers")
    shutil.rmtree(moved)  # its folder moved by hand: the record stays, unservable
    catalog = CatalogController(shared_connection, SMALL)
    tab = tab_models.ModelsTab(catalog)
    await catalog.refresh()
    assert [b.id for b in catalog.broken] == ["moved-away"]
    assert "moved-away" not in names(catalog.checkpoints)
    assert not tab.broken_note.isHidden() and "moved-away" in tab.broken_note.text()

    monkeypatch.setattr(tab_models, "confirm", lambda *a: True)
    tab.remove_broken.click()
    await until(lambda: catalog.broken == [])
    assert tab.broken_note.isHidden() and tab.remove_broken.isHidden()

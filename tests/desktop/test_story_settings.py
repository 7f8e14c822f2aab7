"""A saved setting that stops the daemon from starting is undone by the tray, which says why;
the Settings tab shows the address bound, not only the port saved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from layerbridge.daemon.config import Paths
from layerbridge.desktop.config import TrayConfig
from layerbridge.desktop.core import TrayCore
from layerbridge.desktop.manager import ManagerWindow
from layerbridge.desktop.process import ProcessState
from layerbridge.desktop.traystate import Look

from tests.desktop.conftest import FAST, Recorder, until


@pytest.fixture
def config(tmp_path: Path, paths: Paths, monkeypatch: pytest.MonkeyPatch) -> TrayConfig:
    monkeypatch.setenv("LAYERBRIDGE_TRAY_CONFIG", str(tmp_path / "tray.json"))
    return TrayConfig(data_dir=str(paths.root), welcomed=True)


async def test_a_setting_that_bricks_the_daemon_is_rolled_back_and_explained(
        config: TrayConfig, paths: Paths) -> None:
    core = TrayCore(config, port=0, backoff=FAST, poll_ms=100)
    window = ManagerWindow(core)
    window.show()
    notes = Recorder(core.notify)
    core.start()
    await until(lambda: core.state.status.look is Look.IDLE, timeout=90)
    assert core.process is not None and core.process.url is not None
    # the port shown is the one bound (the tray starts it on a free one), beside the saved one
    await until(lambda: window.settings.bound.text() == core.process.url)  # type: ignore[union-attr]
    await until(lambda: window.settings.port.value() == 7842)
    good = paths.settings.read_bytes() if paths.settings.exists() else b"{}\n"

    # a change saved by hand the daemon cannot start with (a bad value of most fields would only
    # take its default; a studio certificate that is not there stops the start)
    paths.settings.write_text(json.dumps({"server": {"tls_cert": "/nonexistent/studio.pem"}}))
    assert core.restart_daemon()
    await until(lambda: bool(window.settings.status.text()), timeout=90)
    why = window.settings.status.text()
    assert "did not start with the saved settings" in why and "settings.refused.json" in why
    assert paths.settings.read_bytes() == good
    assert "/nonexistent/studio.pem" in (paths.root / "settings.refused.json").read_text()
    assert any(title == "Layerbridge settings restored" for title, _m, _e in notes.calls)
    # and it comes back by itself, on the settings it last started with
    await until(lambda: core.state.status.look is Look.IDLE, timeout=90)
    assert core.process.state is ProcessState.RUNNING
    await core.shutdown(force=True)
    await until(lambda: core.process.state is ProcessState.STOPPED)  # type: ignore[union-attr]
    window.close()

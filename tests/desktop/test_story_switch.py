"""Local and remote, both ways: connecting to a remote daemon stops the local child, the window
names the daemon it manages, Restart never points it back at the local child; switching back
starts the child again. The CLI takes the same choice."""

from __future__ import annotations

from pathlib import Path

import pytest
from layerbridge.daemon.config import Paths
from layerbridge.desktop.app import TrayApp, configure, parse
from layerbridge.desktop.config import TrayConfig, load_config
from layerbridge.desktop.core import TrayCore
from layerbridge.desktop.process import ProcessState
from layerbridge.desktop.traystate import Look

from tests.desktop.conftest import FAST, SharedDaemon, until


async def test_switching_between_the_local_and_a_remote_daemon_both_ways(
        tmp_path: Path, paths: Paths, shared_daemon: SharedDaemon,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERBRIDGE_TRAY_CONFIG", str(tmp_path / "tray.json"))
    core = TrayCore(TrayConfig(data_dir=str(paths.root), welcomed=True), port=0, backoff=FAST,
                    poll_ms=100)
    app = TrayApp(core, show_manager=True)
    window = app.window
    assert window is not None
    core.start()
    await until(lambda: core.state.status.look is Look.IDLE, timeout=90)
    process = core.process
    assert process is not None and process.url is not None
    await until(lambda: process.url in window.windowTitle())
    assert window.windowTitle().startswith("Layerbridge — local:")
    assert "this computer's daemon" in window.target.text()
    assert app.tray.restart.isVisible() and not window.switch_local.isVisible()

    # to the studio's daemon, from the Settings tab as a user would
    settings = window.settings
    settings.remote_url.setText(shared_daemon.url)
    settings.remote_token.setText(shared_daemon.token("studio-tray"))
    settings.remote_connect.click()
    await until(lambda: process.state is ProcessState.STOPPED, timeout=30)  # the child stops
    await until(lambda: core.connection.is_connected and core.connection.url == shared_daemon.url)
    assert window.windowTitle() == f"Layerbridge — remote: {shared_daemon.url}"
    assert f"remote daemon {shared_daemon.url}" in window.target.text()
    assert window.switch_local.isVisible() and not app.tray.restart.isVisible()
    assert load_config().mode == "remote"
    # Restart (from a stale menu or a script) does not re-point this window at the local child
    assert not core.restart_daemon() and not core.start_daemon()
    assert process.state is ProcessState.STOPPED
    assert core.connection.url == shared_daemon.url

    # and back: the child starts and the window manages it again
    window.switch_local.click()
    await until(lambda: core.state.status.look is Look.IDLE and core.connection.url == process.url,
                timeout=90)
    assert process.state is ProcessState.RUNNING
    assert window.windowTitle() == f"Layerbridge — local: {process.url}"
    assert load_config().mode == "local" and load_config().remote_url == shared_daemon.url
    await core.shutdown(force=True)
    await until(lambda: process.state is ProcessState.STOPPED)
    window.close()


def test_the_cli_switches_both_ways() -> None:
    remote = configure(parse(["--remote", "ws://gpu.studio.lan:7842"]), TrayConfig())
    assert (remote.mode, remote.remote_url) == ("remote", "ws://gpu.studio.lan:7842")
    local = configure(parse(["--local"]), remote)
    assert (local.mode, local.remote_url) == ("local", "ws://gpu.studio.lan:7842")
    with pytest.raises(SystemExit):
        parse(["--local", "--remote", "ws://x:1"])
    from layerbridge.daemon.cli import build_parser

    args = build_parser().parse_args(["tray", "--local"])
    assert configure(args, remote).mode == "local"

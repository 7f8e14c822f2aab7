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


PIN = ":".join(["AB"] * 32)


def test_a_tls_fingerprint_on_the_command_line_pins_the_remote_it_comes_with() -> None:
    remote = configure(parse(["--remote", "wss://gpu.studio.lan:7843", "--tls-fingerprint",
                              PIN.replace(":", "").lower()]), TrayConfig())
    assert (remote.mode, remote.remote_url, remote.remote_fingerprint) == (
        "remote", "wss://gpu.studio.lan:7843", PIN)
    again = configure(parse(["--remote", "wss://gpu.studio.lan:7843"]), remote)
    assert again.remote_fingerprint == PIN  # the same daemon: its pin stays
    other = configure(parse(["--remote", "wss://other.studio.lan:7843"]), remote)
    assert other.remote_fingerprint is None  # never another daemon's pin
    renewed = configure(parse(["--tls-fingerprint", "CD" * 32]), remote)
    assert renewed.remote_url == remote.remote_url and renewed.remote_fingerprint == ":".join(["CD"] * 32)


@pytest.mark.parametrize(("argv", "why"), [
    (["--remote", "wss://gpu:7843", "--tls-fingerprint", "abc"], "64 hex digits"),
    (["--remote", "ws://gpu:7842", "--tls-fingerprint", PIN], "needs a wss:// URL"),
    (["--local", "--tls-fingerprint", PIN], "give --remote wss://HOST:PORT too"),
    (["--tls-fingerprint", PIN], "give --remote wss://HOST:PORT too"),
])
def test_a_bad_tls_fingerprint_flag_is_refused_by_name(argv: list[str], why: str) -> None:
    from layerbridge.daemon.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        configure(parse(argv), TrayConfig())
    assert refused.value.field == "tls-fingerprint"
    assert refused.value.message.startswith("tls-fingerprint=") and why in refused.value.message


def test_layerbridge_tray_says_a_bad_fingerprint_in_one_line_before_any_window(
        capsys: pytest.CaptureFixture[str]) -> None:
    from layerbridge.daemon.cli import main

    code = main(["tray", "--remote", "wss://gpu:7843", "--tls-fingerprint", "zz"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1
    assert err[0].startswith("layerbridge: invalid_input: tls-fingerprint='zz'")
    assert load_config().remote_url == ""  # nothing saved

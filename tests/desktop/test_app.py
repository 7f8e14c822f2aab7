"""The tray app as a whole: it starts the daemon and shows it idle, its window has every tab,
crashes are announced, and it never imports torch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from layerbridge.daemon.auth import TokenStore
from layerbridge.daemon.config import Paths
from layerbridge.daemon.protocol.messages import QueueInfo, StatusReply
from layerbridge.desktop.app import TrayApp
from layerbridge.desktop.config import TrayConfig, config_path, load_config, save_config
from layerbridge.desktop.connection import LinkState
from layerbridge.desktop.core import TrayCore
from layerbridge.desktop.icons import pixmap
from layerbridge.desktop.process import ProcessState
from layerbridge.desktop.traystate import Look, TrayStateModel, TrayStatus, compute
from layerbridge.desktop.vault import NO_KEYRING, SERVICE, TRAY_CLIENT, TokenVault, local_admin_token
from PySide6.QtWidgets import QApplication

from tests.conftest import MemoryKeyring
from tests.desktop.conftest import FAST, Recorder, until, wait_for


def test_the_desktop_package_never_imports_torch() -> None:
    code = ("import sys, layerbridge.desktop.app, layerbridge.desktop.manager;"
            "heavy = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules];"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.stdout.strip() == "[]"


@pytest.fixture
def tray_config(tmp_path: Path, paths: Paths, monkeypatch: pytest.MonkeyPatch) -> TrayConfig:
    monkeypatch.setenv("LAYERBRIDGE_TRAY_CONFIG", str(tmp_path / "tray.json"))
    return TrayConfig(data_dir=str(paths.root))


async def test_the_tray_starts_the_daemon_and_shows_it_idle(
        tray_config: TrayConfig, memory_keyring: MemoryKeyring, tmp_path: Path) -> None:
    core = TrayCore(tray_config, port=0, backoff=FAST, poll_ms=100)
    app = TrayApp(core, show_manager=True)
    looks = Recorder(core.state.changed)
    core.start()
    await until(lambda: core.state.status.look is Look.IDLE, timeout=60)
    assert app.tray.icon.toolTip() == "Layerbridge: idle"
    assert [c[0].look for c in looks.calls][:1] == [Look.STARTING]
    window = app.window
    assert window is not None
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [
        "Home", "Models", "LoRAs && embeddings", "Train", "Machine", "Clients", "Jobs", "Logs",
        "Settings"]
    await until(lambda: core.catalog.checkpoints.row_of("demo") is not None)
    await until(lambda: window.settings.port.value() == 7842)  # the saved settings
    # the token is in the keyring, and no file of the tray's holds it
    token = memory_keyring.store[(SERVICE, f"local:{tray_config.data_dir}")]
    save_config(core.settings.config)
    assert token not in (tmp_path / "tray.json").read_text()
    assert app.tray.pause.isEnabled()
    await core.pause_queue(True)
    await until(lambda: core.state.status.paused)
    assert app.tray.icon.toolTip() == "Layerbridge: paused"  # idle and held: not busy
    app.quit()
    await core.shutdown(force=True)
    assert core.process is not None
    await until(lambda: core.process.state is ProcessState.STOPPED)  # type: ignore[union-attr]
    window.close()


async def test_a_revoked_tray_token_shows_an_error_not_starting_forever(tray_config: TrayConfig) -> None:
    core = TrayCore(tray_config, port=0, backoff=FAST, poll_ms=100)
    core.start()
    await until(lambda: core.state.status.look is Look.IDLE, timeout=60)
    store = TokenStore(Paths(Path(tray_config.data_dir or "")).ledger)
    store.revoke(TRAY_CLIENT)  # as `layerbridge pair --revoke tray` would
    store.close()
    await until(lambda: core.state.status.look is Look.ERROR, timeout=20)
    assert "token" in core.state.status.detail
    await core.shutdown(force=True)


async def test_a_crash_is_announced_and_the_daemon_comes_back(tray_config: TrayConfig) -> None:
    core = TrayCore(tray_config, port=0, backoff=FAST, poll_ms=100)
    notes = Recorder(core.notify)
    core.start()
    await until(lambda: core.state.status.look is Look.IDLE, timeout=60)
    assert core.process is not None
    pid = core.process.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await until(lambda: core.state.status.look is Look.ERROR, timeout=10)
    assert "restarting it" in core.state.status.tooltip
    await until(lambda: core.state.status.look is Look.IDLE, timeout=60)
    titles = [c[0] for c in notes.calls]
    assert titles == ["Layerbridge daemon died", "Layerbridge restarted"]
    await core.shutdown(force=True)


def test_the_state_shown_follows_process_link_and_queue() -> None:
    def status(queued: int, running: int) -> StatusReply:
        return StatusReply(version="1", loaded=[], clients=1,
                           queue=QueueInfo(queued=queued, running=running))

    connected = LinkState.CONNECTED
    assert compute(ProcessState.STOPPED, LinkState.DISCONNECTED, None).look is Look.STOPPED
    assert compute(ProcessState.STARTING, LinkState.CONNECTING, None).look is Look.STARTING
    assert compute(ProcessState.RUNNING, connected, status(0, 0)).look is Look.IDLE
    busy = compute(ProcessState.RUNNING, connected, status(2, 1))
    assert (busy.look, busy.queue, busy.tooltip) == (Look.BUSY, 3, "Layerbridge: busy (3 jobs)")
    assert compute(ProcessState.FAILED, LinkState.DISCONNECTED, None).look is Look.ERROR
    assert compute(None, connected, status(0, 1)).look is Look.BUSY  # a remote daemon
    # a running local daemon that refused the tray's token: an error to act on, not "starting"
    refused = compute(ProcessState.RUNNING, LinkState.DISCONNECTED, None, "token refused", refused=True)
    assert (refused.look, refused.detail) == (Look.ERROR, "token refused")
    model = TrayStateModel()
    changes = Recorder(model.changed)
    for _ in range(3):
        model.update(ProcessState.RUNNING, connected, status(0, 0))
    assert len(changes.calls) == 1


def test_each_state_has_its_own_icon() -> None:
    QApplication.instance() or QApplication([])
    images = {look: pixmap(TrayStatus(look, queue=2)).toImage() for look in Look}
    assert len({img.pixel(32, 8) for img in images.values()}) == len(Look)
    assert pixmap(TrayStatus(Look.BUSY, queue=2)).toImage() != pixmap(
        TrayStatus(Look.BUSY, queue=5)).toImage()


def test_without_a_keyring_the_token_stays_in_memory_and_the_ui_says_why(
        paths: Paths, no_keyring: None) -> None:
    vault = TokenVault()
    assert not vault.available() and vault.explanation == NO_KEYRING
    token = local_admin_token(paths, vault)
    assert local_admin_token(paths, vault) == token  # reused while the tray runs
    assert local_admin_token(paths, TokenVault()) != token  # a new start pairs again
    assert not (paths.root / "cli-token").exists()
    assert not any(token in p.read_text(errors="ignore") for p in paths.root.rglob("*.json"))


def test_the_tray_config_holds_no_secret(tmp_path: Path) -> None:
    path = tmp_path / "tray.json"
    save_config(TrayConfig(mode="remote", remote_url="ws://gpu:7842"), path)
    assert set(json.loads(path.read_text())) == {
        "mode", "data_dir", "remote_url", "remote_fingerprint", "start_daemon", "autostart",
        "notify", "welcomed"}
    assert load_config(path).remote_url == "ws://gpu:7842"
    assert load_config(tmp_path / "missing.json") == TrayConfig()


async def test_a_remote_daemon_token_goes_to_the_keyring(
        tray_config: TrayConfig, memory_keyring: MemoryKeyring, local_daemon) -> None:  # type: ignore[no-untyped-def]
    from tests.desktop.conftest import admin_token

    remote = TrayCore(TrayConfig(mode="remote"), poll_ms=100)
    assert remote.process is None
    token = admin_token(Paths(local_daemon.data_dir), "studio-tray")
    assert remote.connect_remote(local_daemon.url, token)
    await wait_for(remote.connection.connected, timeout=20)
    assert memory_keyring.store[(SERVICE, f"remote:{local_daemon.url}")] == token
    saved = load_config()  # the next launch connects to the same daemon
    assert (saved.mode, saved.remote_url) == ("remote", local_daemon.url)
    assert token not in config_path().read_text()
    await until(lambda: remote.state.status.look is Look.IDLE)
    await remote.shutdown()


async def test_choosing_a_remote_daemon_keeps_the_other_preferences(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERBRIDGE_TRAY_CONFIG", str(tmp_path / "tray.json"))
    core = TrayCore(TrayConfig(mode="remote"), poll_ms=100)
    core.settings.set_data_dir("/srv/lb")  # the Settings tab, earlier in this session
    core.connect_remote("ws://127.0.0.1:9", "lb_nope")
    saved = load_config()
    assert (saved.mode, saved.remote_url, saved.data_dir) == ("remote", "ws://127.0.0.1:9", "/srv/lb")
    assert core.config == core.settings.config == saved
    await core.shutdown()


def test_layerbridge_tray_takes_its_options_from_the_cli() -> None:
    from layerbridge.daemon.cli import build_parser
    from layerbridge.desktop.app import configure

    args = build_parser().parse_args(["--data-dir", "/srv/lb", "tray", "--remote",
                                      "ws://gpu.studio.lan:7842", "--no-start", "--show"])
    assert args.run.__name__ == "_tray" and args.show
    config = configure(args, TrayConfig())
    assert (config.mode, config.remote_url, config.start_daemon, config.data_dir) == (
        "remote", "ws://gpu.studio.lan:7842", False, "/srv/lb")

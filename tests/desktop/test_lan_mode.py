"""The tray and a local daemon in LAN mode: the child speaks wss://, and the tray connects to it
pinned to the certificate the child wrote in its runtime file."""

from __future__ import annotations

import json
import socket

import pytest
from layerbridge.daemon.config import Paths
from layerbridge.daemon.runtime import read_runtime
from layerbridge.desktop.connection import DaemonConnection, LinkState
from layerbridge.desktop.process import DaemonProcess

from tests.desktop.conftest import FAST, admin_token, until, wait_for

LAN_HOST = "127.0.0.2"


def can_bind(host: str) -> bool:
    try:
        with socket.socket() as s:
            s.bind((host, 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not can_bind(LAN_HOST), reason=f"{LAN_HOST} cannot be bound here")
async def test_the_tray_reaches_its_lan_mode_child_over_pinned_wss(paths: Paths) -> None:
    paths.settings.write_text(json.dumps({"server": {"host": LAN_HOST, "allowed_hosts": [LAN_HOST]}}))
    process = DaemonProcess(paths.root, port=0, backoff=FAST)
    process.start()
    try:
        await wait_for(process.ready, timeout=60)
        assert process.url is not None and process.url.startswith(f"wss://{LAN_HOST}:")
        running = read_runtime(paths)
        assert running is not None and running.tls_fingerprint
        unpinned = DaemonConnection(poll_ms=200)
        unpinned.open(running.local_url, admin_token(paths, "tray-unpinned"))
        await until(lambda: "tls" in unpinned.last_error.lower() or "certificate" in unpinned.last_error)
        assert unpinned.state is not LinkState.CONNECTED
        await unpinned.close()
        pinned = DaemonConnection(poll_ms=200)
        pinned.open(running.local_url, admin_token(paths), tls_fingerprint=running.tls_fingerprint)
        await wait_for(pinned.connected, timeout=20)
        await pinned.close()
    finally:
        process.stop(force=True)
        await until(lambda: process.state.value == "stopped", timeout=20)


@pytest.mark.skipif(not can_bind(LAN_HOST), reason=f"{LAN_HOST} cannot be bound here")
async def test_a_remote_lan_daemon_is_pinned_and_its_fingerprint_shown_for_pairing(
        paths: Paths) -> None:
    from layerbridge.desktop.config import TrayConfig
    from layerbridge.desktop.core import TrayCore
    from layerbridge.desktop.manager import ManagerWindow
    from PySide6.QtWidgets import QApplication

    paths.settings.write_text(json.dumps({"server": {"host": LAN_HOST, "allowed_hosts": [LAN_HOST]}}))
    process = DaemonProcess(paths.root, port=0, backoff=FAST)
    process.start()
    core = TrayCore(TrayConfig(mode="remote", welcomed=True), poll_ms=200)
    window = ManagerWindow(core)
    try:
        await wait_for(process.ready, timeout=60)
        running = read_runtime(paths)
        assert running is not None and running.tls_fingerprint
        settings = window.settings
        settings.remote_url.setText(running.local_url)
        settings.remote_token.setText(admin_token(paths, "studio-tray"))
        settings.remote_fingerprint.setText(running.tls_fingerprint.replace(":", "").lower())
        settings.remote_connect.click()
        await wait_for(core.connection.connected, timeout=20)
        assert core.config.remote_fingerprint == running.tls_fingerprint  # kept for next launch
        panel = window.clients.connect_panel
        await until(lambda: panel.fingerprint.text() == running.tls_fingerprint)
        assert not panel.fingerprint.isHidden()  # shown with its copy button (over TLS only)
        panel.copy_fingerprint.click()
        assert QApplication.clipboard().text() == running.tls_fingerprint
        settings.remote_token.setText("lb_anything")
        settings.remote_fingerprint.setText("not a fingerprint")
        settings.remote_connect.click()
        assert "SHA-256" in settings.status.text()
    finally:
        window.close()
        await core.shutdown()
        process.stop(force=True)
        await until(lambda: process.state.value == "stopped", timeout=20)


@pytest.mark.skipif(not can_bind(LAN_HOST), reason=f"{LAN_HOST} cannot be bound here")
async def test_tray_remote_takes_the_servers_fingerprint_on_the_command_line(paths: Paths) -> None:
    from layerbridge.daemon.cli import build_parser
    from layerbridge.desktop.app import configure
    from layerbridge.desktop.config import TrayConfig
    from layerbridge.desktop.core import TrayCore
    from layerbridge.desktop.vault import TokenVault, remote_account

    paths.settings.write_text(json.dumps({"server": {"host": LAN_HOST, "allowed_hosts": [LAN_HOST]}}))
    process = DaemonProcess(paths.root, port=0, backoff=FAST)
    process.start()
    core = None
    try:
        await wait_for(process.ready, timeout=60)
        running = read_runtime(paths)
        assert running is not None and running.tls_fingerprint
        bare = running.tls_fingerprint.replace(":", "").lower()  # as openssl prints it, say
        args = build_parser().parse_args(["tray", "--remote", running.local_url,
                                          "--tls-fingerprint", bare])
        config = configure(args, TrayConfig(welcomed=True))
        assert config.remote_fingerprint == running.tls_fingerprint  # canonical, saved
        TokenVault().set(remote_account(running.local_url), admin_token(paths, "studio-tray"))
        core = TrayCore(config, poll_ms=200)
        core.start()  # what `layerbridge tray` does next
        await wait_for(core.connection.connected, timeout=20)
        assert core.connection.url == running.local_url
    finally:
        if core is not None:
            await core.shutdown()
        process.stop(force=True)
        await until(lambda: process.state.value == "stopped", timeout=20)

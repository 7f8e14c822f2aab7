"""Pairing a panel from the Clients tab: the daemon's address with a copy button and the steps
for Photoshop and Figma; the token works for a real client, which then shows up live; a bad
name is a clear message; the tray's own client is not revoked."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from layerbridge.daemon.client import DaemonClient
from layerbridge.desktop.config import TrayConfig
from layerbridge.desktop.core import TrayCore
from layerbridge.desktop.manager import ManagerWindow
from layerbridge.desktop.tab_clients import TokenDialog
from PySide6.QtWidgets import QApplication

from tests.desktop.conftest import SharedDaemon, until, wait_for


@pytest.fixture
async def window(shared_daemon: SharedDaemon) -> AsyncIterator[ManagerWindow]:
    core = TrayCore(TrayConfig(mode="remote", welcomed=True), poll_ms=100)
    core.clients._timer.setInterval(60_000)  # live by the connection count alone, here
    core.connect_remote(shared_daemon.url, shared_daemon.token("pair-story"))
    await wait_for(core.connection.connected, timeout=20)
    win = ManagerWindow(core)
    win.show()
    yield win
    win.close()
    await core.shutdown()


async def test_pair_and_connect_a_panel(window: ManagerWindow, shared_daemon: SharedDaemon) -> None:
    window.show_connect()
    tab = window.clients
    panel = tab.connect_panel
    assert window.tabs.currentWidget() is tab
    assert panel.address.text() == shared_daemon.url
    panel.copy_address.click()
    assert QApplication.clipboard().text() == shared_daemon.url
    text = panel.howto.text()
    assert "Photoshop" in text and "Figma" in text and "Import plugin from manifest" in text
    assert not panel.fingerprint.isVisibleTo(window)  # plain ws:// on loopback: no certificate

    tab.pair("photoshop anna!")
    assert "cannot pair that name" in tab.status.text() and "letters, digits" in tab.status.text()
    assert "pydantic" not in tab.status.text()

    tab.pair("photoshop-anna")
    await until(lambda: window.findChild(TokenDialog) is not None)
    dialog = window.findChild(TokenDialog)
    assert dialog is not None
    token = dialog.token.text()
    await until(lambda: tab.clients.table.get("photoshop-anna") is not None)
    assert tab.clients.table.get("photoshop-anna").last_seen is None  # type: ignore[union-attr]
    async with await DaemonClient.connect(shared_daemon.url, token, name="Layerbridge",
                                          kind="photoshop"):
        # no Refresh: the number of connections changed, so the list came again
        await until(lambda: tab.clients.table.get("photoshop-anna").last_seen is not None,  # type: ignore[union-attr]
                    timeout=20)
        row = tab.clients.table.row_of("photoshop-anna")
        assert row is not None
        assert tab.clients.table.index(row, 4).data() == "just now"
        assert tab.clients.table.index(row, 3).data() == "now"  # connected at this moment
    # it left: the list follows without a Refresh
    await until(lambda: tab.clients.table.get("photoshop-anna").connected == 0,  # type: ignore[union-attr]
                timeout=20)
    dialog.close()


async def test_the_trays_own_client_is_not_revoked(window: ManagerWindow) -> None:
    tab = window.clients
    tab.clients.own_name = "pair-story"  # as the local tray knows its own name
    asked: list[str] = []
    tab.revoke_client("pair-story", ask=lambda text: asked.append(text) or True)
    await until(lambda: "not revoked" in tab.status.text())
    assert asked == [] and "this app's own admin client" in tab.status.text()
    assert window.core.connection.is_connected

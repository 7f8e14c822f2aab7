"""The manager window's widgets over a real daemon: what a user clicks, and what it shows."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from layerbridge.desktop.config import TrayConfig
from layerbridge.desktop.core import TrayCore
from layerbridge.desktop.manager import ManagerWindow
from layerbridge.desktop.tab_clients import TokenDialog
from PySide6.QtWidgets import QApplication

from tests.desktop.conftest import SharedDaemon, until, wait_for


@pytest.fixture
async def window(shared_daemon: SharedDaemon) -> AsyncIterator[ManagerWindow]:
    core = TrayCore(TrayConfig(mode="remote"), poll_ms=100)
    core.connect_remote(shared_daemon.url, shared_daemon.token("widgets"))
    await wait_for(core.connection.connected, timeout=20)
    win = ManagerWindow(core)
    win.show()
    yield win
    win.close()
    await core.shutdown()


async def test_pairing_shows_the_token_once_with_a_copy_button(window: ManagerWindow) -> None:
    tab = window.clients
    tab.pair("figma-bob")
    await until(lambda: window.findChild(TokenDialog) is not None)
    dialog = window.findChild(TokenDialog)
    assert dialog is not None
    token = dialog.token.text()
    assert token.startswith("lb_") and dialog.token.isReadOnly()
    dialog.copy.click()
    assert QApplication.clipboard().text() == token
    await until(lambda: tab.clients.table.row_of("figma-bob") is not None)
    assert "paired figma-bob" in tab.status.text()
    dialog.close()


async def test_every_tab_shows_the_daemon(window: ManagerWindow) -> None:
    core = window.core
    await until(lambda: core.catalog.checkpoints.row_of("demo") is not None)
    assert window.models.view.model().rowCount() >= 1
    await until(lambda: window.gpu.device.text() not in ("", "not connected"))
    await until(lambda: window.settings.port.value() == 7842)
    assert window.settings.loopback.isChecked() and not window.settings.confirm.isEnabled()
    window.settings.lan.setChecked(True)
    assert window.settings.confirm.isEnabled() and window.settings.hosts.isEnabled()
    assert "busy" in window.state_label.text() or "idle" in window.state_label.text()


async def test_a_reload_after_a_reconnect_keeps_the_users_unsaved_edits(window: ManagerWindow) -> None:
    settings = window.settings
    await until(lambda: settings.port.value() == 7842)
    settings.port.setValue(9100)  # the designer is typing when the daemon comes back
    await window.core.settings.load()  # what every reconnect does
    assert settings.port.value() == 9100 and "edits are kept" in settings.status.text()
    settings.port.setValue(7842)  # edited back to what the daemon has: reloads apply again
    settings.origins.setPlainText("https://studio.example")
    settings.save.click()  # saving shows what the daemon stored
    await until(lambda: settings.status.text().startswith("saved"))
    await window.core.settings.load()
    assert settings.origins.toPlainText() == "https://studio.example"
    assert settings.status.text().startswith("saved")
    gpu = window.gpu
    await until(lambda: window.core.gpu.settings is not None)  # the form shows the daemon's values
    await until(lambda: gpu.dtype.currentText() != "")
    shown = gpu.dtype.currentText()
    gpu.budget.setValue(4096)
    await window.core.gpu.load_settings()
    # the reload above brought nothing new; another admin's change does reach the form's guard
    other = "fp32" if shown != "fp32" else "fp16"
    await window.core.gpu.save_engine(dtype=other, memory_budget_mb=None)
    assert gpu.budget.value() == 4096 and gpu.dtype.currentText() == shown
    assert "edits are kept" in gpu.status.text()
    await window.core.gpu.save_engine(dtype=shown, memory_budget_mb=None)


async def test_cancel_on_a_finished_job_says_there_is_nothing_to_cancel(
        window: ManagerWindow, shared_daemon: SharedDaemon) -> None:
    from layerbridge.daemon.client import DaemonClient
    from layerbridge.daemon.protocol.messages import JobParams

    async with await DaemonClient.connect(shared_daemon.url, shared_daemon.token("ps-cancel"),
                                          kind="photoshop") as ps:
        job = await (await ps.submit(JobParams(kind="generate", model="demo", steps=1,
                                               width=64, height=64))).wait()
    jobs = window.jobs
    await until(lambda: (row := jobs.jobs.table.get(job.job_id)) is not None and row.state == "done")
    jobs.view.selectRow(jobs.jobs.table.row_of(job.job_id) or 0)
    jobs.cancel.click()
    assert jobs.status.text() == f"{job.job_id[:8]} is done already: nothing to cancel"

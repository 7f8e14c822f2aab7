"""A daemon that cannot start: the notice quotes its own error, and the Logs tab shows it,
filtered to errors, with the folder one click away."""

from __future__ import annotations

from pathlib import Path

import pytest
from layerbridge.daemon.config import Paths
from layerbridge.desktop.config import TrayConfig
from layerbridge.desktop.core import TrayCore
from layerbridge.desktop.manager import ManagerWindow
from layerbridge.desktop.process import LOG_BYTES, ProcessState
from PySide6.QtCore import QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices

from tests.desktop.conftest import FAST, Recorder, until


class FileManager(QObject):
    """Stands in for the desktop's file manager: Qt hands it the file:// URLs to open."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.opened.append(url.toLocalFile())


async def test_a_crash_is_read_in_the_log_with_the_daemons_own_error(
        tmp_path: Path, paths: Paths, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERBRIDGE_TRAY_CONFIG", str(tmp_path / "tray.json"))
    paths.ledger.write_bytes(b"this is not a database" * 100)  # the daemon fails as it opens it
    core = TrayCore(TrayConfig(data_dir=str(paths.root), welcomed=True), port=0, backoff=FAST)
    window = ManagerWindow(core)
    window.show()
    notes = Recorder(core.notify)
    core.start()
    assert core.process is not None
    await until(lambda: core.process.state is ProcessState.FAILED, timeout=180)  # type: ignore[union-attr]
    died = [message for title, message, _e in notes.calls if title == "Layerbridge daemon died"]
    assert died and all("[tray]" not in m for m in died)
    assert "not a database" in died[-1]

    logs = window.logs
    window.tabs.setCurrentWidget(logs)
    logs.level.setCurrentIndex(logs.level.findData("ERROR"))
    shown = logs.shown()
    assert shown and any("not a database" in line for line in shown)
    assert not any(line.startswith("[tray] starting") for line in shown)
    logs.search.setText("Traceback")
    assert logs.shown() and all("Traceback" in line for line in logs.shown())

    files = FileManager()
    QDesktopServices.setUrlHandler("file", files, "open")
    try:
        logs.open_button.click()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert files.opened == [str(paths.logs)] and "opened" in logs.status.text()
    (paths.logs / "gone").mkdir()
    (paths.logs / "gone").rmdir()
    await core.shutdown(force=True)
    window.close()


def test_the_console_log_rotates(paths: Paths) -> None:
    from layerbridge.desktop.process import DaemonProcess

    process = DaemonProcess(paths.root)
    line = "x" * 1000
    for _ in range(LOG_BYTES // 1000 + 50):
        process._note(line)
    process.close_log()
    log = process.log_file
    assert log.with_name(log.name + ".1").exists() and log.stat().st_size < LOG_BYTES


def test_open_folder_says_so_when_nothing_opened(tmp_path: Path) -> None:
    from layerbridge.desktop.widgets import StatusLine, open_folder

    line = StatusLine()
    assert not open_folder(line, tmp_path / "missing")
    assert "does not exist" in line.text()

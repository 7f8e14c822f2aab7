"""A newcomer's first launch, on real widgets and a real daemon: a window says what Layerbridge
is and shows the daemon starting; with no model, the Home tab offers the demo models; building
them (a child process) fills the catalogue without a refresh; a test image comes back."""

from __future__ import annotations

from pathlib import Path

import pytest
from layerbridge.daemon.config import Paths
from layerbridge.daemon.protocol.messages import JobParams
from layerbridge.desktop.app import TrayApp
from layerbridge.desktop.catalog import PreviewSettings
from layerbridge.desktop.config import TrayConfig, load_config
from layerbridge.desktop.core import TrayCore
from layerbridge.desktop.traystate import Look
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.desktop.conftest import FAST, until


@pytest.fixture
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Paths:
    monkeypatch.setenv("LAYERBRIDGE_TRAY_CONFIG", str(tmp_path / "tray.json"))
    return Paths(tmp_path / "fresh").ensure()


async def test_first_launch_goes_from_an_empty_data_dir_to_an_image(empty_home: Paths) -> None:
    core = TrayCore(TrayConfig(data_dir=str(empty_home.root)), port=0, backoff=FAST, poll_ms=100,
                    preview=PreviewSettings(width=64, height=64, steps=2))
    app = TrayApp(core)  # no --show: the first launch opens the window by itself
    window = app.window
    assert window is not None and window.tabs.currentWidget() is window.home
    assert load_config().welcomed  # the next launch starts in the tray
    home = window.home
    core.start()
    assert "Layerbridge runs diffusion models" in home.what.text()
    await until(lambda: "starting" in home.daemon.text())
    await until(lambda: core.state.status.look is Look.IDLE, timeout=90)
    await until(lambda: home.demo.isEnabled())
    assert home.empty.isVisibleTo(window) and not home.ready.isVisibleTo(window)
    assert str(empty_home.models) in home.where.text()  # where models live

    home.build_demo()  # `layerbridge models demo` in a child process
    await until(lambda: home.command is not None and not home.command.running, timeout=240)
    # no Refresh pressed: the registry folder's watch brought the new models in
    await until(lambda: core.catalog.checkpoints.row_of("demo") is not None, timeout=20)
    await until(lambda: home.ready.isVisibleTo(window))
    assert "built demo" in home.get_status.text() or "built" in " ".join(home.command.lines)

    home.test.click()
    await until(lambda: home.image.pixmap() is not None and not home.image.pixmap().isNull(),
                timeout=60)
    assert "it works" in home.test_status.text()

    # quitting with work queued asks first; Cancel keeps everything running
    await core.pause_queue(True)
    await core.connection.submit(JobParams(kind="generate", model="demo", steps=1, width=64,
                                           height=64))
    await until(lambda: core.active_jobs() == 1)
    asked: list[str] = []

    def answer() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        asked.append(box.text())
        box.button(QMessageBox.StandardButton.Cancel).click()

    # from the event loop, as the menu calls it (a modal dialog must not run inside a task)
    quit_answer: list[bool] = []
    QTimer.singleShot(0, lambda: quit_answer.append(app.ask_quit()))
    QTimer.singleShot(300, answer)
    await until(lambda: bool(quit_answer), timeout=20)
    assert quit_answer == [False] and not app.quitting.is_set()
    assert "1 job is queued or running" in asked[0]
    app.quit()
    await core.shutdown(force=True)
    window.close()


async def test_a_hugging_face_download_that_fails_says_why(empty_home: Paths,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # no hub here: the real child fails at once
    core = TrayCore(TrayConfig(data_dir=str(empty_home.root), start_daemon=False))
    app = TrayApp(core)
    assert app.window is not None
    home = app.window.home
    home.download_hf("not an id")
    assert "organisation/name" in home.get_status.text()
    home.download_hf("layerbridge-test/does-not-exist")
    assert home.command is not None and home.cancel.isEnabled()
    await until(lambda: not home.command.running, timeout=120)  # type: ignore[union-attr]
    assert home.get_status.text().startswith("failed:")
    assert "layerbridge-test/does-not-exist" in home.get_status.text()
    assert not home.cancel.isEnabled() and home.progress.isHidden()

    home.build_demo()
    assert home.command is not None and home.command.running
    home.cancel.click()
    await until(lambda: not home.command.running, timeout=30)  # type: ignore[union-attr]
    assert home.get_status.text() == "cancelled"
    app.window.close()

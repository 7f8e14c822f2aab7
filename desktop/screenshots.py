"""Render every tab of the manager window, and the tray icon with its menu, to PNG — with real
data: a demo data dir, a real daemon child, paired clients, jobs from a "plugin".

    QT_QPA_PLATFORM=offscreen python -m layerbridge.desktop.screenshots --out docs/desktop

Runs offscreen (widgets `grab()` themselves) or under Xvfb; builds the demo models when the data
dir has none, from the Home tab as a user would (that step imports torch in a child process,
never in this one)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
from pathlib import Path

from layerbridge.daemon.client import DaemonClient, RemoteError
from layerbridge.daemon.protocol.messages import JobParams, LoraSpec
from layerbridge.daemon.protocol.vocab import JobKind
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QWidget

from .catalog import PreviewSettings
from .config import TrayConfig
from .core import TrayCore
from .icons import pixmap
from .manager import ManagerWindow
from .process import ProcessState
from .tray import TrayIcon
from .traystate import Look, TrayStatus

PROMPTS = [
    ("a paper lantern festival at dusk, ink wash", 11),
    ("brutalist concrete house in a pine forest", 12),
    ("product shot of a ceramic mug, soft light", 13),
    ("isometric city block, pastel palette", 14),
]


async def _until(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError("the daemon did not get there in time")
        await asyncio.sleep(0.05)


async def _settle(ms: int = 300) -> None:
    await asyncio.sleep(ms / 1000)  # the Qt loop runs meanwhile: layout, paint, replies


def _save(widget: QWidget, path: Path) -> None:
    widget.grab().save(str(path))
    print(f"wrote {path}", flush=True)


async def populate(core: TrayCore) -> None:
    """Clients, jobs and LoRA metadata, the way a studio's week leaves them."""
    for name, admin in (("photoshop-anna", False), ("figma-studio", False), ("render-box", True)):
        with contextlib.suppress(RemoteError):  # already paired on an earlier run
            await core.clients.pair(name, admin=admin)
    token = await core.clients.pair(f"photoshop-{len(core.clients.table.records())}")
    url = core.connection.url
    assert url is not None
    async with await DaemonClient.connect(url, token, name="Photoshop", kind="photoshop") as ps:
        for prompt, seed in PROMPTS:
            job = await ps.submit(JobParams(kind=JobKind.GENERATE, model="demo", prompt=prompt,
                                            seed=seed, steps=8, width=128, height=128))
            await job.wait()
        bad = await ps.submit(JobParams(kind=JobKind.GENERATE, model="demo", prompt="poster, xl style",
                                        steps=4, width=64, height=64,
                                        loras=[LoraSpec(id="demo-xl-lora")]))
        with contextlib.suppress(RemoteError):
            await bad.wait()
        if core.catalog.adapters.get("demo-lora") is not None:
            await core.catalog.update("demo-lora", name="Ink wash style",
                                      trigger_words=["inkwash", "sumi-e"], default_weight=0.8)
            await core.catalog.preview("demo-lora")
        await core.pause_queue(True)  # two jobs stay queued for the picture
        queued = [await ps.submit(JobParams(kind=JobKind.GENERATE, model="demo", prompt=p, steps=8,
                                            width=128, height=128))
                  for p in ("storyboard frame, rain on glass", "logo mark, flat vector")]
        await core.clients.refresh()
    await _until(lambda: all(core.jobs.table.get(j.job_id) is not None
                             for j in queued))
    await core.gpu.load_settings()
    await core.settings.load()


def tray_picture(tray: TrayIcon) -> QPixmap:
    """The icon in each state, and the menu as it opens (a tray has no window to grab)."""
    menu = tray.menu.grab()
    states = [TrayStatus(Look.STOPPED), TrayStatus(Look.STARTING), TrayStatus(Look.IDLE),
              TrayStatus(Look.BUSY, queue=3), TrayStatus(Look.ERROR)]
    width = max(menu.width(), 5 * 96) + 32
    out = QPixmap(width, menu.height() + 140)
    out.fill(QColor("#f4f5f7"))
    p = QPainter(out)
    font = QFont()
    font.setPixelSize(12)
    p.setFont(font)
    for i, status in enumerate(states):
        x = 16 + i * 96
        p.drawPixmap(x + 24, 16, pixmap(status, 48))
        p.drawText(x, 72, 96, 40, Qt.AlignmentFlag.AlignHCenter,
                   status.tooltip.splitlines()[0].replace("Layerbridge: ", ""))
    p.drawPixmap(QPoint(16, 124), menu)
    p.end()
    return out


async def shoot(out: Path, data: Path) -> None:
    """Each user story's states, in order: first launch (empty, then a first image), every tab
    with a week's data, a bad setting rolled back, a crash read in the log, a remote window."""
    out.mkdir(parents=True, exist_ok=True)
    core = TrayCore(TrayConfig(data_dir=str(data), welcomed=True), port=0, poll_ms=250,
                    preview=PreviewSettings(width=128, height=128, steps=8))
    window = ManagerWindow(core)
    window.resize(980, 660)
    window.show()
    core.start()
    try:
        await _until(lambda: core.state.status.look is Look.STARTING, timeout=30)
        await _settle(300)
        _save(window, out / "home-starting.png")
        await _until(lambda: core.state.status.look is Look.IDLE, timeout=120)
        home = window.home
        if core.catalog.checkpoints.row_of("demo") is None:
            await _settle(400)
            _save(window, out / "home-empty.png")
            home.build_demo()
            await _until(lambda: core.catalog.checkpoints.row_of("demo") is not None, timeout=300)
        home.generate_test()
        await _until(lambda: "it works" in home.test_status.text(), timeout=60)
        await _settle(300)
        _save(window, out / "home.png")

        await populate(core)
        tray = TrayIcon(core)
        await _settle(800)
        shots = [("models", window.models), ("loras", window.adapters), ("gpu", window.gpu),
                 ("clients", window.clients), ("jobs", window.jobs), ("settings", window.settings)]
        for name, tab in shots:
            window.tabs.setCurrentWidget(tab)
            if name == "models":
                window.models.view.selectRow(0)
            if name == "loras":
                window.adapters.select("demo-lora")
            if name == "jobs":
                window.jobs.view.selectRow(0)
            await _settle(400)
            _save(window, out / f"{name}.png")
        tray_picture(tray).save(str(out / "tray.png"))
        print(f"wrote {out / 'tray.png'}")
        await core.pause_queue(False)
        await _until(lambda: core.active_jobs() == 0, timeout=120)
        await train_picture(core, window, out)

        # a bad setting: the daemon cannot start with it, the tray puts the last good one back
        paths = core.paths
        assert paths is not None
        paths.settings.write_text('{"server": {"host": "not a host!!"}}')
        restored: list[str] = []
        core.settingsRestored.connect(restored.append)
        core.restart_daemon()
        await _until(lambda: bool(restored), timeout=120)
        await _until(lambda: core.state.status.look is Look.IDLE, timeout=120)
        window.tabs.setCurrentWidget(window.settings)
        await _settle(400)
        _save(window, out / "settings-restored.png")
        window.tabs.setCurrentWidget(window.logs)
        window.logs.level.setCurrentIndex(window.logs.level.findData("WARNING"))
        await _settle(400)
        _save(window, out / "logs.png")

        await remote_picture(core, out)
        window.close()
    finally:
        await core.shutdown(force=True)
        process = core.process
        if process is not None:
            await _until(lambda: process.state is ProcessState.STOPPED, timeout=20)


async def train_picture(core: TrayCore, window: ManagerWindow, out: Path) -> None:
    """The Train tab after a short run on the week's own images."""
    folder = Path(tempfile.mkdtemp(prefix="layerbridge-train-")) / "festival set"
    folder.mkdir()
    done = [r for r in core.jobs.table.records() if r.state == "done" and r.results][:4]
    for i, row in enumerate(done):
        (folder / f"shot-{i}.png").write_bytes(await core.connection.blob(row.results[0]))
    (folder / "shot-0.txt").write_text("{trigger} lantern festival at dusk, ink wash")
    tab = window.train
    window.tabs.setCurrentWidget(tab)
    tab.trigger.setText("lbfest")
    tab.folder.setText(str(folder))
    tab.read_folder()
    await _until(lambda: tab.list.count() == len(done))
    tab.steps.setValue(30)
    tab.rank.setValue(4)
    tab.resolution.setValue(64)
    tab.sample_every.setValue(10)
    tab.start_training()
    await _until(lambda: core.training.run is not None and core.training.run.state == "done",
                 timeout=600)
    await _settle(800)
    _save(window, out / "train.png")


async def remote_picture(local: TrayCore, out: Path) -> None:
    """A second window managing the same daemon as a remote one, as a studio admin's would."""
    url = local.connection.url
    assert url is not None
    with contextlib.suppress(RemoteError):
        await local.clients.revoke("studio-admin")
    token = await local.clients.pair("studio-admin", admin=True)
    remote = TrayCore(TrayConfig(mode="remote", remote_url=url, welcomed=True), poll_ms=250)
    remote.connect_remote(url, token)
    try:
        await _until(lambda: remote.state.status.look is Look.IDLE, timeout=30)
        window = ManagerWindow(remote)
        window.resize(980, 660)
        window.show()
        window.show_connect()
        await _settle(600)
        _save(window, out / "remote.png")
        window.close()
    finally:
        await remote.shutdown()


def main(argv: list[str] | None = None) -> int:
    import qasync

    p = argparse.ArgumentParser(prog="python -m layerbridge.desktop.screenshots")
    p.add_argument("--out", default="docs/desktop", help="folder for the PNGs")
    p.add_argument("--data-dir", help="a data dir with the demo models (default: a new one)")
    args = p.parse_args(argv)
    # a new data dir: the pictures start at the first launch (the Home tab builds the demo)
    data = Path(args.data_dir or tempfile.mkdtemp(prefix="layerbridge-shots-"))
    os.environ.setdefault("LAYERBRIDGE_TRAY_CONFIG", str(data / "tray.json"))  # not the user's
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)  # closing the window must not stop the loop
    loop = qasync.QEventLoop(app)
    with loop:
        loop.run_until_complete(shoot(Path(args.out), data))
    # every picture is written; PySide6 can crash collecting Qt objects at interpreter exit
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())

"""Desktop fixtures: asyncio tests run on a qasync loop (Qt and asyncio in one thread, as in the
app), an in-memory keyring, and a real `layerbridge serve` child process on a demo data dir."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import qasync
from layerbridge.daemon.auth import TokenStore
from layerbridge.daemon.config import Paths
from layerbridge.desktop.connection import DaemonConnection
from layerbridge.desktop.process import Backoff, DaemonProcess
from PySide6.QtCore import QObject, SignalInstance
from PySide6.QtWidgets import QApplication

from tests.conftest import MemoryKeyring


def _qt_app() -> QApplication:
    app = QApplication.instance()
    app = app if isinstance(app, QApplication) else QApplication([])
    app.setQuitOnLastWindowClosed(False)  # as in the tray app: closing a window stops no loop
    return app


def _qasync_loop() -> asyncio.AbstractEventLoop:
    loop = qasync.QEventLoop(_qt_app())
    # qasync's default executor runs to_thread work on QThreads, which crash when collected
    # after the loop is gone; plain threads are joined at close.
    loop.set_default_executor(ThreadPoolExecutor(max_workers=4))
    return loop


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item
                                  ) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"qasync": _qasync_loop}


@pytest.fixture(autouse=True)
def _private_config_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every tray test: its own config dir (tray.json, autostart entries), never the user's."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))


@pytest.fixture(autouse=True)
def _in_memory_keyring(memory_keyring: MemoryKeyring) -> MemoryKeyring:
    """Every tray test: a keyring of its own, never the machine's."""
    return memory_keyring


FAST = Backoff(first_s=0.2, max_s=1.0, max_crashes=3, stable_s=60.0, ready_timeout_s=60.0)


def admin_token(paths: Paths, name: str = "tray-test") -> str:
    store = TokenStore(paths.ledger)
    try:
        return store.pair(name, "admin", replace=True)
    finally:
        store.close()


async def wait_for(signal: SignalInstance, timeout: float = 30.0,
                   check: Callable[..., bool] | None = None) -> tuple[Any, ...]:
    """Await the next emission of `signal` (whose arguments pass `check`)."""
    future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

    def fire(*args: Any) -> None:
        if not future.done() and (check is None or check(*args)):
            future.set_result(args)

    signal.connect(fire)
    try:
        return await asyncio.wait_for(future, timeout)
    finally:
        signal.disconnect(fire)


async def until(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


class Recorder(QObject):
    """Counts a signal's emissions (to check that signals fire only on real changes)."""

    def __init__(self, signal: SignalInstance) -> None:
        super().__init__()
        self.calls: list[tuple[Any, ...]] = []
        signal.connect(self._record)

    def _record(self, *args: Any) -> None:
        self.calls.append(args)


@pytest.fixture
async def local_daemon(paths: Paths) -> AsyncIterator[DaemonProcess]:
    """A running `layerbridge serve --port 0` child on a fresh copy of the demo data dir."""
    process = DaemonProcess(paths.root, port=0, backoff=FAST)
    process.start()
    await wait_for(process.ready, timeout=60)
    yield process
    process.stop(force=True)  # SIGTERM waits for torch's import to finish: not worth it here
    await until(lambda: process.state.value == "stopped", timeout=20)


@pytest.fixture
async def connection(local_daemon: DaemonProcess, paths: Paths
                     ) -> AsyncIterator[DaemonConnection]:
    conn = DaemonConnection(poll_ms=200)
    assert local_daemon.url is not None
    conn.open(local_daemon.url, admin_token(paths))
    await wait_for(conn.connected, timeout=20)
    yield conn
    await conn.close()


_BUILD_DEMO = """
import sys
from layerbridge.daemon.config import Paths
from layerbridge.daemon.engine.demo import build_demo
from layerbridge.daemon.engine.registry import Registry
from pathlib import Path
paths = Paths(Path(sys.argv[1])).ensure()
build_demo(paths, only=("demo", "demo-lora", "demo-cn-canny"))
Registry(paths).remove("demo-lora")
"""


@pytest.fixture(scope="session")
def demo_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The desktop suite's demo data dir, built in a child process: the tray's process never loads
    torch (Qt and torch in one process crash), and `_no_torch_here` keeps it that way. The demo
    LoRA's file is built but not registered, so tests can import it."""
    root = tmp_path_factory.mktemp("desktop-demo") / "data"
    subprocess.run([sys.executable, "-c", _BUILD_DEMO, str(root)], check=True, timeout=600)
    return root


@pytest.fixture(scope="session")
def desktop_demo(demo_models: Path) -> Path:
    return demo_models


@pytest.fixture(autouse=True)
def _no_torch_here() -> Iterator[None]:
    yield
    heavy = [name for name in ("torch", "diffusers", "transformers") if name in sys.modules]
    assert not heavy, f"the tray's process imported {heavy}; the tray must stay torch-free"


@dataclass
class SharedDaemon:
    url: str
    paths: Paths
    proc: subprocess.Popen[bytes]
    output: list[str]

    def token(self, name: str) -> str:
        return admin_token(self.paths, name)


@pytest.fixture(scope="module")
def shared_daemon(desktop_demo: Path, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[SharedDaemon]:
    """One real `layerbridge serve` per test module (torch loads once), on its own data dir."""
    root = tmp_path_factory.mktemp("shared") / "data"
    shutil.copytree(desktop_demo, root)
    paths = Paths(root)
    proc = subprocess.Popen(
        [sys.executable, "-m", "layerbridge.daemon.cli", "--data-dir", str(root), "serve",
         "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output: list[str] = []
    url: list[str] = []
    ready = threading.Event()

    def drain() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            output.append(line)
            if "Layerbridge listening on " in line and not url:
                url.append(line.split("listening on ", 1)[1].strip())
                ready.set()
        ready.set()

    threading.Thread(target=drain, daemon=True).start()
    if not ready.wait(60) or not url:
        proc.kill()
        raise RuntimeError("daemon did not start:\n" + "\n".join(output))
    yield SharedDaemon(url[0], paths, proc, output)
    proc.kill()
    proc.wait(10)
    if proc.stdout is not None:
        proc.stdout.close()


@pytest.fixture
async def shared_connection(shared_daemon: SharedDaemon, request: pytest.FixtureRequest
                            ) -> AsyncIterator[DaemonConnection]:
    conn = DaemonConnection(poll_ms=200)
    conn.open(shared_daemon.url, shared_daemon.token(f"t-{request.node.name[:40]}"))
    await wait_for(conn.connected, timeout=20)
    yield conn
    await conn.close()

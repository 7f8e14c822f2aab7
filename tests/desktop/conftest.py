"""Desktop fixtures: asyncio tests run on a qasync loop (Qt and asyncio in one thread, as in the
app), an in-memory keyring, and a real `layerbridge serve` child process on a demo data dir."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import keyring
import pytest
import qasync
from keyring.backend import KeyringBackend
from PySide6.QtCore import QObject, SignalInstance
from PySide6.QtWidgets import QApplication

from layerbridge.daemon.auth import TokenStore
from layerbridge.daemon.config import Paths
from layerbridge.desktop.connection import DaemonConnection
from layerbridge.desktop.process import Backoff, DaemonProcess


def _qt_app() -> QApplication:
    app = QApplication.instance()
    return app if isinstance(app, QApplication) else QApplication([])


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item
                                  ) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    return {"qasync": lambda: qasync.QEventLoop(_qt_app())}


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


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
    process.stop()
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

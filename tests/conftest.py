"""Shared fixtures: a demo model built once per session, and a real daemon on 127.0.0.1:0."""

from __future__ import annotations

import io
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from keyring.backend import KeyringBackend
from layerbridge.daemon.app import DaemonCore
from layerbridge.daemon.auth import TokenStore
from layerbridge.daemon.config import Paths, Settings
from layerbridge.daemon.executors.local import LocalExecutor, diffusers_engine
from layerbridge.daemon.server import WebSocketServer
from PIL import Image


@pytest.fixture(scope="session")
def demo_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir holding the tiny demo models; copy it, never write to it."""
    from layerbridge.daemon.engine.demo import build_demo

    root = tmp_path_factory.mktemp("demo-data")
    build_demo(Paths(root).ensure(), only=("demo", "demo-lora", "demo-cn-canny"))
    return root


@pytest.fixture
def paths(tmp_path: Path, demo_models: Path) -> Paths:
    root = tmp_path / "data"
    shutil.copytree(demo_models, root, ignore=shutil.ignore_patterns("ledger.sqlite3*", "blobs"))
    return Paths(root).ensure()


@dataclass
class RunningDaemon:
    url: str
    core: DaemonCore
    server: WebSocketServer
    paths: Paths
    token: str
    admin_token: str

    def pair(self, name: str, scope: str = "client") -> str:
        store = TokenStore(self.paths.ledger)
        try:
            return store.pair(name, scope)  # type: ignore[arg-type]
        finally:
            store.close()


@asynccontextmanager
async def running_daemon(paths: Paths, settings: Settings | None = None) -> AsyncIterator[RunningDaemon]:
    """A daemon on 127.0.0.1:0 with one paired client and one paired admin."""
    settings = settings or Settings()
    settings.engine.threads = 1
    core = DaemonCore(paths, settings, LocalExecutor(diffusers_engine(paths, settings.engine)))
    await core.start()
    server = WebSocketServer(core)
    url = await server.start("127.0.0.1", 0)
    running = RunningDaemon(url, core, server, paths, "", "")
    running.token = running.pair("test-client")
    running.admin_token = running.pair("test-admin", "admin")
    try:
        yield running
    finally:
        await server.close()
        await core.stop()


@pytest.fixture
async def daemon(paths: Paths) -> AsyncIterator[RunningDaemon]:
    async with running_daemon(paths) as running:
        yield running


def png(width: int, height: int, colour: tuple[int, ...] = (200, 80, 40), mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), colour).save(out, format="PNG")
    return out.getvalue()


class MemoryKeyring(KeyringBackend):
    """A real keyring backend that keeps secrets in a dict, for tests."""

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


@pytest.fixture
def memory_keyring() -> Iterator[MemoryKeyring]:
    import keyring

    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    import keyring
    from keyring.backends.fail import Keyring as Fail

    previous = keyring.get_keyring()
    keyring.set_keyring(Fail())
    yield
    keyring.set_keyring(previous)

"""A daemon running in a background thread, for tests that drive it with the sync client."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from layerbridge.daemon.app import DaemonCore
from layerbridge.daemon.auth import TokenStore
from layerbridge.daemon.config import Paths, Settings
from layerbridge.daemon.executors.local import LocalExecutor, diffusers_engine
from layerbridge.daemon.server import WebSocketServer


@dataclass
class ThreadDaemon:
    url: str
    token: str
    core: DaemonCore
    loop: asyncio.AbstractEventLoop


@pytest.fixture(scope="module")
def thread_daemon(tmp_path_factory: pytest.TempPathFactory, demo_models: Path) -> Iterator[ThreadDaemon]:
    root = tmp_path_factory.mktemp("hardening") / "data"
    shutil.copytree(demo_models, root, ignore=shutil.ignore_patterns("ledger.sqlite3*", "blobs"))
    paths = Paths(root).ensure()
    store = TokenStore(paths.ledger)
    token = store.pair("fuzzer")
    store.close()
    settings = Settings()
    loop = asyncio.new_event_loop()
    ready: dict[str, object] = {}
    stop = threading.Event()

    async def main() -> None:
        core = DaemonCore(paths, settings, LocalExecutor(diffusers_engine(paths, settings.engine)))
        await core.start()
        core.manager.set_paused(True)  # fuzzed jobs are accepted but never run
        server = WebSocketServer(core)
        ready["url"] = await server.start("127.0.0.1", 0)
        ready["core"] = core
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await server.close()
        await core.stop()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    for _ in range(400):
        if "url" in ready:
            break
        threading.Event().wait(0.05)
    assert "url" in ready, "daemon did not start"
    yield ThreadDaemon(str(ready["url"]), token, ready["core"], loop)  # type: ignore[arg-type]
    stop.set()
    thread.join(30)
    loop.close()

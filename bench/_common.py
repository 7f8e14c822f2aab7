"""Shared plumbing of the benchmarks: a daemon in this process, the demo model, JSON output."""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from layerbridge.daemon.app import DaemonCore
from layerbridge.daemon.auth import TokenStore
from layerbridge.daemon.config import Paths, Settings
from layerbridge.daemon.executors.base import Executor
from layerbridge.daemon.executors.local import LocalExecutor, diffusers_engine
from layerbridge.daemon.server import WebSocketServer


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    return p


def machine() -> str:
    import os

    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.system()}"


def demo_data_dir() -> Paths:
    """A fresh data dir with the demo model built in it."""
    from layerbridge.daemon.engine.demo import build_demo

    paths = Paths(Path(tempfile.mkdtemp(prefix="layerbridge-bench-"))).ensure()
    build_demo(paths, only=("demo",))
    return paths


@dataclass
class BenchDaemon:
    url: str
    token: str
    core: DaemonCore


@asynccontextmanager
async def daemon(paths: Paths, settings: Settings | None = None,
                 executor: Executor | None = None) -> AsyncIterator[BenchDaemon]:
    """A daemon on 127.0.0.1 with an admin token; the local executor unless one is given."""
    settings = settings or Settings()
    executor = executor or LocalExecutor(diffusers_engine(paths, settings.engine))
    core = DaemonCore(paths, settings, executor)
    await core.start()
    await core.executor.ready()  # the engine's start-up (torch import) must not overlap a timing
    server = WebSocketServer(core)
    url = await server.start("127.0.0.1", 0)
    store = TokenStore(paths.ledger)
    token = store.pair("bench", "admin", replace=True)
    store.close()
    try:
        yield BenchDaemon(url, token, core)
    finally:
        await server.close()
        await core.stop()


def report(args: argparse.Namespace, lines: list[str], figures: dict[str, object]) -> None:
    for line in lines:
        print(line)
    if args.json:
        print(json.dumps(figures))


def cleanup(paths: Paths) -> None:
    shutil.rmtree(paths.root, ignore_errors=True)

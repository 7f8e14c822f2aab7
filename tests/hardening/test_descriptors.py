"""A daemon under `ulimit -n 1024` (a common default) against a flood of connections that hold
their sockets open: it stays up, refuses or drops what it cannot hold, and a paired client that
connects in the middle of the flood is served."""

from __future__ import annotations

import asyncio
import resource
import time
from collections.abc import Iterator

import pytest
from layerbridge.daemon.client import DaemonClient
from layerbridge.daemon.config import Paths
from websockets.asyncio.client import ClientConnection, connect

from ..test_cli import Daemon, lb

FLOOD = 1200  # more sockets than the daemon may open descriptors


@pytest.fixture
def small_daemon(paths: Paths) -> Iterator[Daemon]:
    d = Daemon(paths.root, max_files=1024).start()
    yield d
    if d.proc and d.proc.poll() is None:
        d.stop()


@pytest.fixture(autouse=True)
def _room_for_the_flood() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < FLOOD + 512:
        pytest.skip(f"this process may open only {hard} files")
    if soft != resource.RLIM_INFINITY and soft < FLOOD + 512:
        resource.setrlimit(resource.RLIMIT_NOFILE, (FLOOD + 512, hard))


async def _raw(host: str, port: int) -> asyncio.StreamWriter | None:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 5)
        return writer
    except (TimeoutError, OSError):
        return None  # refused or not accepted: the daemon holds only what it can


async def _handshaken(url: str) -> ClientConnection | None:
    try:
        return await asyncio.wait_for(connect(url, proxy=None, open_timeout=5), 6)
    except Exception:  # noqa: BLE001 - refused in any way
        return None


async def test_a_connection_flood_under_ulimit_1024_leaves_a_paired_client_served(
        small_daemon: Daemon) -> None:
    token = lb(small_daemon.data, "pair", "--name", "studio-anna").stdout.strip().splitlines()[-1]
    host, port = small_daemon.url.removeprefix("ws://").rsplit(":", 1)
    raw = await asyncio.gather(*(_raw(host, int(port)) for _ in range(FLOOD)))
    ws = await asyncio.gather(*(_handshaken(small_daemon.url) for _ in range(300)))
    try:
        start = time.monotonic()
        async with await DaemonClient.connect(small_daemon.url, token, name="studio-anna") as client:
            status = await client.status()
        served_in = time.monotonic() - start
        assert status.version and served_in < 15, f"served after {served_in:.1f} s"
        assert small_daemon.proc is not None and small_daemon.proc.poll() is None
    finally:
        for w in raw:
            if w is not None:
                w.close()
        await asyncio.gather(*(c.close() for c in ws if c is not None), return_exceptions=True)
    # and once the flood is gone, the daemon is as it was
    async with await DaemonClient.connect(small_daemon.url, token, name="studio-anna") as client:
        assert (await client.status()).version

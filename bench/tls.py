"""What LAN mode's TLS costs: the same blob upload and the same connect + hello through the
protocol over ws:// and over wss:// (the self-signed certificate, pinned), in the same run, on
loopback. Prints wss throughput as a ratio of ws, and the handshake times.

    .venv/bin/python bench/tls.py [--mib 64] [--runs 3] [--json]
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import cleanup, machine, parser, report  # noqa: E402
from layerbridge.daemon import tls  # noqa: E402
from layerbridge.daemon.app import DaemonCore  # noqa: E402
from layerbridge.daemon.auth import TokenStore  # noqa: E402
from layerbridge.daemon.client import DaemonClient  # noqa: E402
from layerbridge.daemon.config import Paths, Settings  # noqa: E402
from layerbridge.daemon.executors.local import LocalExecutor, diffusers_engine  # noqa: E402
from layerbridge.daemon.server import WebSocketServer  # noqa: E402


@asynccontextmanager
async def served(paths: Paths, secure: bool) -> AsyncIterator[tuple[str, str, str | None]]:
    """(url, token, fingerprint) of a daemon on 127.0.0.1, over TLS when `secure`."""
    settings = Settings()
    core = DaemonCore(paths, settings, LocalExecutor(diffusers_engine(paths, settings.engine)))
    await core.start()
    await core.executor.ready()
    certificate = tls.self_signed(paths, "127.0.0.1") if secure else None
    server = WebSocketServer(core)
    url = await server.start("127.0.0.1", 0, tls.server_context(certificate) if certificate else None)
    store = TokenStore(paths.ledger)
    token = store.pair("bench", "admin", replace=True)
    store.close()
    try:
        yield url, token, certificate.fingerprint if certificate else None
    finally:
        await server.close()
        await core.stop()


async def one_run(data: bytes, side: int, secure: bool, connects: int) -> tuple[float, float]:
    """(upload seconds, median connect + hello seconds)."""
    paths = Paths(Path(tempfile.mkdtemp(prefix="layerbridge-bench-"))).ensure()
    try:
        async with served(paths, secure) as (url, token, pin):
            hellos = []
            for _ in range(connects):
                start = time.perf_counter()
                client = await DaemonClient.connect(url, token, tls_fingerprint=pin)
                hellos.append(time.perf_counter() - start)
                await client.close()
            async with await DaemonClient.connect(url, token, tls_fingerprint=pin) as client:
                start = time.perf_counter()
                await client.upload(data, "rgba8", side, side)
                return time.perf_counter() - start, statistics.median(hellos)
    finally:
        cleanup(paths)


async def main() -> None:
    args_parser = parser(__doc__ or "")
    args_parser.add_argument("--mib", type=int, default=64)
    args_parser.add_argument("--runs", type=int, default=3)
    args_parser.add_argument("--connects", type=int, default=20)
    args = args_parser.parse_args()
    side = int((args.mib * 2**20 / 4) ** 0.5)
    size = side * side * 4
    plain_up, plain_hello, tls_up, tls_hello = [], [], [], []
    for _ in range(args.runs):
        data = os.urandom(size)  # incompressible, like real pixels are to a transport
        up, hello = await one_run(data, side, False, args.connects)
        plain_up.append(up)
        plain_hello.append(hello)
        up, hello = await one_run(data, side, True, args.connects)
        tls_up.append(up)
        tls_hello.append(hello)
    ws_s, wss_s = statistics.median(plain_up), statistics.median(tls_up)
    ws_h, wss_h = statistics.median(plain_hello), statistics.median(tls_hello)
    mib = size / 2**20
    ratio = ws_s / wss_s
    report(args, [
        f"tls: {mib:.0f} MiB blob upload and connect + hello, {args.runs} runs, medians ({machine()})",
        f"  ws://   upload {mib / ws_s:8.0f} MiB/s   connect + hello {ws_h * 1000:6.1f} ms",
        f"  wss://  upload {mib / wss_s:8.0f} MiB/s   connect + hello {wss_h * 1000:6.1f} ms",
        f"  wss throughput is {ratio:.0%} of ws; each connection costs {1000 * (wss_h - ws_h):+.1f} ms",
    ], {"wss_vs_ws_throughput": round(ratio, 4), "ws_hello_ms": round(ws_h * 1000, 2),
        "wss_hello_ms": round(wss_h * 1000, 2)})


if __name__ == "__main__":
    asyncio.run(main())

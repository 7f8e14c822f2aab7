"""A 64 MiB blob upload through the protocol vs raw asyncio TCP on loopback and vs base64 inside
JSON over the same WebSocket library, in the same run; then the same blob again (content
addressing: no payload is sent). The protocol figure is the client's whole `upload`: its content
key, the chunks, and the daemon hashing, checking and writing them until `blob.stored`.
Targets: >= 90 % of raw TCP, >= 4x base64.

    .venv/bin/python bench/transport.py [--mib 64] [--runs 3] [--json]
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import cleanup, daemon, machine, parser, report  # noqa: E402
from layerbridge.daemon.client import DaemonClient  # noqa: E402
from layerbridge.daemon.config import Paths  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402
from websockets.asyncio.server import ServerConnection, serve  # noqa: E402


async def raw_tcp(data: bytes) -> float:
    """Seconds for `data` to cross a loopback TCP connection (asyncio streams, both ends here)."""
    done = asyncio.get_running_loop().create_future()

    async def receive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got = 0
        while got < len(data):
            chunk = await reader.read(1 << 20)
            if not chunk:
                break
            got += len(chunk)
        done.set_result(got)
        writer.close()

    server = await asyncio.start_server(receive, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    start = time.perf_counter()
    writer.write(data)
    await writer.drain()
    assert await done == len(data)
    elapsed = time.perf_counter() - start
    writer.close()
    server.close()
    return elapsed


async def base64_json(data: bytes) -> float:
    """Seconds to send `data` as base64 in a JSON text message and have the server decode it."""
    done = asyncio.get_running_loop().create_future()

    async def handler(ws: ServerConnection) -> None:
        message = json.loads(await ws.recv())
        done.set_result(len(base64.b64decode(message["image"])))

    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]
        async with connect(f"ws://127.0.0.1:{port}", compression=None, max_size=None, proxy=None) as ws:
            start = time.perf_counter()
            await ws.send(json.dumps({"type": "upload", "image": base64.b64encode(data).decode()}))
            assert await done == len(data)
            return time.perf_counter() - start


async def main() -> None:
    args_parser = parser(__doc__ or "")
    args_parser.add_argument("--mib", type=int, default=64)
    args_parser.add_argument("--runs", type=int, default=3)
    args = args_parser.parse_args()
    side = int((args.mib * 2**20 / 4) ** 0.5)
    size = side * side * 4
    import tempfile

    raw_s, b64_s, proto_s = [], [], []
    repeat_bytes = -1
    for _ in range(args.runs):
        data = os.urandom(size)  # incompressible, like real pixels are to a transport
        paths = Paths(Path(tempfile.mkdtemp(prefix="layerbridge-bench-"))).ensure()
        async with daemon(paths) as d, await DaemonClient.connect(d.url, d.token) as client:
            # raw TCP right before the protocol, so a pair sees the same machine (a shared host's
            # speed drifts between seconds); the ratio is the median of the pairs'
            raw_s.append(await raw_tcp(data))
            start = time.perf_counter()
            await client.upload(data, "rgba8", side, side)
            proto_s.append(time.perf_counter() - start)
            before = client.payload_bytes_sent
            await client.upload(data, "rgba8", side, side)
            repeat_bytes = client.payload_bytes_sent - before
        cleanup(paths)
        b64_s.append(await base64_json(data))
    raw, b64, proto = (statistics.median(v) for v in (raw_s, b64_s, proto_s))
    mib = size / 2**20
    vs_raw = statistics.median(r / p for r, p in zip(raw_s, proto_s, strict=True))
    vs_b64 = statistics.median(b / p for b, p in zip(b64_s, proto_s, strict=True))
    report(args, [
        f"transport: {mib:.0f} MiB blob ({side}x{side} rgba8), {args.runs} runs, medians ({machine()})",
        f"  raw asyncio TCP          {mib / raw:8.0f} MiB/s",
        f"  protocol (binary)        {mib / proto:8.0f} MiB/s   {vs_raw:.0%} of raw TCP (target >= 90 %)",
        f"  base64 in JSON           {mib / b64:8.0f} MiB/s   protocol is {vs_b64:.1f}x faster (target >= 4x)",
        f"  repeated upload sends    {repeat_bytes} payload bytes",
    ], {"vs_raw_tcp": round(vs_raw, 4), "vs_base64": round(vs_b64, 3),
        "repeat_upload_bytes": repeat_bytes})


if __name__ == "__main__":
    asyncio.run(main())

"""Hard limits on a real socket: each refused with a typed error, none slowing a paired client."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
from collections.abc import AsyncIterator

import pytest
from layerbridge.daemon.client import DaemonClient, RemoteError
from layerbridge.daemon.config import Paths, ServerSettings, Settings
from layerbridge.daemon.protocol import encode_frame
from layerbridge.daemon.protocol.limits import ServerLimits
from layerbridge.daemon.protocol.messages import JobParams
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ..conftest import RunningDaemon, png, running_daemon

LIMITS = ServerLimits(max_unauthenticated=8, max_connections=40, max_uploads_per_connection=4,
                      max_uploads_total=6, max_queued_interactive=2, max_queued_batch=3)


@pytest.fixture
async def limited(paths: Paths) -> AsyncIterator[RunningDaemon]:
    async with running_daemon(paths, Settings(server=ServerSettings(limits=LIMITS))) as running:
        yield running


async def silent(daemon: RunningDaemon) -> ClientConnection:
    return await connect(daemon.url, compression=None, proxy=None, max_size=None)


def hello(token: str, rid: str = "h") -> str:
    return json.dumps({"type": "hello", "id": rid, "protocols": [1], "token": token,
                       "client": {"name": "t", "kind": "test"}})


async def authed(daemon: RunningDaemon) -> ClientConnection:
    ws = await silent(daemon)
    await ws.send(hello(daemon.token))
    assert json.loads(await ws.recv())["type"] == "welcome"
    return ws


async def served_quickly(daemon: RunningDaemon) -> None:
    started = asyncio.get_running_loop().time()
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        await client.status()
    assert asyncio.get_running_loop().time() - started < 1.0


async def test_welcome_lists_the_limits(limited: RunningDaemon) -> None:
    async with await DaemonClient.connect(limited.url, limited.token) as client:
        limits = client.welcome.limits
    assert (limits.max_uploads_per_connection, limits.max_queued_interactive,
            limits.max_queued_batch) == (4, 2, 3)
    assert limits.pre_hello_frame_bytes == LIMITS.pre_hello_frame_bytes
    assert limits.max_canvas_side == 300_000  # Photoshop's PSB bound, the one job.canvas is checked against


async def test_connections_without_hello_are_capped_oldest_first(limited: RunningDaemon) -> None:
    flood = [await silent(limited) for _ in range(30)]
    await served_quickly(limited)
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(flood[0].recv(), 5)  # the oldest went first
    assert len(limited.core.sessions) <= LIMITS.max_unauthenticated + 1
    for ws in flood:
        await ws.close()


async def test_the_connection_cap_refuses_the_handshake(limited: RunningDaemon) -> None:
    held = [await authed(limited) for _ in range(LIMITS.max_connections)]
    with pytest.raises(InvalidStatus) as info:
        await silent(limited)
    assert info.value.response.status_code == 503
    for ws in held:
        await ws.close()
    await served_quickly(limited)


async def test_a_large_frame_before_hello_is_not_read(limited: RunningDaemon) -> None:
    ws = await silent(limited)
    await ws.send("x" * (LIMITS.pre_hello_frame_bytes + 1))
    with pytest.raises(ConnectionClosed) as info:
        await asyncio.wait_for(ws.recv(), 5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009  # message too big
    await served_quickly(limited)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_unfinished_uploads_hold_no_descriptor_and_are_capped(limited: RunningDaemon) -> None:
    ws = await authed(limited)
    before = open_fds()
    for i in range(LIMITS.max_uploads_per_connection + 1):
        data = bytes([i]) * 1000
        await ws.send(encode_frame({"type": "blob.put", "id": f"u{i}", "total": 2000,
                                    "sha256": hashlib.sha256(data * 2).hexdigest(), "offset": 0,
                                    "format": "grey8", "width": 50, "height": 40}, data))
    err = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert (err["code"], err["reply_to"], err["retryable"]) == ("busy", "u4", True)
    assert open_fds() <= before + 1  # partial files are closed between chunks
    assert limited.core.uploads.count == LIMITS.max_uploads_per_connection
    other = await authed(limited)
    for i in range(3):  # the daemon-wide cap: 6 in all
        data = bytes([100 + i]) * 1000
        await other.send(encode_frame({"type": "blob.put", "id": f"o{i}", "total": 2000,
                                       "sha256": hashlib.sha256(data * 2).hexdigest(), "offset": 0,
                                       "format": "grey8", "width": 50, "height": 40}, data))
    err = json.loads(await asyncio.wait_for(other.recv(), 5))
    assert (err["code"], err["reply_to"]) == ("busy", "o2")
    await ws.close()
    for _ in range(50):
        if limited.core.uploads.count == 2:
            break
        await asyncio.sleep(0.05)
    assert limited.core.uploads.count == 2  # a closed connection's uploads are gone
    await other.close()


async def test_queued_jobs_per_client_are_capped_interactive_and_batch_apart(limited: RunningDaemon) -> None:
    limited.core.manager.set_paused(True)
    params = JobParams(kind="generate", model="demo", width=64, height=64, steps=2)
    async with await DaemonClient.connect(limited.url, limited.token) as client:
        for _ in range(LIMITS.max_queued_interactive):
            await client.submit(params)
        with pytest.raises(RemoteError) as info:
            await client.submit(params)
        assert info.value.code == "busy"
        for _ in range(LIMITS.max_queued_batch):
            await client.submit(params, priority="batch")
        with pytest.raises(RemoteError):
            await client.submit(params, priority="batch")
    async with await DaemonClient.connect(limited.url, limited.admin_token) as admin:
        await admin.submit(params)  # another client's quota is its own


async def test_a_raw_blob_whose_size_does_not_match_is_refused_at_upload(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        with pytest.raises(RemoteError) as info:
            await client.upload(b"\x00" * 100, "rgba8", 10, 10)
        assert (info.value.code, info.value.field) == ("invalid_input", "total")
        with pytest.raises(RemoteError) as info:
            await client.upload(b"GIF89a" + b"\x00" * 100, "png")
        assert info.value.code == "invalid_input" and "not a PNG" in info.value.message
    assert not list(daemon.core.blobs.root.rglob("*.json"))


async def test_blob_get_ends_with_a_final_reply(daemon: RunningDaemon) -> None:
    data = png(64, 64, (5, 6, 7))
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        sha = await client.upload(data)
    ws = await authed(daemon)
    await ws.send(json.dumps({"type": "blob.get", "id": "g", "sha256": sha}))
    assert isinstance(await asyncio.wait_for(ws.recv(), 5), bytes)
    final = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert final == {"type": "blob.sent", "reply_to": "g", "sha256": sha, "size": len(data)}
    await ws.close()


async def test_client_errors_log_no_traceback_and_refused_tokens_name_peer_and_origin(
        daemon: RunningDaemon, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="layerbridge")
    ws = await authed(daemon)
    await ws.send('{"type": "job.submit", "id": "big", "params": {"seed": ' + "9" * 5000 + "}}")
    err = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert (err["code"], err["reply_to"]) == ("bad_message", "big")
    await ws.send(json.dumps({"type": "job.submit", "id": "s", "params": {
        "kind": "generate", "model": "demo", "seed": "1"}}))
    err = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert (err["code"], err["field"], err["reply_to"]) == ("invalid_input", "params.seed", "s")
    page = await connect(daemon.url, proxy=None, origin="null")  # type: ignore[arg-type]
    await page.send(hello("lb_wrong"))
    await asyncio.wait_for(page.recv(), 5)
    assert not [r for r in caplog.records if r.exc_info]
    refused = [r.getMessage() for r in caplog.records if "refused a token" in r.getMessage()]
    assert refused and "127.0.0.1" in refused[0] and "Origin null" in refused[0]
    assert all(r.levelno == logging.INFO for r in caplog.records if "refused a token" in r.getMessage())
    await ws.close()

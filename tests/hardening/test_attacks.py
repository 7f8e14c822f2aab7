"""What an attacker (or a broken client) tries, and what it gets: a typed refusal, nothing more."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
import torch
from layerbridge.daemon.client import DaemonClient, RemoteError
from layerbridge.daemon.protocol.messages import JobParams
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ..conftest import RunningDaemon


async def authed(daemon: RunningDaemon, token: str):  # type: ignore[no-untyped-def]
    ws = await connect(daemon.url, compression=None, proxy=None, max_size=None)
    await ws.send(json.dumps({"type": "hello", "protocols": [1], "token": token,
                              "client": {"name": "t", "kind": "test"}}))
    assert json.loads(await ws.recv())["type"] == "welcome"
    return ws


@pytest.mark.parametrize("model_id", ["../demo", "/etc/passwd", "..", "demo/../../x", "C:\\models\\x",
                                      "%2e%2e%2fdemo", "demo\x00"])
async def test_model_ids_that_look_like_paths_are_refused_by_name(daemon: RunningDaemon, model_id: str) -> None:
    ws = await authed(daemon, daemon.admin_token)
    for message, field in (
        ({"type": "job.submit", "params": {"kind": "generate", "model": model_id}}, "params.model"),
        ({"type": "job.submit", "params": {"kind": "generate", "model": "demo",
                                           "loras": [{"id": model_id}]}}, "params.loras.0.id"),
        ({"type": "models.remove", "model_id": model_id}, "model_id"),
    ):
        await ws.send(json.dumps(message))
        err = json.loads(await ws.recv())
        assert (err["code"], err["field"]) == ("invalid_input", field), err
    assert (daemon.paths.models / "demo").is_dir()


async def test_pickle_checkpoints_are_refused_unless_explicitly_allowed(daemon: RunningDaemon) -> None:
    evil = daemon.paths.root / "model.ckpt"
    torch.save({"state_dict": {}}, evil)
    ws = await authed(daemon, daemon.admin_token)
    await ws.send(json.dumps({"type": "models.add", "id": "evil", "path": str(evil)}))
    err = json.loads(await ws.recv())
    assert err["type"] == "error" and "pickle" in err["message"].lower()
    assert "evil" not in {m.id for m in daemon.core.models()}


async def test_a_client_token_cannot_register_models(daemon: RunningDaemon) -> None:
    ws = await authed(daemon, daemon.token)
    await ws.send(json.dumps({"type": "models.add", "path": "/etc"}))
    assert json.loads(await ws.recv())["code"] == "forbidden"


async def test_a_client_that_never_reads_is_dropped_and_others_are_unaffected(daemon: RunningDaemon) -> None:
    big = os.urandom(1024 * 1024 * 4)  # the send queue is bounded by bytes, not by messages
    async with await DaemonClient.connect(daemon.url, daemon.token) as uploader:
        sha = await uploader.upload(big, "rgba8", 1024, 1024)
    slow = await authed(daemon, daemon.token)
    slow.transport.pause_reading()  # the client stops reading; its socket buffer fills up
    for i in range(2000):  # each request asks the daemon to send the whole blob again
        await slow.send(json.dumps({"type": "blob.get", "id": str(i), "sha256": sha}))
    async with await DaemonClient.connect(daemon.url, daemon.token) as other:
        started = asyncio.get_running_loop().time()
        await other.status()
        assert asyncio.get_running_loop().time() - started < 5
        for _ in range(100):
            if len(daemon.core.sessions) == 1:
                break
            await asyncio.sleep(0.1)
        assert len(daemon.core.sessions) == 1, "the slow client was not dropped"
        await other.status()
    slow.transport.resume_reading()
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(slow.recv(), 10)


async def test_jobs_of_unknown_blobs_are_refused_before_they_are_accepted(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        with pytest.raises(RemoteError) as info:
            await client.submit(JobParams(kind="refine", model="demo", image="f" * 64))
        assert (info.value.code, info.value.field) == ("unknown_blob", "image")
    assert daemon.core.ledger.recent(5) == []

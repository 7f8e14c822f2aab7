"""Jobs, uploads and results belong to the client that made them: another paired client can
neither see, fetch, cancel nor download them; an admin sees all. Storage dedupes underneath."""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from layerbridge.daemon.client import DaemonClient, RemoteError
from layerbridge.daemon.protocol.messages import (
    BlobHas,
    BlobMissing,
    ClientsRevoke,
    JobList,
    JobListReply,
    JobParams,
)
from websockets.asyncio.client import ClientConnection, connect

from ..conftest import RunningDaemon, png


def gen(**kw: object) -> JobParams:
    fields: dict[str, object] = dict(kind="generate", model="demo", prompt="anna's secret brief",
                                     width=64, height=64, steps=2, seed=3)
    fields.update(kw)
    return JobParams.model_validate(fields)


async def raw(daemon: RunningDaemon, token: str) -> ClientConnection:
    ws = await connect(daemon.url, compression=None, proxy=None, max_size=None)
    await ws.send(json.dumps({"type": "hello", "id": "h", "protocols": [1], "token": token,
                              "client": {"name": "t", "kind": "test"}}))
    assert json.loads(await ws.recv())["type"] == "welcome"
    return ws


async def text_reply(ws: ClientConnection) -> dict[str, object]:
    while True:
        frame = await asyncio.wait_for(ws.recv(), 10)
        if isinstance(frame, str):
            return json.loads(frame)  # type: ignore[no-any-return]


async def jobs_seen(client: DaemonClient) -> set[str]:
    reply = await client.request(JobList())
    assert isinstance(reply, JobListReply)
    return {j.job_id for j in reply.jobs}


async def test_a_client_lists_only_its_own_jobs_and_an_admin_sees_all(daemon: RunningDaemon) -> None:
    bob_token = daemon.pair("bob")
    async with (await DaemonClient.connect(daemon.url, daemon.token) as anna,
                await DaemonClient.connect(daemon.url, bob_token) as bob,
                await DaemonClient.connect(daemon.url, daemon.admin_token) as admin):
        annas = await (await anna.submit(gen())).wait()
        bobs = await (await bob.submit(gen(prompt="bob's"))).wait()
        assert await jobs_seen(bob) == {bobs.job_id}
        assert await jobs_seen(anna) == {annas.job_id}
        assert {annas.job_id, bobs.job_id} <= await jobs_seen(admin)


async def test_another_clients_job_cannot_be_fetched_or_cancelled(daemon: RunningDaemon) -> None:
    bob_token = daemon.pair("bob")
    daemon.core.manager.set_paused(True)
    async with (await DaemonClient.connect(daemon.url, daemon.token) as anna,
                await DaemonClient.connect(daemon.url, bob_token) as bob):
        job = await anna.submit(gen())
        for attempt in (bob.fetch(job.job_id), bob.cancel(job.job_id)):
            with pytest.raises(RemoteError) as info:
                await attempt
            assert info.value.code == "unknown_job"
        daemon.core.manager.set_paused(False)
        assert len((await job.wait()).results) == 1  # bob's cancel did nothing


async def test_another_clients_job_id_is_refused_without_saying_what_it_is(daemon: RunningDaemon) -> None:
    bob_token = daemon.pair("bob")
    daemon.core.manager.set_paused(True)  # a model still loading at teardown would outlive the daemon
    async with (await DaemonClient.connect(daemon.url, daemon.token) as anna,
                await DaemonClient.connect(daemon.url, bob_token) as bob):
        await anna.submit(gen(), job_id="shared-id")
        with pytest.raises(RemoteError) as info:
            await bob.submit(gen(), job_id="shared-id")
        assert info.value.code == "conflict" and "secret" not in info.value.message


async def test_another_clients_results_and_uploads_cannot_be_downloaded(daemon: RunningDaemon) -> None:
    bob_token = daemon.pair("bob")
    async with await DaemonClient.connect(daemon.url, daemon.token) as anna:
        canvas = await anna.upload(png(64, 64, (9, 8, 7)))
        result = (await (await anna.submit(gen())).wait()).results[0][0].blob
    bob = await raw(daemon, bob_token)
    for sha in (canvas, result):
        await bob.send(json.dumps({"type": "blob.get", "id": "g", "sha256": sha}))
        err = await text_reply(bob)
        assert (err["type"], err["code"], err["reply_to"]) == ("error", "unknown_blob", "g")
    admin = await raw(daemon, daemon.admin_token)
    await admin.send(json.dumps({"type": "blob.get", "id": "a", "sha256": result}))
    assert isinstance(await asyncio.wait_for(admin.recv(), 10), bytes)  # blob.data
    await bob.close()
    await admin.close()


async def test_blob_has_does_not_reveal_what_another_client_uploaded(daemon: RunningDaemon) -> None:
    bob_token = daemon.pair("bob")
    data = png(32, 32, (1, 2, 3))
    async with (await DaemonClient.connect(daemon.url, daemon.token) as anna,
                await DaemonClient.connect(daemon.url, bob_token) as bob):
        sha = await anna.upload(data)
        missing = await bob.request(BlobHas(sha256=[sha]))
        assert isinstance(missing, BlobMissing) and missing.sha256 == [sha]
        # bob can still use the same picture: he uploads its bytes (proving he has them)
        before = bob.payload_bytes_sent
        assert await bob.upload(data) == sha and bob.payload_bytes_sent - before == len(data)
        again = await bob.request(BlobHas(sha256=[sha]))
        assert isinstance(again, BlobMissing) and again.sha256 == []
    assert len(list(daemon.core.blobs.root.rglob(sha))) == 1  # one copy on disk


async def test_a_job_cannot_use_another_clients_blob(daemon: RunningDaemon) -> None:
    bob_token = daemon.pair("bob")
    async with (await DaemonClient.connect(daemon.url, daemon.token) as anna,
                await DaemonClient.connect(daemon.url, bob_token) as bob):
        sha = await anna.upload(png(64, 64))
        with pytest.raises(RemoteError) as info:
            await bob.submit(gen(kind="refine", image=sha, strength=0.5, width=None, height=None))
        assert (info.value.code, info.value.field) == ("unknown_blob", "image")


async def test_a_later_uploader_does_not_change_what_the_first_declared(daemon: RunningDaemon) -> None:
    bob_token = daemon.pair("bob")
    raw_bytes = os.urandom(64 * 32 * 4)  # fits rgba8 64x32 as well as grey8 128x64
    async with (await DaemonClient.connect(daemon.url, daemon.token) as anna,
                await DaemonClient.connect(daemon.url, bob_token) as bob):
        sha = await anna.upload(raw_bytes, "rgba8", 64, 32)
        await bob.upload(raw_bytes, "grey8", 128, 64)
        annas = await daemon.core.manager.blob_meta(sha, "test-client")
        bobs = await daemon.core.manager.blob_meta(sha, "bob")
    assert (annas.format, annas.width, annas.height) == ("rgba8", 64, 32)
    assert (bobs.format, bobs.width, bobs.height) == ("grey8", 128, 64)


async def test_revoking_a_client_cancels_its_queued_jobs(daemon: RunningDaemon) -> None:
    bob_token = daemon.pair("bob")
    daemon.core.manager.set_paused(True)
    async with await DaemonClient.connect(daemon.url, bob_token) as bob:
        jobs = [await bob.submit(gen(seed=i)) for i in range(3)]
    async with await DaemonClient.connect(daemon.url, daemon.admin_token) as admin:
        await admin.request(ClientsRevoke(name="bob"))
        for _ in range(50):
            if not daemon.core.manager.clients_with_jobs():
                break
            await asyncio.sleep(0.1)
    daemon.core.manager.set_paused(False)
    states = [(await asyncio.to_thread(daemon.core.ledger.get, j.job_id)) for j in jobs]
    assert [s.state.value for s in states if s] == ["cancelled"] * 3

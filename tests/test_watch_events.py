"""What a watching admin (the tray) receives for other clients' jobs."""

from __future__ import annotations

import asyncio

from layerbridge.daemon.client import DaemonClient
from layerbridge.daemon.protocol import codec
from layerbridge.daemon.protocol.messages import JobAccepted, JobList, JobParams

from tests.conftest import RunningDaemon


async def test_a_watcher_sees_other_clients_accepted_jobs_without_their_reply_id(
        daemon: RunningDaemon) -> None:
    # A reply id belongs to the connection that sent the request: echoing it to a watcher would
    # resolve whichever of the watcher's own requests happens to carry the same id.
    seen: list[JobAccepted] = []
    async with await DaemonClient.connect(daemon.url, daemon.admin_token) as watcher:
        original = watcher._on_frame

        def spy(frame: str | bytes) -> None:
            if isinstance(frame, str):
                message = codec.parse_server_text(frame)
                if isinstance(message, JobAccepted):
                    seen.append(message)
            original(frame)

        watcher._on_frame = spy  # type: ignore[method-assign]
        await watcher.request(JobList(watch=True))
        async with await DaemonClient.connect(daemon.url, daemon.token) as other:
            job = await other.submit(JobParams(kind="generate", model="demo", steps=1,
                                               width=64, height=64))
            await job.wait()
        for _ in range(50):
            if seen:
                break
            await asyncio.sleep(0.02)
    assert [m.job_id for m in seen] == [job.job_id]
    assert seen[0].reply_to is None


async def test_on_event_hands_a_watcher_every_clients_job_events_and_keeps_none_of_them(
        daemon: RunningDaemon) -> None:
    seen: list[str] = []
    async with await DaemonClient.connect(daemon.url, daemon.admin_token) as watcher:
        remove = watcher.on_event(lambda event: seen.append(event.message.type))
        await watcher.request(JobList(watch=True))
        async with await DaemonClient.connect(daemon.url, daemon.token) as other:
            job = await other.submit(JobParams(kind="generate", model="demo", steps=1,
                                               width=64, height=64))
            await job.wait()
        for _ in range(100):
            if "job.done" in seen:
                break
            await asyncio.sleep(0.02)
        assert seen[0] == "job.accepted" and seen[-1] == "job.done" and "job.result" in seen
        # nobody of this connection submitted it: nothing is held for a reply that never comes
        assert watcher._early == {} and job.job_id not in watcher._jobs
        remove()
        count = len(seen)
        async with await DaemonClient.connect(daemon.url, daemon.token) as other:
            await (await other.submit(JobParams(kind="generate", model="demo", steps=1,
                                                width=64, height=64))).wait()
        await asyncio.sleep(0.2)
        assert len(seen) == count  # removed: called no more

"""Jobs end to end through a real daemon on 127.0.0.1 with the tiny demo model."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image

from layerbridge.daemon.app import DaemonCore
from layerbridge.daemon.client import DaemonClient, JobEvent, RemoteError
from layerbridge.daemon.config import Settings
from layerbridge.daemon.executors.local import LocalExecutor, diffusers_engine
from layerbridge.daemon.protocol.messages import (
    JobParams,
    JobProgress,
    JobResult,
    JobStarted,
)
from layerbridge.daemon.server import WebSocketServer

from ..conftest import RunningDaemon, png


def gen(**kw: object) -> JobParams:
    fields: dict[str, object] = dict(kind="generate", model="demo", prompt="a red fox",
                                     width=64, height=64, steps=3, seed=7)
    fields.update(kw)
    return JobParams.model_validate(fields)


async def run(client: DaemonClient, params: JobParams, **kw: object) -> list[bytes]:
    job = await client.submit(params, **kw)  # type: ignore[arg-type]
    await job.wait()
    return [data for _, data in job.results]


async def test_generate_returns_a_png_of_the_asked_size_with_its_parameters(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        job = await client.submit(gen(width=96, height=64, batch=2))
        events: list[JobEvent] = []
        await job.wait(events.append)
    kinds = [type(e.message) for e in events]
    assert kinds[0] is JobStarted and kinds.count(JobResult) == 2
    assert [r.seed for r, _ in job.results] == [7, 8]
    for result, data in job.results:
        assert Image.open(io.BytesIO(data)).size == (96, 64) == (result.width, result.height)
        assert result.params.prompt == "a red fox" and result.params.seed == 7


async def test_same_seed_gives_same_bytes_and_other_seed_other_bytes(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        a, b, c = [await run(client, gen(seed=s)) for s in (1, 1, 2)]
    assert a == b and a != c


async def test_daemon_picks_and_reports_a_seed_that_reproduces(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        job = await client.submit(gen(seed=None))
        await job.wait()
        again = await run(client, gen(seed=job.seed))
    assert job.results[0][0].seed == job.seed and job.results[0][1] == again[0]


async def test_refine_keeps_the_input_size(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        sha = await client.upload(png(80, 56))
        out = await run(client, JobParams(kind="refine", model="demo", image=sha, strength=0.6,
                                          steps=3, seed=1))
    assert Image.open(io.BytesIO(out[0])).size == (80, 56)


async def test_progress_counts_steps_and_carries_a_preview(daemon: RunningDaemon) -> None:
    daemon.core.settings.engine.preview_interval_s = 0.0
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        job = await client.submit(gen(steps=4))
        events: list[JobEvent] = []
        await job.wait(events.append)
    progress = [e for e in events if isinstance(e.message, JobProgress)]
    assert [p.message.step for p in progress][-1] == 4  # type: ignore[attr-defined]
    previews = [p for p in progress if p.payload]
    assert previews, "no preview image arrived"
    assert Image.open(io.BytesIO(previews[0].payload or b"")).format == "PNG"


async def test_cancel_stops_a_running_job_at_the_next_step(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        job = await client.submit(gen(width=256, height=256, steps=150))
        steps_seen = 0
        async for event in job.events():
            if isinstance(event.message, JobProgress):
                steps_seen = event.message.step
                await client.cancel(job.job_id)
                break
        with pytest.raises(RemoteError) as info:
            await job.wait()
        assert info.value.code == "cancelled"
        state = (await client.fetch(job.job_id))[1].job
    assert state.state == "cancelled" and steps_seen < 150


async def test_cancel_of_a_queued_job_never_runs_it(daemon: RunningDaemon) -> None:
    daemon.core.manager.set_paused(True)
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        job = await client.submit(gen())
        await client.cancel(job.job_id)
        with pytest.raises(RemoteError, match="cancelled"):
            await job.wait()
    record = daemon.core.ledger.get(job.job_id)
    assert record is not None and record.attempts == 0


async def test_resubmitting_a_client_chosen_job_id_is_one_job(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        first = await client.submit(gen(), job_id="ps-doc1-fill-0001")
        await first.wait()
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        again = await client.submit(gen(), job_id="ps-doc1-fill-0001")
        assert again.duplicate and again.seed == first.seed
        with pytest.raises(RemoteError) as info:
            await client.submit(gen(prompt="something else"), job_id="ps-doc1-fill-0001")
        assert (info.value.code, info.value.field) == ("conflict", "job_id")
    assert len(daemon.core.ledger.recent(10)) == 1


async def test_results_are_fetchable_after_a_dropped_connection(daemon: RunningDaemon) -> None:
    daemon.core.manager.set_paused(True)
    client = await DaemonClient.connect(daemon.url, daemon.token)
    job = await client.submit(gen())
    await client.close()  # the designer's laptop lid closes
    daemon.core.manager.set_paused(False)
    for _ in range(100):
        record = daemon.core.ledger.get(job.job_id)
        if record is not None and record.state.final:
            break
        await asyncio.sleep(0.05)
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        fetched, state = await client.fetch(job.job_id)
        await fetched.wait()
        direct = await run(client, gen())
    assert state.job.state == "done"
    assert [d for _, d in fetched.results] == direct


async def test_fetch_of_a_running_job_follows_it_to_the_end(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as first:
        job = await first.submit(gen(steps=20, width=128, height=128))
        async with await DaemonClient.connect(daemon.url, daemon.token) as second:
            followed, _ = await second.fetch(job.job_id)
            await followed.wait()
            assert len(followed.results) == 1


async def test_interactive_jobs_run_before_queued_batch_jobs(daemon: RunningDaemon) -> None:
    daemon.core.manager.set_paused(True)
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        batch = [await client.submit(gen(seed=i), priority="batch") for i in range(2)]
        interactive = await client.submit(gen(seed=9))
        assert daemon.core.manager.position(interactive.job_id) == 1
        daemon.core.manager.set_paused(False)
        for job in [*batch, interactive]:
            await job.wait()
    order = sorted(daemon.core.ledger.recent(10), key=lambda j: j.started_at or 0)
    assert order[0].job_id == interactive.job_id


async def test_clients_take_turns_so_a_long_script_does_not_starve_a_designer(
        daemon: RunningDaemon) -> None:
    daemon.core.manager.set_paused(True)
    script_token = daemon.pair("batch-script")
    async with await DaemonClient.connect(daemon.url, script_token) as script, \
            await DaemonClient.connect(daemon.url, daemon.token) as designer:
        script_jobs = [await script.submit(gen(seed=i)) for i in range(5)]
        fill = await designer.submit(gen(seed=99))
        assert daemon.core.manager.position(fill.job_id) == 2
        daemon.core.manager.set_paused(False)
        for job in [*script_jobs, fill]:
            await job.wait()
    order = [j.job_id for j in sorted(daemon.core.ledger.recent(10), key=lambda j: j.started_at or 0)]
    assert order.index(fill.job_id) == 1


async def test_a_failing_job_fails_alone_and_the_next_one_runs(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        # a raw RGBA blob whose bytes do not match its declared size fails at decode time
        sha = await client.upload(b"\x00" * 10, "rgba8", 64, 64)
        with pytest.raises(RemoteError) as info:
            await run(client, JobParams(kind="refine", model="demo", image=sha, steps=2, seed=1))
        assert (info.value.code, info.value.field) == ("invalid_input", "image")
        assert len(await run(client, gen())) == 1


async def test_queued_jobs_survive_a_restart(daemon: RunningDaemon) -> None:
    daemon.core.manager.set_paused(True)
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        ids = [(await client.submit(gen(seed=i))).job_id for i in range(3)]
    await daemon.server.close()
    await daemon.core.stop()

    settings = Settings()
    core = DaemonCore(daemon.paths, settings, LocalExecutor(diffusers_engine(daemon.paths, settings.engine)))
    await core.start()
    server = WebSocketServer(core)
    url = await server.start("127.0.0.1", 0)
    try:
        async with await DaemonClient.connect(url, daemon.token) as client:
            for job_id in ids:
                job, _ = await client.fetch(job_id)
                await job.wait()
                assert len(job.results) == 1
        records = [core.ledger.get(job_id) for job_id in ids]
        assert [(r.state.value, r.attempts) for r in records if r] == [("done", 1)] * 3
    finally:
        await server.close()
        await core.stop()


async def test_status_reports_device_loaded_models_and_queue(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        await run(client, gen())
        status = await client.status()
    assert status.device is not None and status.device.type == "cpu"
    assert status.device.memory_total_bytes > 0
    assert status.loaded == ["demo"]
    assert (status.queue.queued, status.queue.running) == (0, 0)

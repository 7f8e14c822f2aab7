"""The job tests every executor passes, through a real daemon on 127.0.0.1 with the tiny demo
model. `test_local.py` and `test_ray.py` run them by subclassing `JobSuite` and providing a
`harness` fixture that says how to make the executor."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
from layerbridge.daemon.app import DaemonCore
from layerbridge.daemon.auth import TokenStore
from layerbridge.daemon.client import DaemonClient, Job, JobEvent, RemoteError
from layerbridge.daemon.config import Paths, Settings
from layerbridge.daemon.executors.base import Executor
from layerbridge.daemon.protocol.messages import JobParams, JobProgress, JobResult, JobStarted
from layerbridge.daemon.server import WebSocketServer
from PIL import Image

from ..conftest import png


def suite_settings() -> Settings:
    """Settings every leg's engines use: one torch thread (bytes compare across processes) and a
    preview at every step."""
    settings = Settings()
    settings.engine.threads = 1
    settings.engine.preview_interval_s = 0.0
    return settings


def gen(**kw: object) -> JobParams:
    fields: dict[str, object] = dict(kind="generate", model="demo", prompt="a red fox",
                                     width=64, height=64, steps=3, seed=7)
    fields.update(kw)
    return JobParams.model_validate(fields)


@dataclass
class Daemon:
    url: str
    core: DaemonCore
    token: str


@dataclass
class Harness:
    """Starts daemons on one data dir; `executor()` gives each a fresh (or a borrowed) executor."""

    paths: Paths
    executor: Callable[[], Executor]
    token: str = ""

    @asynccontextmanager
    async def daemon(self) -> AsyncIterator[Daemon]:
        core = DaemonCore(self.paths, suite_settings(), self.executor())
        await core.start()
        await core.executor.ready()
        server = WebSocketServer(core)
        url = await server.start("127.0.0.1", 0)
        if not self.token:
            store = TokenStore(self.paths.ledger)
            self.token = store.pair("suite-client", "client")
            store.close()
        try:
            yield Daemon(url, core, self.token)
        finally:
            await server.close()
            await core.stop()

    @asynccontextmanager
    async def client(self) -> AsyncIterator[tuple[Daemon, DaemonClient]]:
        async with self.daemon() as d, await DaemonClient.connect(d.url, d.token) as client:
            yield d, client


async def run(client: DaemonClient, params: JobParams, **kw: object) -> list[bytes]:
    job = await client.submit(params, **kw)  # type: ignore[arg-type]
    await job.wait()
    return [data for _, data in job.results]


async def first_progress(job: Job) -> None:
    async for event in job.events():
        if isinstance(event.message, JobProgress):
            return
    raise AssertionError(f"job {job.job_id} ended before any progress")


class JobSuite:
    async def test_generate_returns_pngs_of_the_asked_size_with_their_seeds(
        self, harness: Harness
    ) -> None:
        async with harness.client() as (_, client):
            job = await client.submit(gen(width=96, height=64, batch=2))
            events: list[JobEvent] = []
            await job.wait(events.append)
        kinds = [type(e.message) for e in events]
        assert kinds[0] is JobStarted and kinds.count(JobResult) == 2
        assert [r.seed for r, _ in job.results] == [7, 8]
        for result, data in job.results:
            assert Image.open(io.BytesIO(data)).size == (96, 64) == (result.width, result.height)
            assert result.params.seed == 7

    async def test_same_seed_gives_same_bytes_and_other_seed_other_bytes(
        self, harness: Harness
    ) -> None:
        async with harness.client() as (_, client):
            a, b, c = [await run(client, gen(seed=s)) for s in (1, 1, 2)]
        assert a == b and a != c

    async def test_progress_counts_every_step_and_carries_previews(self, harness: Harness) -> None:
        async with harness.client() as (_, client):
            job = await client.submit(gen(steps=4))
            events: list[JobEvent] = []
            await job.wait(events.append)
        progress = [e for e in events if isinstance(e.message, JobProgress)]
        assert [p.message.step for p in progress] == [1, 2, 3, 4]  # type: ignore[attr-defined]
        assert all(Image.open(io.BytesIO(p.payload or b"")).format == "PNG" for p in progress)

    async def test_cancel_stops_a_running_job_at_the_next_step(self, harness: Harness) -> None:
        async with harness.client() as (d, client):
            job = await client.submit(gen(width=256, height=256, steps=150))
            await first_progress(job)
            await client.cancel(job.job_id)
            with pytest.raises(RemoteError) as info:
                await job.wait()
            assert info.value.code == "cancelled"
            # the worker is free again: the next job runs
            assert len(await run(client, gen())) == 1
            record = d.core.ledger.get(job.job_id)
        assert record is not None and record.state.value == "cancelled"

    async def test_cancel_of_a_queued_job_never_runs_it(self, harness: Harness) -> None:
        async with harness.client() as (d, client):
            d.core.manager.set_paused(True)
            job = await client.submit(gen())
            await client.cancel(job.job_id)
            with pytest.raises(RemoteError, match="cancelled"):
                await job.wait()
            record = d.core.ledger.get(job.job_id)
        assert record is not None and record.attempts == 0

    async def test_an_engine_error_comes_back_typed_and_the_next_job_runs(
        self, harness: Harness
    ) -> None:
        async with harness.client() as (_, client):
            tiny = await client.upload(png(4, 4))
            with pytest.raises(RemoteError) as info:
                await run(client, JobParams(kind="refine", model="demo", image=tiny, steps=2,
                                            seed=1))
            assert (info.value.code, info.value.field) == ("invalid_input", "image")
            assert "smaller than 8x8" in info.value.message
            assert len(await run(client, gen())) == 1

    async def test_concurrent_jobs_all_finish_with_their_own_results(
        self, harness: Harness
    ) -> None:
        async with harness.client() as (_, client):
            jobs = [await client.submit(gen(seed=i, steps=4)) for i in range(4)]
            await asyncio.gather(*(job.wait() for job in jobs))
        images = [job.results[0][1] for job in jobs]
        assert len(set(images)) == 4

    async def test_interactive_jobs_run_before_queued_batch_jobs(self, harness: Harness) -> None:
        async with harness.client() as (d, client):
            d.core.manager.set_paused(True)
            batch = [await client.submit(gen(seed=i), priority="batch") for i in range(3)]
            interactive = await client.submit(gen(seed=9))
            assert d.core.manager.position(interactive.job_id) == 1
            d.core.manager.set_paused(False)
            for job in [*batch, interactive]:
                await job.wait()
            order = sorted(d.core.ledger.recent(10), key=lambda j: j.started_at or 0)
        assert order[0].job_id == interactive.job_id

    async def test_running_and_queued_jobs_are_resubmitted_after_a_restart(
        self, harness: Harness
    ) -> None:
        async with harness.client() as (_, client):
            long = await client.submit(gen(width=128, height=128, steps=80))
            queued = [await client.submit(gen(seed=i)) for i in range(3)]
            await first_progress(long)
        # the daemon stopped while `long` ran: the ledger keeps it, the next daemon runs it again
        ids = [long.job_id, *(job.job_id for job in queued)]
        async with harness.client() as (d, client):
            for job_id in ids:
                job, _ = await client.fetch(job_id)
                await job.wait()
                assert len(job.results) == 1
            records = [d.core.ledger.get(job_id) for job_id in ids]
        assert [r.state.value for r in records if r] == ["done"] * 4
        assert records[0] is not None and records[0].attempts == 2

    async def test_status_reports_device_loaded_models_and_queue(self, harness: Harness) -> None:
        async with harness.client() as (_, client):
            await run(client, gen())
            status = await client.status()
        assert status.device is not None and status.device.type == "cpu"
        assert status.device.memory_total_bytes > 0
        assert status.loaded == ["demo"]
        assert (status.queue.queued, status.queue.running) == (0, 0)

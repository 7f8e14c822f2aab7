"""What the job manager adds over any executor (tests/executors/suite.py holds those): chosen
seeds, idempotent job ids, fetch after a reconnect, fair turns between clients, failures."""

from __future__ import annotations

import asyncio
import io

import pytest
from layerbridge.daemon.client import DaemonClient, RemoteError
from layerbridge.daemon.protocol.messages import JobParams, StatusRequest
from PIL import Image

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


async def test_resubmitting_a_finished_job_subscribes_to_nothing(daemon: RunningDaemon) -> None:
    # A finished job sends no more events: following it would only keep the connection in the
    # manager's table until it closes (a script that resubmits in a loop grew it without bound).
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        first = await client.submit(gen(), job_id="batch-row-7")
        await first.wait()
        again = await client.submit(gen(), job_id="batch-row-7")
        assert again.duplicate
        assert "batch-row-7" not in daemon.core.manager._subscribers


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


async def test_fetching_a_job_the_client_already_holds_adds_no_second_copy(daemon: RunningDaemon) -> None:
    # `layerbridge batch` re-attaches with fetch after a duplicate submit; when the job ended in
    # between, the replay repeats what the subscription already delivered.
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        job = await client.submit(gen(batch=2), job_id="row-3")
        await job.wait()
        fetched, state = await client.fetch("row-3")
        await client.request(StatusRequest())  # frames keep their order: the replay is in
        await fetched.wait()
    assert fetched is job and state.job.state == "done"
    assert sorted(result.index for result, _ in job.results) == [0, 1]


async def test_fetch_of_a_running_job_follows_it_to_the_end(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as first:
        job = await first.submit(gen(steps=20, width=128, height=128))
        async with await DaemonClient.connect(daemon.url, daemon.token) as second:
            followed, _ = await second.fetch(job.job_id)
            await followed.wait()
            assert len(followed.results) == 1


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
        # a PNG whose header is sound but whose pixels are not passes the upload's checks and
        # fails when the job decodes it
        sha = await client.upload(png(64, 64)[:33] + b"\x00garbage" * 8)
        with pytest.raises(RemoteError) as info:
            await run(client, JobParams(kind="refine", model="demo", image=sha, steps=2, seed=1))
        assert (info.value.code, info.value.field) == ("invalid_input", "image")
        assert len(await run(client, gen())) == 1

"""Faults the daemon must survive: GPU out of memory, a corrupt model, a full disk, a client
that vanishes mid-job. Each fails alone, with a clear error, and the next job runs."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from layerbridge.daemon.client import DaemonClient, RemoteError
from layerbridge.daemon.engine.registry import Registry
from layerbridge.daemon.protocol.messages import JobList, JobListReply, JobParams, JobProgress

from ..conftest import RunningDaemon


def gen(**kw: object) -> JobParams:
    fields: dict[str, object] = dict(kind="generate", model="demo", width=64, height=64, steps=2, seed=1)
    fields.update(kw)
    return JobParams.model_validate(fields)


async def test_out_of_memory_fails_that_job_and_the_next_one_runs(
        daemon: RunningDaemon, monkeypatch: pytest.MonkeyPatch) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        monkeypatch.setenv("LAYERBRIDGE_FAULT", "oom")  # the engine's documented fault hook
        with pytest.raises(RemoteError) as info:
            await (await client.submit(gen())).wait()
        assert info.value.code == "out_of_memory"
        monkeypatch.delenv("LAYERBRIDGE_FAULT")
        job = await (await client.submit(gen())).wait()
        assert len(job.results) == 1


async def test_a_corrupt_model_gives_a_clear_error_and_the_registry_stays_usable(daemon: RunningDaemon) -> None:
    broken = daemon.paths.root / "broken-model"
    shutil.copytree(daemon.paths.models / "demo", broken)
    for weights in broken.rglob("*.safetensors"):
        weights.write_bytes(b"\x00garbage" * 100)
    Registry(daemon.paths).register("broken", broken, kind="checkpoint", arch="sd15", format="diffusers")
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        with pytest.raises(RemoteError) as info:
            await (await client.submit(gen(model="broken"))).wait()
        assert info.value.code == "model_load_failed" and "broken" in info.value.message
        assert {"demo", "broken"} <= {m.id for m in daemon.core.models()}
        assert len((await (await client.submit(gen())).wait()).results) == 1


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@pytest.mark.skipif(not can_mount(), reason="needs root to mount a small tmpfs as a full disk")
async def test_a_full_disk_fails_the_job_and_keeps_the_ledger_consistent(daemon: RunningDaemon) -> None:
    blobs = daemon.core.blobs.root
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(blobs)], check=True)
    try:
        (blobs / "filler").write_bytes(b"\x00" * (60 * 1024))
        async with await DaemonClient.connect(daemon.url, daemon.token) as client:
            job = await client.submit(gen(width=512, height=512))
            with pytest.raises(RemoteError) as info:
                await job.wait()
            assert info.value.code == "storage_failed"
            record = daemon.core.ledger.get(job.job_id)
            assert record is not None and record.state.value == "failed" and record.results == []
            (blobs / "filler").unlink()  # space again: the daemon serves the next job
            assert len((await (await client.submit(gen())).wait()).results) == 1
    finally:
        subprocess.run(["umount", "-l", str(blobs)], check=True)


async def test_a_client_that_disconnects_mid_job_fetches_the_result_later(daemon: RunningDaemon) -> None:
    client = await DaemonClient.connect(daemon.url, daemon.token)
    job = await client.submit(gen(width=128, height=128, steps=30))
    async for event in job.events():
        if isinstance(event.message, JobProgress):
            break
    await client.close()  # mid-run
    async with await DaemonClient.connect(daemon.url, daemon.token) as again:
        fetched, state = await again.fetch(job.job_id)
        assert state.job.state in ("running", "done")
        await fetched.wait()
        assert len(fetched.results) == 1 and fetched.results[0][0].seed == 1
    record = daemon.core.ledger.get(job.job_id)
    assert record is not None and record.attempts == 1


async def test_a_failed_jobs_error_read_back_later_names_no_folder_of_the_daemon(daemon: RunningDaemon) -> None:
    broken = daemon.paths.root / "secret-project" / "broken-model"
    shutil.copytree(daemon.paths.models / "demo", broken)
    Registry(daemon.paths).register("broken", broken, kind="checkpoint", arch="sd15", format="diffusers")
    shutil.rmtree(broken / "unet")  # moved away by hand after it was added
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        handle = await client.submit(gen(model="broken"))
        with pytest.raises(RemoteError):
            await handle.wait()
        _, state = await client.fetch(handle.job_id)
        listed = await client.request(JobList())
    assert isinstance(listed, JobListReply)
    errors = [state.job.error] + [j.error for j in listed.jobs if j.job_id == handle.job_id]
    assert len(errors) == 2
    for error in errors:
        assert error is not None and "secret-project" not in error.message
    async with await DaemonClient.connect(daemon.url, daemon.admin_token) as admin:
        _, whole = await admin.fetch(handle.job_id)
    assert whole.job.error is not None and "secret-project" in whole.job.error.message

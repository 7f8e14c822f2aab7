"""Cancel against the daemon stopping: a cancel the client was told `ok` for is never undone."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from layerbridge.daemon.engine.api import EngineImage, StepProgress
from layerbridge.daemon.executors.base import CancelToken, Executor, ExecutorStatus, Task
from layerbridge.daemon.jobs.blobstore import BlobStore
from layerbridge.daemon.jobs.ledger import Ledger
from layerbridge.daemon.jobs.manager import JobManager
from layerbridge.daemon.jobs.state import JobState
from layerbridge.daemon.protocol.messages import JobParams

PARAMS = JobParams(kind="generate", model="demo", prompt="a cat", seed=5)


class LongStep(Executor):
    """An engine in the middle of a long step: it would see a cancel only when the step ends."""

    def __init__(self) -> None:
        self.running = asyncio.Event()

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def run(self, task: Task, on_progress: Callable[[StepProgress], None],
                  cancel: CancelToken) -> list[EngineImage]:
        self.running.set()
        await asyncio.Event().wait()  # the step outlasts the daemon
        return []

    def status(self) -> ExecutorStatus:
        return ExecutorStatus(device=None, loaded=[])


def manager(root: Path, executor: Executor) -> JobManager:
    return JobManager(Ledger(root / "ledger.db"), BlobStore(root / "blobs"), executor,
                      lambda model_id, field: None)


async def test_a_running_job_cancelled_before_a_shutdown_does_not_run_again(tmp_path: Path) -> None:
    executor = LongStep()
    first = manager(tmp_path, executor)
    await first.start()
    job = await first.submit(PARAMS, None, "anna", "interactive", None)
    await executor.running.wait()
    await first.cancel(job.job_id)  # the client is told `ok`
    await first.stop()  # before the engine's next step
    assert (record := first.ledger.get(job.job_id)) is not None
    assert record.state is JobState.CANCELLED
    first.ledger.close()
    after = manager(tmp_path, LongStep())
    assert after.ledger.unfinished() == []
    after.ledger.close()


async def test_a_running_job_cut_short_by_a_shutdown_runs_again(tmp_path: Path) -> None:
    executor = LongStep()
    first = manager(tmp_path, executor)
    await first.start()
    job = await first.submit(PARAMS, None, "anna", "interactive", None)
    await executor.running.wait()
    await first.stop()
    first.ledger.close()
    after = manager(tmp_path, LongStep())
    assert [j.job_id for j in after.ledger.unfinished()] == [job.job_id]
    after.ledger.close()

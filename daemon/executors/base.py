"""Where jobs run. The job manager talks only to this interface; `local` runs jobs in a worker
thread of this process, `ray` on a cluster. Torch-free."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from ..engine.api import EngineImage, StepProgress
from ..protocol.messages import DeviceInfo, JobParams

CancelToken = threading.Event

# A plain step report wakes the event loop (and, through it, every watching client) at most this
# often. On a machine with few cores each wake takes a core from torch's worker threads mid-step:
# per-step wakes of a 20-step job cost ~10 % of its time on 2 cores; ten a second look the same.
PROGRESS_INTERVAL_S = 0.1


def throttled(report: Callable[[StepProgress], None], interval_s: float = PROGRESS_INTERVAL_S,
              clock: Callable[[], float] = time.monotonic) -> Callable[[StepProgress], None]:
    """`report`, passed only the steps worth a wake: the first, the last, any carrying a
    preview (already rationed by the engine) or a training loss (each point of the loss curve),
    a new phase, and otherwise one per interval."""
    last_at = float("-inf")
    last_phase: str | None = None

    def maybe(p: StepProgress) -> None:
        nonlocal last_at, last_phase
        now = clock()
        due = (p.preview is not None or p.loss is not None or p.step <= 1 or p.step >= p.steps
               or p.phase != last_phase or now - last_at >= interval_s)
        if due:
            last_at, last_phase = now, p.phase
            report(p)

    return maybe


@dataclass(frozen=True)
class Task:
    job_id: str
    params: JobParams
    seed: int
    inputs: dict[str, Image.Image] = field(default_factory=dict)
    # train jobs: true when a job of higher priority waits (the job steps aside between steps)
    should_yield: Callable[[], bool] = lambda: False


@dataclass(frozen=True)
class ExecutorStatus:
    device: DeviceInfo | None
    loaded: list[str]
    workers: int = 1


class Executor(ABC):
    """Runs tasks. `run` reports progress through `on_progress` (called on the event loop) and
    must raise `errors.Cancelled` soon after `cancel` is set."""

    slots: int = 1  # how many tasks may run at once

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def run(
        self, task: Task, on_progress: Callable[[StepProgress], None], cancel: CancelToken
    ) -> list[EngineImage]: ...

    @abstractmethod
    def status(self) -> ExecutorStatus: ...

    async def ready(self) -> None:
        """Wait until the executor can run a job without a cold start (models not included)."""
        return None

    async def unload_all(self) -> None:
        return None

    async def unload(self, model_id: str) -> bool:
        """Free one resident model (an entry of `status().loaded`); False when none had it."""
        return False

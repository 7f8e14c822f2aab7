"""Where jobs run. The job manager talks only to this interface; `local` runs jobs in a worker
thread of this process, `ray` on a cluster. Torch-free."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from ..engine.api import EngineImage, StepProgress
from ..protocol.messages import DeviceInfo, JobParams

CancelToken = threading.Event


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

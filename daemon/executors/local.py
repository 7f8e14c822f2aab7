"""The default executor: one engine on this machine's device, driven from one worker thread so
the event loop never waits on the GPU. The engine (torch) is imported in that thread only."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from ..config import EngineSettings, Paths
from ..engine.api import Engine, EngineImage, StepProgress
from .base import CancelToken, Executor, ExecutorStatus, Task, throttled

log = logging.getLogger("layerbridge.executor")

EngineFactory = Callable[[], Engine]


def diffusers_engine(paths: Paths, settings: EngineSettings) -> EngineFactory:
    def make() -> Engine:
        from ..engine.engine import DiffusersEngine

        return DiffusersEngine(paths, settings)

    return make


def _log_failure(future: asyncio.Future[Engine]) -> None:
    if not future.cancelled() and future.exception() is not None:
        # each job retries and reports the failure to its client; this only tells the log early
        log.error("the engine failed to start: %s", future.exception())


class LocalExecutor(Executor):
    def __init__(self, factory: EngineFactory) -> None:
        self._factory = factory
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="layerbridge-engine")
        self._engine: Engine | None = None
        self._ready: asyncio.Future[Engine] | None = None

    async def start(self) -> None:
        # Load torch now, in the worker thread, so the first job does not pay for it and
        # `status` can report the device early.
        loop = asyncio.get_running_loop()
        self._ready = asyncio.ensure_future(loop.run_in_executor(self._pool, self._make))
        self._ready.add_done_callback(_log_failure)

    def _make(self) -> Engine:
        if self._engine is None:
            self._engine = self._factory()
        return self._engine

    async def close(self) -> None:
        # Do not wait: the thread may be deep in torch's import or a GPU step; the job manager
        # has already put an interrupted job back in the ledger's queue.
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def run(
        self, task: Task, on_progress: Callable[[StepProgress], None], cancel: CancelToken
    ) -> list[EngineImage]:
        loop = asyncio.get_running_loop()

        @throttled
        def report(progress: StepProgress) -> None:
            loop.call_soon_threadsafe(on_progress, progress)

        def work() -> list[EngineImage]:
            engine = self._make()
            if task.params.kind == "train":
                return engine.train(task.job_id, task.params, task.seed, task.inputs, report,
                                    cancel.is_set, task.should_yield)
            return engine.run(task.params, task.seed, task.inputs, report, cancel.is_set)

        return await loop.run_in_executor(self._pool, work)

    async def ready(self) -> None:
        if self._ready is not None:
            await asyncio.shield(self._ready)

    def status(self) -> ExecutorStatus:
        engine = self._engine
        if engine is None:
            return ExecutorStatus(device=None, loaded=[])
        return ExecutorStatus(device=engine.device_info(), loaded=engine.loaded())

    async def unload_all(self) -> None:
        engine = self._engine
        if engine is not None:
            await asyncio.get_running_loop().run_in_executor(self._pool, engine.unload_all)

    async def unload(self, model_id: str) -> bool:
        engine = self._engine
        if engine is None:
            return False
        # on the engine's thread: after the running job's step, never under it
        return await asyncio.get_running_loop().run_in_executor(self._pool, engine.unload, model_id)

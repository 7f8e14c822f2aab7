"""One engine replica of the Ray executor: a Ray actor holding a warm `DiffusersEngine` on the GPU
Ray gave it. It streams a job's progress and result back as plain records, and takes cancel as
an explicit call (a `threading.Event` the engine polls at every step).

Runs inside Ray worker processes; the daemon side is `ray.py`. Imports ray lazily (node id only)
and torch only through the engine, in the worker.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..config import EngineSettings, Paths
from ..engine.api import Engine, EngineImage, StepProgress
from ..errors import LayerbridgeError, error_fields
from ..protocol.messages import DeviceInfo, JobParams
from .base import throttled

log = logging.getLogger("layerbridge.executor.ray")


@dataclass(frozen=True)
class ReplicaInfo:
    node_id: str
    device: DeviceInfo | None
    loaded: list[str]


@dataclass(frozen=True)
class Progress:
    step: int
    steps: int
    preview: Image.Image | None


@dataclass(frozen=True)
class Done:
    images: list[EngineImage]
    info: ReplicaInfo


@dataclass(frozen=True)
class Failed:
    """A `LayerbridgeError` raised in the replica, by code (exceptions do not cross Ray intact:
    their constructors take other arguments than `args`)."""

    code: str
    message: str
    field: str | None

    @classmethod
    def of(cls, exc: BaseException) -> Failed:
        """The record of any exception, by the wire's own mapping (its other keys, such as
        `retryable`, follow from the code on the daemon's side)."""
        fields = error_fields(exc)
        return cls(fields["code"], fields["message"], fields["field"])


Record = Progress | Done | Failed


def _node_id() -> str:
    import ray

    return str(ray.get_runtime_context().get_node_id())


class EngineReplica:
    """The actor's class; `ray.py` wraps it with `ray.remote(num_gpus=1, ...)`. Needs
    `max_concurrency` ≥ 2 so that `cancel` runs while `run` streams."""

    def __init__(self, data_dir: str, settings_json: str) -> None:
        # A node may keep the models elsewhere: LAYERBRIDGE_HOME set for `ray start` wins.
        root = os.environ.get("LAYERBRIDGE_HOME") or data_dir
        self._paths = Paths(Path(root))
        self._settings = EngineSettings.model_validate_json(settings_json)
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        # One job at a time: a cancelled job may still be winding down when the next arrives.
        self._running = threading.Lock()
        self._cancel: dict[str, threading.Event] = {}

    def _make(self) -> Engine:
        with self._lock:
            if self._engine is None:
                from ..engine.engine import DiffusersEngine

                self._engine = DiffusersEngine(self._paths, self._settings)
            return self._engine

    def info(self) -> ReplicaInfo:
        engine = self._engine
        if engine is None:
            return ReplicaInfo(_node_id(), None, [])
        return ReplicaInfo(_node_id(), engine.device_info(), engine.loaded())

    def warm(self) -> ReplicaInfo:
        """Import torch and open the device now, so the first job does not pay for it."""
        self._make()
        return self.info()

    def run(self, job_id: str, params: JobParams, seed: int,
            inputs: Mapping[str, Image.Image]) -> Iterator[Record]:
        """Yields `Progress` records, then one `Done` or `Failed`."""
        cancel = self._cancel[job_id] = threading.Event()
        records: queue.SimpleQueue[Record] = queue.SimpleQueue()

        @throttled  # each record crosses the cluster to the daemon
        def report(p: StepProgress) -> None:
            records.put(Progress(p.step, p.steps, p.preview))

        def work() -> None:
            try:
                with self._running:
                    images = self._make().run(params, seed, inputs, report, cancel.is_set)
                records.put(Done(images, self.info()))
            except LayerbridgeError as exc:
                records.put(Failed.of(exc))
            except Exception as exc:  # a bug: the daemon reports `internal`, the node logs it
                log.exception("job %s failed in the replica", job_id)
                records.put(Failed.of(exc))

        # The engine runs in its own thread so this generator can yield while it samples.
        thread = threading.Thread(target=work, name=f"layerbridge-job-{job_id}", daemon=True)
        thread.start()
        try:
            while True:
                record = records.get()
                yield record
                if not isinstance(record, Progress):
                    return
        finally:
            cancel.set()  # the caller went away: stop sampling at the next step
            thread.join()
            self._cancel.pop(job_id, None)

    def cancel(self, job_id: str) -> bool:
        """Stop `job_id` at its next step; False when this replica is not running it."""
        event = self._cancel.get(job_id)
        if event is None:
            return False
        event.set()
        return True

    def unload_all(self) -> None:
        if self._engine is not None:
            self._engine.unload_all()

    def unload(self, model_id: str) -> bool:
        return self._engine is not None and self._engine.unload(model_id)


def rebuild_error(failed: Failed) -> LayerbridgeError:
    """The daemon's own exception class for a replica's `Failed` record, code, message and
    field intact; an unknown code stays a `LayerbridgeError` carrying it."""
    cls = _by_code().get(failed.code)
    if cls is None:
        return _RemoteCode(failed.code, failed.message, failed.field)
    exc = cls.__new__(cls)
    LayerbridgeError.__init__(exc, failed.message, field=failed.field)
    return exc


class _RemoteCode(LayerbridgeError):
    def __init__(self, code: str, message: str, field: str | None) -> None:
        super().__init__(message, field=field)
        self.code = code  # type: ignore[misc]


def _by_code() -> dict[str, type[LayerbridgeError]]:
    found: dict[str, type[LayerbridgeError]] = {}
    todo: list[type[LayerbridgeError]] = [LayerbridgeError]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.code, cls)
        todo += cls.__subclasses__()
    return found

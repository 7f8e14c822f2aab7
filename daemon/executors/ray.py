"""The scale-out executor: the same `Executor` interface on a Ray cluster, one engine replica (a
Ray actor with `num_gpus=1`) per GPU, each keeping its models warm.

The daemon keeps the queue, the ledger and the protocol; Ray only places replicas and carries
calls. A replica lost with its node is probed until Ray restarts it elsewhere; its job runs
again on a live replica. Cancel is an explicit call into the replica: cancelling the awaiting
asyncio task would not reach the remote work. Ray's token auth is always on.

Only this module and `ray_replica` import ray (an optional extra).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import EngineSettings, Paths
from ..engine.api import EngineImage, ProgressSink, StepProgress
from ..errors import Cancelled, LayerbridgeError, Unsupported

# Before ray is imported: Ray reads its auth mode from the environment once per process.
os.environ.setdefault("RAY_AUTH_MODE", "token")

try:
    import ray
    from ray.exceptions import GetTimeoutError, RayActorError
except ImportError:  # pragma: no cover - exercised by installs without the extra
    raise Unsupported(
        "the Ray executor needs the optional 'ray' extra: pip install 'layerbridge[ray]' "
        "(or run `layerbridge serve` without --executor ray)"
    ) from None

from ..protocol.messages import DeviceInfo
from .base import CancelToken, Executor, ExecutorStatus, Task
from .ray_replica import Done, EngineReplica, Failed, Progress, ReplicaInfo, rebuild_error

log = logging.getLogger("layerbridge.executor.ray")

NAMESPACE = "layerbridge"
AUTH_MODE = "RAY_AUTH_MODE"
CANCEL_POLL_S = 0.05
PROBE_EVERY_S = 0.5
MAX_ATTEMPTS = 3  # a job whose replica dies this many times fails (it may be what kills them)
PLACEMENTS_KEPT = 1000


class ReplicaLost(Exception):
    """The replica's process or node went away mid-job."""


@dataclass(eq=False)
class Replica:
    index: int
    actor: Any  # ray.actor.ActorHandle
    info: ReplicaInfo | None = None
    lost: bool = False
    job_id: str | None = None  # the job it runs now


@dataclass
class _Pool:
    """Idle replicas, handed out one job at a time."""

    idle: list[Replica] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def release(self, replica: Replica) -> None:
        replica.job_id = None
        self.idle.append(replica)
        self.changed.set()

    async def acquire(self, cancel: CancelToken) -> Replica:
        while not self.idle:
            if cancel.is_set():
                raise Cancelled("cancelled while waiting for a worker")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), CANCEL_POLL_S * 4)
        return self.idle.pop(0)


def require_token_auth() -> None:
    """Ray's token auth is on for every cluster the daemon starts or joins. The token comes from
    RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token (Ray generates one for a local
    cluster); see docs/scale-out.md."""
    mode = os.environ.get(AUTH_MODE, "token").lower()
    if mode != "token":
        raise Unsupported(f"{AUTH_MODE}={mode!r}: Layerbridge runs Ray only with token auth "
                          f"(unset it or set {AUTH_MODE}=token)", field=AUTH_MODE)
    os.environ[AUTH_MODE] = "token"
    from ray._raylet import (  # type: ignore[attr-defined]
        AuthenticationMode,
        Config,
        get_authentication_mode,
    )

    if get_authentication_mode() != AuthenticationMode.TOKEN:
        Config.initialize("")  # ray was imported before the mode was set: make it reread it


class RayExecutor(Executor):
    """`workers`: how many replicas to start (default: the cluster's GPUs). `replica_options`
    override the actor's Ray options (`num_gpus` stays 1 per replica unless given)."""

    def __init__(self, paths: Paths, settings: EngineSettings, address: str | None = None, *,
                 workers: int | None = None, replica_options: dict[str, Any] | None = None) -> None:
        self._paths = paths
        self._settings = settings
        self._address = address
        self._workers = workers
        self._options = {"num_gpus": 1, **(replica_options or {})}
        self._replicas: list[Replica] = []
        self._pool: _Pool | None = None
        self._background: set[asyncio.Task[Any]] = set()
        self._warm: asyncio.Future[Any] | None = None
        self._owns_ray = False
        self.placements: OrderedDict[str, str] = OrderedDict()  # job_id → node that ran it
        self.slots = workers or 1

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        require_token_auth()
        if not ray.is_initialized():
            await asyncio.to_thread(self._init)
        n = self._workers or int(ray.cluster_resources().get("GPU", 0))  # type: ignore[no-untyped-call]
        if n < 1:
            raise Unsupported(f"the Ray cluster at {self._address or 'localhost'} has no GPU "
                              "(start its nodes with `ray start --num-gpus N`)")
        self.slots = n
        remote = ray.remote(EngineReplica).options(
            max_concurrency=4, max_restarts=-1, max_task_retries=0, **self._options)
        data_dir = str(self._paths.root)
        settings = self._settings.model_dump_json()
        self._replicas = [Replica(i, remote.remote(data_dir, settings)) for i in range(n)]
        self._pool = _Pool()
        self._warm = asyncio.ensure_future(asyncio.gather(
            *(self._warm_up(r) for r in self._replicas), return_exceptions=True))
        log.info("Ray executor: %d replica(s) on %s", n, self._address or "a local Ray")

    def _init(self) -> None:
        try:
            ray.init(address=self._address, namespace=NAMESPACE, include_dashboard=False,
                     logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = self._address or "a local Ray"
            raise Unsupported(
                f"cannot start or join {where}: {exc} (with token auth the cluster's token must "
                "be in RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token; see "
                "docs/scale-out.md)", field="ray_address") from None
        self._owns_ray = True

    async def _warm_up(self, replica: Replica) -> None:
        try:
            replica.info = await replica.actor.warm.remote()
        except RayActorError:
            self._lose(replica)
            return
        except Exception:
            log.exception("replica %d failed to start its engine", replica.index)
        assert self._pool is not None
        self._pool.release(replica)

    async def close(self) -> None:
        for task in list(self._background):
            task.cancel()
        if self._warm is not None:
            self._warm.cancel()
        for replica in self._replicas:
            with contextlib.suppress(Exception):
                ray.kill(replica.actor, no_restart=True)
        self._replicas = []
        if self._owns_ray:
            await asyncio.to_thread(ray.shutdown)
            self._owns_ray = False

    async def ready(self) -> None:
        if self._warm is not None:
            await asyncio.shield(self._warm)

    # ------------------------------------------------------------------ running

    async def run(
        self, task: Task, on_progress: Callable[[StepProgress], None], cancel: CancelToken
    ) -> list[EngineImage]:
        assert self._pool is not None, "start() first"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            replica = await self._pool.acquire(cancel)
            try:
                return await self._run_on(replica, task, on_progress, cancel)
            except ReplicaLost:
                self._lose(replica)
                log.warning("job %s: replica %d was lost (attempt %d of %d); running it again",
                            task.job_id, replica.index, attempt, MAX_ATTEMPTS)
            finally:
                if not replica.lost:
                    self._pool.release(replica)
        raise LayerbridgeError(f"job {task.job_id}: its worker was lost {MAX_ATTEMPTS} times; "
                               "see the Ray logs of the nodes")

    async def _run_on(self, replica: Replica, task: Task, on_progress: ProgressSink,
                      cancel: CancelToken) -> list[EngineImage]:
        replica.job_id = task.job_id
        # Each attempt has its own key in the replica: a cancel sent for an earlier attempt of
        # the same job (say by a daemon that stopped meanwhile) must not stop this one.
        attempt = f"{task.job_id}#{uuid.uuid4().hex[:8]}"
        stream = replica.actor.run.remote(attempt, task.params, task.seed, task.inputs)
        forward = asyncio.create_task(self._forward_cancel(replica, attempt, cancel))
        try:
            async for ref in stream:
                record = await ref
                if isinstance(record, Progress):
                    on_progress(StepProgress(record.step, record.steps, record.preview))
                elif isinstance(record, Done):
                    replica.info = record.info
                    self._placed(task.job_id, record.info.node_id)
                    return record.images
                elif isinstance(record, Failed):
                    raise rebuild_error(record)
            raise ReplicaLost("the replica's stream ended without a result")
        except RayActorError as exc:
            raise ReplicaLost(str(exc)) from None
        except asyncio.CancelledError:
            # the daemon is stopping: the remote work does not stop with this task
            replica.actor.cancel.remote(attempt)
            raise
        finally:
            forward.cancel()

    async def _forward_cancel(self, replica: Replica, job_id: str, cancel: CancelToken) -> None:
        while not cancel.is_set():
            await asyncio.sleep(CANCEL_POLL_S)
        replica.actor.cancel.remote(job_id)

    def _placed(self, job_id: str, node_id: str) -> None:
        self.placements[job_id] = node_id
        while len(self.placements) > PLACEMENTS_KEPT:
            self.placements.popitem(last=False)

    def _lose(self, replica: Replica) -> None:
        """Take a replica out of service until Ray has restarted it (on a node with a free GPU)."""
        if replica.lost:
            return
        replica.lost, replica.job_id = True, None
        probe = asyncio.create_task(self._probe(replica))
        self._background.add(probe)
        probe.add_done_callback(self._background.discard)

    async def _probe(self, replica: Replica) -> None:
        while True:
            await asyncio.sleep(PROBE_EVERY_S)
            try:
                info: ReplicaInfo = await asyncio.wait_for(replica.actor.warm.remote(), 600)
            except (RayActorError, GetTimeoutError, TimeoutError):
                continue
            log.info("replica %d is back on node %s", replica.index, info.node_id)
            replica.info = info
            replica.lost = False
            assert self._pool is not None
            self._pool.release(replica)
            return

    # ------------------------------------------------------------------ status

    def status(self) -> ExecutorStatus:
        live = [r for r in self._replicas if not r.lost]
        infos = [r.info for r in live if r.info is not None]
        devices = [i.device for i in infos if i.device is not None]
        loaded: list[str] = []
        for info in infos:
            loaded += [m for m in info.loaded if m not in loaded]
        return ExecutorStatus(device=cluster_device(devices, len(live), len(self._replicas)),
                              loaded=loaded, workers=len(live))

    def running(self) -> dict[str, str | None]:
        """Job id → the node of the replica running it now."""
        return {r.job_id: r.info.node_id if r.info else None
                for r in self._replicas if r.job_id is not None and not r.lost}

    def nodes(self) -> dict[int, str | None]:
        """Replica index → the node it last reported from (None before it warmed up)."""
        return {r.index: r.info.node_id if r.info else None for r in self._replicas}

    async def unload_all(self) -> None:
        await asyncio.gather(*(r.actor.unload_all.remote() for r in self._replicas if not r.lost),
                             return_exceptions=True)

    async def unload(self, model_id: str) -> bool:
        done = await asyncio.gather(*(r.actor.unload.remote(model_id) for r in self._replicas
                                      if not r.lost), return_exceptions=True)
        return any(d is True for d in done)  # a lost replica's error frees nothing


def cluster_device(devices: list[DeviceInfo], live: int, total: int) -> DeviceInfo | None:
    """One `DeviceInfo` for the tray: the replicas' devices summed, named by count and kind."""
    if not devices:
        return None
    names = sorted({d.name for d in devices})
    lost = f", {total - live} lost" if live < total else ""
    return DeviceInfo(
        name=f"Ray cluster: {live} worker{'s' if live != 1 else ''}{lost} ({', '.join(names)})",
        type=devices[0].type,
        dtype=devices[0].dtype,
        memory_used_bytes=sum(d.memory_used_bytes for d in devices),
        memory_total_bytes=sum(d.memory_total_bytes for d in devices),
    )

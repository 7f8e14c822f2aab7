"""The job manager: accepts jobs into the ledger, orders them (interactive before batch, then
first come), runs them through the executor, and fans their events out to subscribers.

Jobs and blobs belong to clients (see ledger.py): an `owner` of None is an admin, who sees all.
The ledger is written on one thread of its own, never on the event loop."""

from __future__ import annotations

import asyncio
import functools
import heapq
import logging
import secrets
import uuid
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from PIL import Image

from .. import image_io
from ..engine.api import EngineImage, StepProgress
from ..errors import (
    Busy,
    Cancelled,
    Conflict,
    InvalidInput,
    LayerbridgeError,
    Preempted,
    UnknownBlob,
    UnknownJob,
    error_fields,
)
from ..executors.base import CancelToken, Executor, Task
from ..protocol.blobs import blob_frames
from ..protocol.limits import ServerLimits
from ..protocol.messages import (
    BlobData,
    ErrorBody,
    JobAccepted,
    JobCancelled,
    JobDone,
    JobFailed,
    JobParams,
    JobProgress,
    JobResult,
    JobStarted,
    Message,
    QueueInfo,
    Region,
    ResultInfo,
)
from ..protocol.vocab import ImageFormat, Priority
from .blobstore import BlobMeta, BlobStore
from .ledger import PRIORITY, BlobClaim, JobRecord, Ledger, advance
from .state import JobState

T = TypeVar("T")

log = logging.getLogger("layerbridge.jobs")

PREVIEW_SIDE = 96


class Subscriber(Protocol):
    def deliver(self, message: Message, payload: bytes | memoryview | None = None) -> None:
        """Queue a message for the client; never blocks."""


class ModelCheck(Protocol):
    def __call__(self, model_id: str, field: str) -> None:
        """Raise UnknownModel (naming `field`) unless the registry holds the model."""


class JobManager:
    def __init__(self, ledger: Ledger, blobs: BlobStore, executor: Executor,
                 check_model: ModelCheck, limits: ServerLimits | None = None) -> None:
        self.ledger = ledger
        self.blobs = blobs
        self.executor = executor
        self._check_model = check_model
        self.limits = limits or ServerLimits()
        # one thread: SQLite writes stay in order, and none of them blocks the event loop
        self._db = ThreadPoolExecutor(1, thread_name_prefix="ledger")
        # (priority, fair tag, seq, job_id): see _enqueue
        self._heap: list[tuple[int, int, int, str]] = []
        self._keys: dict[str, tuple[int, int, int]] = {}
        self._vtime = 0
        self._client_tag: dict[str, int] = {}
        self._jobs: dict[str, JobRecord] = {}  # queued and running
        self._cancel: dict[str, CancelToken] = {}
        self._subscribers: dict[str, set[Subscriber]] = defaultdict(set)
        self._watchers: set[Subscriber] = set()
        self._wakeup = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self.paused = False
        self._stopping = False
        self._pending: set[asyncio.Future[None]] = set()
        self.on_change: Callable[[], None] = lambda: None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        for job in self.ledger.unfinished():
            if job.state is JobState.RUNNING:
                # The daemon died mid-job: run it again. Its results were never recorded.
                self.ledger.transition(job, JobState.QUEUED)
            self._enqueue(job)
        if self._jobs:
            log.info("resuming %d job(s) from the ledger", len(self._jobs))
        self._workers = [asyncio.create_task(self._work(), name=f"job-worker-{i}")
                         for i in range(self.executor.slots)]

    async def stop(self) -> None:
        self._stopping = True  # a job cut short now is requeued, not recorded as cancelled
        # ...unless a client cancelled it already (and was told `ok`) before its next step
        cancelled = {job_id for job_id, token in self._cancel.items() if token.is_set()}
        for token in self._cancel.values():
            token.set()
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        # Jobs stopped mid-run go back to the queue; they run again after a restart.
        self._db.shutdown(wait=True)  # what was written in the background is on disk
        for job in list(self._jobs.values()):
            if job.state is JobState.RUNNING:
                self.ledger.transition(
                    job, JobState.CANCELLED if job.job_id in cancelled else JobState.QUEUED)

    async def _io(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking ledger (or blob file) call on the ledger's thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._db, functools.partial(fn, *args, **kwargs))

    async def _transition(self, job: JobRecord, new: JobState, error: ErrorBody | None = None) -> None:
        advance(job, new, error)  # at once, so every later event sees the new state
        await self._io(self.ledger.record_state, job)

    # ------------------------------------------------------------------ requests

    async def submit(self, params: JobParams, job_id: str | None, client: str, priority: str,
                     subscriber: Subscriber | None, reply_to: str | None = None, *,
                     admin: bool = False) -> JobAccepted:
        """Accept a job for `client` (the ledger has it when this returns). The one check of its
        inputs before it is queued: models, blobs the client owns (any, for an admin), sizes."""
        if job_id is not None:
            existing = self._jobs.get(job_id) or await self._io(self.ledger.get, job_id)
            if existing is not None:
                if existing.client != client:
                    # another client's id: say nothing about that job, not even its kind
                    raise Conflict(f"job_id={job_id!r} is taken; choose another", field="job_id")
                return self._resubmitted(existing, params, subscriber, reply_to)
        if params.kind == "train":
            priority = "batch"  # hours of training never go before a designer's next fill
        self._check_quota(client, Priority(priority))
        claims = await self._io(self._claims, params, None if admin else client)
        self._validate(params, claims)
        job_id = job_id or uuid.uuid4().hex
        seed = params.seed if params.seed is not None else secrets.randbelow(2**32)
        job = await self._io(self.ledger.insert, job_id, client, priority, params, seed)
        if subscriber is not None:
            self._subscribers[job_id].add(subscriber)
        self._enqueue(job)
        accepted = JobAccepted(job_id=job_id, position=self.position(job_id) or 0, seed=seed,
                               reply_to=reply_to)
        # the reply id is the submitter's: a watcher must not take it for one of its own requests
        self._broadcast_watchers(accepted.model_copy(update={"reply_to": None}))
        self.on_change()
        return accepted

    def _resubmitted(self, job: JobRecord, params: JobParams, subscriber: Subscriber | None,
                     reply_to: str | None) -> JobAccepted:
        if job.params != params:
            raise Conflict(f"job_id={job.job_id!r} was already used for a different job",
                           field="job_id")
        if subscriber is not None and not job.state.final:  # a finished job has no events to send
            self._subscribers[job.job_id].add(subscriber)
        return JobAccepted(job_id=job.job_id, position=self.position(job.job_id) or 0,
                           seed=job.seed, duplicate=True, reply_to=reply_to)

    def _check_quota(self, client: str, priority: Priority) -> None:
        cap = (self.limits.max_queued_batch if priority is Priority.BATCH
               else self.limits.max_queued_interactive)
        rank = PRIORITY[priority]
        queued = sum(1 for j in self._jobs.values()
                     if j.client == client and j.priority == rank and j.state is JobState.QUEUED)
        if queued >= cap:
            raise Busy(f"{queued} {priority} jobs of this client are queued (at most {cap}): "
                       "wait for some to finish", field="priority")

    def _claims(self, params: JobParams, owner: str | None) -> dict[str, BlobClaim]:
        """What each input blob is, as its owner declared it (blocking: on the ledger thread).
        UnknownBlob for a blob the owner does not hold, whoever else does."""
        claims = {}
        for field, sha in params.blobs().items():
            claim = self._claim(sha, owner, field)
            if claim is None:
                raise UnknownBlob(sha, field)
            claims[field] = claim
        return claims

    def _claim(self, sha: str, owner: str | None, field: str) -> BlobClaim | None:
        if not self.blobs.has(sha):
            return None
        if owner is not None:
            return self.ledger.blob_owned(sha, owner)
        meta = self.blobs.meta(sha, field)
        return BlobClaim(meta.format, meta.width, meta.height)

    def _validate(self, params: JobParams, metas: dict[str, BlobClaim]) -> None:
        """Everything that can be checked before the job is accepted: model ids and blobs."""
        self._check_model(params.model, "model")
        for i, lora in enumerate(params.loras):
            self._check_model(lora.id, f"loras.{i}.id")
        for i, control in enumerate(params.control):
            if control.model is not None:
                self._check_model(control.model, f"control.{i}.model")
        for field, meta in metas.items():
            if meta.width is not None and meta.height is not None:
                image_io.check_size(field, meta.width, meta.height)
        image = metas.get("image")
        if params.canvas is not None and image is not None and image.width and image.height:
            image_io.check_canvas(params.canvas, image.width, image.height)
        if params.kind in ("inpaint", "expand") and params.image and params.mask:
            image, mask = metas["image"], metas["mask"]
            if (image.width, image.height) != (mask.width, mask.height):
                raise InvalidInput("mask", params.mask,
                                   f"mask is {mask.width}x{mask.height}, image is {image.width}x{image.height}")

    async def cancel(self, job_id: str, owner: str | None = None) -> None:
        """Cancel a job of `owner` (any job, for None). UnknownJob for another client's job."""
        job = self._jobs.get(job_id)
        if job is None:
            record = await self._io(self.ledger.get, job_id)
            if record is None or (owner is not None and record.client != owner):
                raise UnknownJob(job_id)
            return  # already final: cancelling is a no-op
        if owner is not None and job.client != owner:
            raise UnknownJob(job_id)
        if job.state is JobState.QUEUED:
            await self._finish(job, JobState.CANCELLED)  # told `cancelled` before the `ok`
        else:
            self._stop(job)

    def _stop(self, job: JobRecord) -> None:
        if job.state is JobState.QUEUED:
            self._later(self._finish(job, JobState.CANCELLED))
        elif (token := self._cancel.get(job.job_id)) is not None:
            token.set()  # takes effect at the engine's next step

    def _later(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def cancel_client(self, client: str) -> int:
        """Cancel every queued and running job of a client (its token was revoked)."""
        jobs = [j for j in self._jobs.values() if j.client == client]
        for job in jobs:
            self._stop(job)
        return len(jobs)

    def clients_with_jobs(self) -> set[str]:
        return {j.client for j in self._jobs.values()}

    async def fetch(self, job_id: str, subscriber: Subscriber | None,
                    owner: str | None = None) -> JobRecord:
        """A job of `owner` (any, for None), subscribing `subscriber` to its further events."""
        job = self._jobs.get(job_id) or await self._io(self.ledger.get, job_id)
        if job is None or (owner is not None and job.client != owner):
            raise UnknownJob(job_id)
        if subscriber is not None and not job.state.final:
            self._subscribers[job_id].add(subscriber)
        return job

    async def recent(self, limit: int, owner: str | None = None) -> list[JobRecord]:
        return await self._io(self.ledger.recent, limit, owner)

    async def results_frames(self, job: JobRecord) -> list[tuple[Message, bytes | memoryview | None]]:
        """blob.data frames + job.result for every finished image of a job (for job.fetch)."""
        out: list[tuple[Message, bytes | memoryview | None]] = []
        for result in job.results:
            meta, data = await asyncio.to_thread(self.blobs.read, result.blob)
            out += blob_frames(meta.sha256, data, result.format, result.width, result.height)
            out.append((JobResult(job_id=job.job_id, result=result), None))
        return out

    # ------------------------------------------------------------------ blob ownership

    async def own_blob(self, sha: str, client: str, format: ImageFormat, width: int | None,
                       height: int | None) -> None:
        await self._io(self.ledger.own_blob, sha, client, format, width, height)

    async def missing(self, shas: list[str], owner: str | None) -> list[str]:
        """Which blobs `owner` must upload: those it does not hold (any the store lacks, for
        an admin). Another client's blob counts as missing: existence is not revealed."""
        def find() -> list[str]:
            unique = list(dict.fromkeys(shas))
            held = set(unique) if owner is None else self.ledger.owned(unique, owner)
            return [s for s in unique if s not in held or not self.blobs.has(s)]

        return await self._io(find)

    async def blob_meta(self, sha: str, owner: str | None, field: str = "sha256") -> BlobMeta:
        """A blob `owner` may read, as it declared it; UnknownBlob otherwise."""
        def find() -> BlobMeta:
            claim = self._claim(sha, owner, field)
            if claim is None:
                raise UnknownBlob(sha, field)
            return BlobMeta(sha, self.blobs.meta(sha, field).size, claim.format, claim.width,
                            claim.height)

        return await self._io(find)

    async def finished_count(self) -> int:
        return await self._io(self.ledger.finished_count)

    async def cleanup_results(self, before: float) -> tuple[int, int, int]:
        """Forget jobs that ended before `before` and delete the blobs nothing kept names any more
        (older than `before` too): (jobs, blobs, bytes freed). One call on the ledger's thread,
        so no job is accepted between reading what is kept and sweeping the rest."""

        def clean() -> tuple[int, int, int]:
            jobs = self.ledger.forget_finished(before)
            blobs, freed = self.blobs.sweep(self.ledger.referenced_blobs(), before)
            return jobs, blobs, freed

        return await self._io(clean)

    def final_message(self, job: JobRecord) -> Message | None:
        """The event that ended a job (None while it is queued or running)."""
        match job.state:
            case JobState.DONE:
                return JobDone(job_id=job.job_id, results=len(job.results),
                               seconds=round((job.finished_at or 0) - (job.started_at or 0), 4))
            case JobState.CANCELLED:
                return JobCancelled(job_id=job.job_id)
            case JobState.FAILED:
                err = job.error or ErrorBody(code="failed", message="job failed")
                return JobFailed(job_id=job.job_id, code=err.code, message=err.message, field=err.field)
        return None

    def position(self, job_id: str) -> int | None:
        job = self._jobs.get(job_id)
        if job is None:
            return None
        if job.state is JobState.RUNNING:
            return 0
        running = sum(1 for j in self._jobs.values() if j.state is JobState.RUNNING)
        key = self._keys[job_id]
        ahead = sum(1 for jid, k in self._keys.items()
                    if k < key and self._jobs[jid].state is JobState.QUEUED)
        return running + ahead + 1

    def queue_info(self) -> QueueInfo:
        running = sum(1 for j in self._jobs.values() if j.state is JobState.RUNNING)
        return QueueInfo(queued=len(self._jobs) - running, running=running, paused=self.paused)

    def watch(self, subscriber: Subscriber) -> None:
        self._watchers.add(subscriber)

    def forget(self, subscriber: Subscriber) -> None:
        """A connection closed: stop delivering to it (its jobs keep running)."""
        self._watchers.discard(subscriber)
        for job_id, subs in list(self._subscribers.items()):
            subs.discard(subscriber)
            if not subs:
                del self._subscribers[job_id]

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        self._wakeup.set()
        self.on_change()

    # ------------------------------------------------------------------ running

    def _enqueue(self, job: JobRecord) -> None:
        """Queue a job. Within a priority, clients take turns (start-time fair queuing): a
        script that queues a hundred jobs does not make a designer's next fill wait for them."""
        tag = max(self._vtime, self._client_tag.get(job.client, 0)) + 1
        self._client_tag[job.client] = tag
        self._jobs[job.job_id] = job
        self._keys[job.job_id] = (job.priority, tag, job.seq)
        heapq.heappush(self._heap, (job.priority, tag, job.seq, job.job_id))
        self._wakeup.set()

    async def _next(self) -> JobRecord:
        while True:
            while self._heap and not self.paused:
                _, tag, _, job_id = heapq.heappop(self._heap)
                self._keys.pop(job_id, None)
                job = self._jobs.get(job_id)
                if job is not None and job.state is JobState.QUEUED:
                    self._vtime = max(self._vtime, tag)
                    return job
            self._wakeup.clear()
            await self._wakeup.wait()

    async def _work(self) -> None:
        while True:
            job = await self._next()
            try:
                await self._run(job)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug in one job must never stop the queue
                log.exception("job %s failed unexpectedly", job.job_id)
                if not job.state.final:
                    await self._finish(job, JobState.FAILED, ErrorBody(**error_fields(RuntimeError())))

    async def _run(self, job: JobRecord) -> None:
        token = CancelToken()
        self._cancel[job.job_id] = token
        await self._transition(job, JobState.RUNNING)
        self._emit(job.job_id, JobStarted(job_id=job.job_id))
        self.on_change()
        progress = self._progress_sink(job.job_id)
        try:
            claims = await self._io(self._job_claims, job)
            inputs = await asyncio.to_thread(self._load_inputs, job, claims)
            task = Task(job.job_id, job.params, job.seed, inputs,
                        should_yield=lambda: self._waiting_before(job.priority))
            images = await self.executor.run(task, progress, token)
            stored = await asyncio.to_thread(self._store_results, job, images)
        except Preempted:  # a train job between two steps: the waiting job goes first
            if not self._stopping and not token.is_set():
                await self._transition(job, JobState.QUEUED)
                self._enqueue(job)
            elif not self._stopping:
                await self._finish(job, JobState.CANCELLED)
            return
        except Cancelled:
            if not self._stopping:
                await self._finish(job, JobState.CANCELLED)
            return
        except LayerbridgeError as exc:
            log.info("job %s failed: %s", job.job_id, exc.message)
            await self._finish(job, JobState.FAILED, ErrorBody(**error_fields(exc)))
            return
        finally:
            self._cancel.pop(job.job_id, None)
        if token.is_set() and not self._stopping:  # cancel arrived after the last step: honour it
            await self._finish(job, JobState.CANCELLED)
            return
        await self._io(self.ledger.finish, job, [result for result, _ in stored])
        # the images go out from memory, as encoded: nothing is read back from disk
        for result, data in stored:
            for header, chunk in blob_frames(result.blob, data, result.format, result.width,
                                             result.height):
                self._emit(job.job_id, header, chunk)
            self._emit(job.job_id, JobResult(job_id=job.job_id, result=result))
        await self._finish(job, JobState.DONE)

    def _waiting_before(self, priority: int) -> bool:
        """Whether a queued job of higher priority waits (read from the engine's thread: one
        C-level copy of the dict's values, never iterated while the loop changes it)."""
        return not self.paused and any(key[0] < priority for key in list(self._keys.values()))

    def _progress_sink(self, job_id: str) -> Callable[[StepProgress], None]:
        def on_progress(p: StepProgress) -> None:
            if p.preview is None:
                self._emit(job_id, JobProgress(job_id=job_id, step=p.step, steps=p.steps,
                                               loss=p.loss, eta_s=p.eta_s, phase=p.phase))
                return
            preview = p.preview.convert("RGB")
            preview.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.BILINEAR)
            self._emit(job_id, JobProgress(job_id=job_id, step=p.step, steps=p.steps,
                                           preview=ImageFormat.PNG, preview_width=preview.width,
                                           preview_height=preview.height, loss=p.loss,
                                           eta_s=p.eta_s, phase=p.phase),
                       image_io.encode_png(preview))

        return on_progress

    def _job_claims(self, job: JobRecord) -> dict[str, BlobClaim | None]:
        return {field: self._claim(sha, job.client, field)
                for field, sha in job.params.blobs().items()}

    def _load_inputs(self, job: JobRecord, claims: dict[str, BlobClaim | None]) -> dict[str, Image.Image]:
        """Each input as its submitter declared it (an admin's job: as stored)."""
        inputs = {}
        for field, sha in job.params.blobs().items():
            stored, data = self.blobs.read(sha, field)
            claim = claims.get(field) or BlobClaim(stored.format, stored.width, stored.height)
            meta = BlobMeta(sha, stored.size, claim.format, claim.width, claim.height)
            inputs[field] = image_io.decode(meta, data, field)
        return inputs

    def _store_results(self, job: JobRecord, images: list[EngineImage]) -> list[tuple[ResultInfo, bytes]]:
        params = job.params.model_copy(update={"seed": job.seed})
        results = []
        fmt = ImageFormat(params.result_format)
        for index, out in enumerate(images):
            # rgba8: the pixels as they are, no PNG encoding on the way out (a client on the
            # same machine asks for it; a 1024² PNG costs ~120 ms to encode)
            data = image_io.encode(out.image, fmt)
            meta = self.blobs.put(data, fmt, out.image.width, out.image.height)
            region = out.region or Region(x=0, y=0, width=out.image.width, height=out.image.height)
            canvas = params.canvas
            placement = None if canvas is None else region.model_copy(
                update={"x": region.x + canvas.x, "y": region.y + canvas.y})
            results.append((ResultInfo(index=index, blob=meta.sha256, format=fmt,
                                       width=out.image.width, height=out.image.height,
                                       region=region, placement=placement, seed=out.seed,
                                       params=params), data))
        return results

    async def _finish(self, job: JobRecord, state: JobState, error: ErrorBody | None = None) -> None:
        # out of the queue first: no worker may start it while its state is written
        self._jobs.pop(job.job_id, None)
        self._keys.pop(job.job_id, None)
        if state is not JobState.DONE:
            await self._transition(job, state, error)
        message = self.final_message(job)
        assert message is not None
        self._emit(job.job_id, message)
        self._subscribers.pop(job.job_id, None)
        self.on_change()

    def _emit(self, job_id: str, message: Message, payload: bytes | memoryview | None = None) -> None:
        for sub in list(self._subscribers.get(job_id, ())):
            sub.deliver(message, payload)
        if isinstance(message, BlobData):
            return  # watchers (the tray) fetch result images on demand with blob.get
        for watcher in list(self._watchers):
            if watcher not in self._subscribers.get(job_id, ()):
                watcher.deliver(message, payload)

    def _broadcast_watchers(self, message: Message) -> None:
        for watcher in list(self._watchers):
            watcher.deliver(message)

"""The live queue and recent history: a table model fed by `job.list` (on connect) and every
job's events (watch), with result thumbnails fetched on demand; cancel, re-run, save results."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path

from layerbridge.daemon.protocol.messages import (
    JobAccepted,
    JobCancelled,
    JobDone,
    JobFailed,
    JobList,
    JobListReply,
    JobParams,
    JobProgress,
    JobResult,
    JobStarted,
    JobSummary,
    Message,
)
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QPixmap

from .connection import DaemonConnection
from .tablemodel import Column, RecordTableModel
from .tasks import spawn

THUMB = 48


@dataclass(frozen=True)
class JobRow:
    job_id: str
    state: str
    kind: str = ""
    model: str = ""
    prompt: str = ""
    client: str = ""
    seed: int | None = None
    step: int = 0
    steps: int = 0
    created_at: float = 0.0
    finished_at: float | None = None
    seconds: float | None = None
    error: str = ""
    results: tuple[str, ...] = ()
    params: JobParams | None = None

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    @property
    def progress(self) -> str:
        if self.state == "running" and self.steps:
            return f"running {self.step}/{self.steps}"
        if self.state == "failed" and self.error:
            first = self.error.splitlines()[0]
            return f"failed: {first[:60]}…" if len(first) > 60 or "\n" in self.error else (
                f"failed: {first}")
        return self.state

    @property
    def duration(self) -> str:
        if self.seconds is not None:
            return f"{self.seconds:.1f} s"
        if self.finished_at and self.created_at:
            return f"{self.finished_at - self.created_at:.1f} s"
        return ""


def row_of(summary: JobSummary, old: JobRow | None = None) -> JobRow:
    first = summary.results[0] if summary.results else None
    return JobRow(
        job_id=summary.job_id, state=summary.state, kind=summary.kind, model=summary.model,
        prompt=summary.prompt, client=summary.client,
        seed=first.seed if first else summary.seed,
        step=old.step if old else 0, steps=old.steps if old else 0,
        created_at=summary.created_at, finished_at=summary.finished_at,
        seconds=old.seconds if old else None,
        error=summary.error.message if summary.error else "",
        results=tuple(r.blob for r in summary.results),
        params=summary.params or (first.params if first else (old.params if old else None)))


JOB_COLUMNS: list[Column[JobRow]] = [
    Column("Prompt", lambda r: r.prompt or f"({r.kind})", tooltip=lambda r: f"job {r.job_id}"),
    Column("State", lambda r: r.progress, tooltip=lambda r: r.error or r.progress),
    Column("Model", lambda r: r.model),
    Column("Seed", lambda r: "" if r.seed is None else str(r.seed), align_right=True),
    Column("Duration", lambda r: r.duration, align_right=True),
    Column("Client", lambda r: r.client),
    Column("Started", lambda r: time.strftime("%H:%M:%S", time.localtime(r.created_at))
           if r.created_at else ""),
]


class JobsController(QObject):
    jobFailed = Signal(str, str)  # job id, message (for a notification)
    jobFinished = Signal(str, str)  # job id, final state
    progressed = Signal(str, int, int)  # job id, step, steps

    def __init__(self, connection: DaemonConnection, results_dir: Path,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.connection = connection
        self.results_dir = results_dir
        self.table: RecordTableModel[JobRow] = RecordTableModel(
            JOB_COLUMNS, key=lambda r: r.job_id, decoration=self._thumbnail)
        self.thumbnails: dict[str, QPixmap] = {}  # by job id: result or latest preview
        self._fetching: set[str] = set()
        self._relist = QTimer(self, singleShot=True, interval=150)
        self._relist.timeout.connect(lambda: spawn(self.refresh()))
        connection.jobsListed.connect(self._listed)
        connection.jobEvent.connect(self._event)

    # ------------------------------------------------------------------ incoming

    def _listed(self, jobs: list[JobSummary]) -> None:
        rows = [row_of(s, self.table.get(s.job_id)) for s in jobs]
        self.table.set_records(rows)
        for row in rows:
            self._want_thumbnail(row)

    def _event(self, message: Message, payload: bytes | None) -> None:
        job_id = getattr(message, "job_id", None)
        if not isinstance(job_id, str):
            return
        row = self.table.get(job_id)
        if row is None:
            if not isinstance(message, JobAccepted):
                self._relist.start()  # a job we have not listed yet: list again, debounced
                return
            row = JobRow(job_id=job_id, state="queued", seed=message.seed, created_at=time.time())
            self._relist.start()  # fetch its prompt, model and client
        match message:
            case JobAccepted(seed=seed):
                row = dataclasses.replace(row, seed=seed)
            case JobStarted():
                row = dataclasses.replace(row, state="running")
            case JobProgress(step=step, steps=steps):
                row = dataclasses.replace(row, state="running", step=step, steps=steps)
                if payload:
                    self._set_thumbnail(job_id, payload)
                self.progressed.emit(job_id, step, steps)
            case JobResult(result=result):
                p = result.params  # also fills a row the job list has not described yet
                row = dataclasses.replace(row, results=(*row.results, result.blob),
                                          seed=result.seed, params=p, kind=row.kind or p.kind,
                                          model=row.model or p.model,
                                          prompt=row.prompt or p.prompt)
            case JobDone(seconds=seconds):
                row = dataclasses.replace(row, state="done", seconds=seconds,
                                          finished_at=time.time())
            case JobFailed(message=text):
                row = dataclasses.replace(row, state="failed", error=text, finished_at=time.time())
                self.jobFailed.emit(job_id, text)
            case JobCancelled():
                row = dataclasses.replace(row, state="cancelled", finished_at=time.time())
        self.table.upsert(row, first=True)
        if not row.active:
            self.jobFinished.emit(job_id, row.state)
            self._want_thumbnail(row)

    # ------------------------------------------------------------------ thumbnails

    def _thumbnail(self, row: JobRow) -> QPixmap | None:
        return self.thumbnails.get(row.job_id)

    def _set_thumbnail(self, job_id: str, png: bytes) -> None:
        pixmap = QPixmap()
        if pixmap.loadFromData(png, "PNG"):
            self.thumbnails[job_id] = pixmap.scaled(
                THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation)
            self.table.refresh_row(job_id)

    def _want_thumbnail(self, row: JobRow) -> None:
        if row.results and row.job_id not in self._fetching and (
                row.job_id not in self.thumbnails or row.state == "done"):
            self._fetching.add(row.job_id)
            spawn(self._fetch_thumbnail(row.job_id, row.results[0]))

    async def _fetch_thumbnail(self, job_id: str, sha: str) -> None:
        try:
            self._set_thumbnail(job_id, await self.connection.blob(sha))
        except Exception:  # noqa: BLE001 - a missing thumbnail is not worth an error
            self._fetching.discard(job_id)

    def active_for(self, client: str) -> int:
        """Jobs of `client` queued or running (what revoking it would leave without a reader)."""
        return sum(1 for r in self.table.records() if r.active and r.client == client)

    # ------------------------------------------------------------------ actions

    async def refresh(self) -> None:
        reply = await self.connection.request(JobList(limit=100), JobListReply)
        self._listed(reply.jobs)

    async def cancel(self, job_id: str) -> None:
        await self.connection.cancel(job_id)

    async def rerun(self, job_id: str) -> str:
        """Submit the job again with the same parameters and seed; returns the new job id."""
        row = self.table.get(job_id)
        if row is None or row.params is None:
            raise ValueError("this job's parameters are not known yet (refresh the list)")
        return await self.connection.submit(row.params)

    async def save_results(self, job_id: str) -> Path:
        """Write the job's images under the results folder (this machine) and return it."""
        row = self.table.get(job_id)
        if row is None or not row.results:
            raise ValueError("this job has no results")
        self.results_dir.mkdir(parents=True, exist_ok=True)
        blobs = await asyncio.gather(*(self.connection.blob(sha) for sha in row.results))
        for index, data in enumerate(blobs):
            (self.results_dir / f"{job_id[:12]}-{index}.png").write_bytes(data)
        return self.results_dir

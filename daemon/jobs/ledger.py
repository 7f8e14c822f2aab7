"""The SQLite ledger: every accepted job, its state and its results, so nothing accepted is lost
across a crash and finished results stay fetchable; and who owns which blob.

Ownership: a job belongs to the client that submitted it; a blob to every client that uploaded
its bytes (or whose job produced it), each with the format and size it declared. Storage keeps
one copy per hash; what a client may see or use is what it owns. Calls block: the job manager
runs them on its own thread, off the event loop."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..auth import connect
from ..protocol.messages import ErrorBody, JobParams, JobSummary, ResultInfo
from ..protocol.vocab import ImageFormat
from .state import JobState, check_transition

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL UNIQUE,
    client TEXT NOT NULL,
    priority INTEGER NOT NULL,
    params TEXT NOT NULL,
    seed INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, priority, seq);
CREATE TABLE IF NOT EXISTS blob_owners (
    sha256 TEXT NOT NULL,
    client TEXT NOT NULL,
    format TEXT NOT NULL,
    width INTEGER,
    height INTEGER,
    created_at REAL NOT NULL,
    PRIMARY KEY (sha256, client)
);
CREATE INDEX IF NOT EXISTS jobs_client ON jobs (client, seq);
CREATE TABLE IF NOT EXISTS results (
    job_id TEXT NOT NULL REFERENCES jobs (job_id),
    idx INTEGER NOT NULL,
    info TEXT NOT NULL,
    PRIMARY KEY (job_id, idx)
);
"""

PRIORITY = {"interactive": 0, "batch": 1}
_SHA = re.compile(r"[0-9a-f]{64}")


@dataclass
class JobRecord:
    seq: int
    job_id: str
    client: str
    priority: int
    params: JobParams
    seed: int
    state: JobState
    created_at: float
    started_at: float | None = None
    finished_at: float | None = None
    error: ErrorBody | None = None
    attempts: int = 0
    results: list[ResultInfo] = field(default_factory=list)

    def summary(self, position: int | None = None) -> JobSummary:
        return JobSummary(
            job_id=self.job_id,
            state=self.state.value,
            kind=self.params.kind,
            model=self.params.model,
            prompt=self.params.prompt,
            position=position,
            client=self.client,
            created_at=self.created_at,
            finished_at=self.finished_at,
            results=self.results,
            error=self.error,
            seed=self.seed,
            params=self.params.model_copy(update={"seed": self.seed}),
        )


@dataclass(frozen=True)
class BlobClaim:
    """What one owner declared a blob to be."""

    format: ImageFormat
    width: int | None
    height: int | None


def advance(job: JobRecord, new: JobState, error: ErrorBody | None = None) -> None:
    """Move a job to `new` in memory (IllegalTransition when the state machine forbids it)."""
    check_transition(job.state, new)
    now = time.time()
    job.started_at = now if new is JobState.RUNNING else job.started_at
    job.finished_at = now if new.final else None
    job.attempts += 1 if new is JobState.RUNNING else 0
    job.state, job.error = new, error


_COLUMNS = "seq, job_id, client, priority, params, seed, state, created_at, started_at, finished_at, error, attempts"


class Ledger:
    def __init__(self, path: Path) -> None:
        self._db = connect(path)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def insert(self, job_id: str, client: str, priority: str, params: JobParams, seed: int) -> JobRecord:
        now = time.time()
        with self._db:
            cur = self._db.execute(
                "INSERT INTO jobs (job_id, client, priority, params, seed, state, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (job_id, client, PRIORITY[priority], params.model_dump_json(), seed,
                 JobState.QUEUED.value, now),
            )
        assert cur.lastrowid is not None
        return JobRecord(cur.lastrowid, job_id, client, PRIORITY[priority], params, seed,
                         JobState.QUEUED, now)

    def transition(self, job: JobRecord, new: JobState, error: ErrorBody | None = None) -> None:
        advance(job, new, error)
        self.record_state(job)

    def record_state(self, job: JobRecord) -> None:
        """Write the state `advance` gave the job (the manager advances it on the event loop at
        once, and writes it here off the loop)."""
        with self._db:
            self._db.execute(
                "UPDATE jobs SET state = ?, started_at = ?, finished_at = ?, error = ?, attempts = ? "
                "WHERE job_id = ?",
                (job.state.value, job.started_at, job.finished_at,
                 job.error.model_dump_json() if job.error else None, job.attempts, job.job_id),
            )

    def finish(self, job: JobRecord, results: list[ResultInfo]) -> None:
        """Record the results (owned by the job's client) and the `done` state in one
        transaction: all or nothing."""
        check_transition(job.state, JobState.DONE)
        now = time.time()
        with self._db:
            # the connection autocommits each statement: only an explicit transaction makes the
            # results and the state one write
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT OR REPLACE INTO results (job_id, idx, info) VALUES (?, ?, ?)",
                [(job.job_id, r.index, r.model_dump_json()) for r in results],
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO blob_owners (sha256, client, format, width, height, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [(r.blob, job.client, r.format.value, r.width, r.height, now) for r in results],
            )
            self._db.execute(
                "UPDATE jobs SET state = ?, finished_at = ? WHERE job_id = ?",
                (JobState.DONE.value, now, job.job_id),
            )
        job.state, job.finished_at, job.results = JobState.DONE, now, results

    def get(self, job_id: str) -> JobRecord | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return self._record(row) if row else None

    def unfinished(self) -> list[JobRecord]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM jobs WHERE state IN ('queued', 'running') ORDER BY seq"
        ).fetchall()
        return [self._record(r) for r in rows]

    def recent(self, limit: int, client: str | None = None) -> list[JobRecord]:
        """The latest jobs, newest first: of one client, or (None) of all."""
        if client is None:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM jobs ORDER BY seq DESC LIMIT ?",
                                    (limit,)).fetchall()
        else:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM jobs WHERE client = ? "
                                    "ORDER BY seq DESC LIMIT ?", (client, limit)).fetchall()
        return [self._record(r) for r in rows]

    # ------------------------------------------------------------------ blob ownership

    def own_blob(self, sha: str, client: str, format: ImageFormat, width: int | None,
                 height: int | None) -> None:
        """`client` holds these bytes, as `format` of `width`×`height` (its own declaration: a
        later uploader of the same bytes never changes what an earlier one sees)."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO blob_owners (sha256, client, format, width, height, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (sha, client, ImageFormat(format).value, width, height, time.time()))

    def blob_owned(self, sha: str, client: str) -> BlobClaim | None:
        row = self._db.execute(
            "SELECT format, width, height FROM blob_owners WHERE sha256 = ? AND client = ?",
            (sha, client)).fetchone()
        return BlobClaim(ImageFormat(row[0]), row[1], row[2]) if row else None

    def owned(self, shas: list[str], client: str) -> set[str]:
        """Which of `shas` the client owns."""
        if not shas:
            return set()
        marks = ",".join("?" * len(shas))
        rows = self._db.execute(
            f"SELECT sha256 FROM blob_owners WHERE client = ? AND sha256 IN ({marks})",
            (client, *shas)).fetchall()
        return {row[0] for row in rows}

    def forget_finished(self, before: float) -> int:
        """Delete jobs that ended before `before` (and their result rows); returns how many."""
        ended = ("SELECT job_id FROM jobs WHERE state IN ('done', 'failed', 'cancelled') "
                 "AND finished_at < ?")
        with self._db:
            self._db.execute(f"DELETE FROM results WHERE job_id IN ({ended})", (before,))
            return self._db.execute(
                "DELETE FROM jobs WHERE state IN ('done', 'failed', 'cancelled') AND finished_at < ?",
                (before,)).rowcount

    def referenced_blobs(self) -> set[str]:
        """Every sha256 a kept job names: its inputs (params) and its results."""
        found: set[str] = set()
        for (text,) in self._db.execute("SELECT params FROM jobs UNION ALL SELECT info FROM results"):
            found.update(_SHA.findall(text))
        return found

    def finished_count(self) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM jobs WHERE state IN ('done', 'failed', 'cancelled')").fetchone()
        return int(row[0])

    def _record(self, row: tuple[Any, ...]) -> JobRecord:
        seq, job_id, client, priority, params, seed, state, created, started, finished, error, attempts = row
        results = [
            ResultInfo.model_validate_json(info)
            for (info,) in self._db.execute(
                "SELECT info FROM results WHERE job_id = ? ORDER BY idx", (job_id,)
            )
        ]
        return JobRecord(
            seq, job_id, client, priority, JobParams.model_validate_json(params), seed,
            JobState(state), created, started, finished,
            ErrorBody.model_validate(json.loads(error)) if error else None, attempts, results,
        )



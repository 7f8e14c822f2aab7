"""`layerbridge batch SPEC`: runs a spec's jobs through the daemon at batch priority (a plugin's
interactive job always goes first), writes each image to the output folder with one JSONL
manifest line per job, and a contact sheet at the end.

A client of the daemon like any plugin: it never imports torch. Job ids come from the spec
(`batch_spec.job_id_for`), so a crashed or stopped run started again skips the rows in the
manifest and re-attaches to jobs the daemon still has; a job that failed runs again.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from PIL import Image, ImageDraw

from .batch_spec import BatchJob, load_spec
from .client import DaemonClient, Job, JobEvent, RemoteError
from .errors import InvalidInput, LayerbridgeError
from .protocol.messages import JobDone, JobStarted

MANIFEST = "manifest.jsonl"
CONTACT_SHEET = "contact-sheet.png"
HASHES = ".model-hashes.json"
THUMB = 128
SHEET_MAX = 1024  # thumbnails on one contact sheet
RETRIES = 3  # new job ids tried for a row whose job failed or was cancelled

ModelHash = Callable[[str], str | None]


@dataclass
class BatchSummary:
    jobs: int
    skipped: int
    done: int = 0
    failed: list[tuple[BatchJob, str]] = field(default_factory=list)


class Manifest:
    """`manifest.jsonl`: one line per finished job, appended and flushed as each one ends."""

    def __init__(self, out: Path) -> None:
        self.path = out / MANIFEST
        self.entries: dict[str, dict[str, Any]] = {}  # by row id (the spec's job id)
        self._torn = False
        if self.path.exists():
            text = self.path.read_text(encoding="utf-8")
            self._torn = bool(text) and not text.endswith("\n")
            for line in text.splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # the last line of a killed run may be cut short
                self.entries[_row_id(entry)] = entry

    def finished(self, job: BatchJob) -> bool:
        entry = self.entries.get(job.job_id)
        out = self.path.parent
        return entry is not None and all((out / img["file"]).exists() for img in entry["images"])

    def add(self, entry: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            # end a killed run's cut-short line first, or this entry would be glued to it
            f.write(("\n" if self._torn else "") + json.dumps(entry, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        self._torn = False
        self.entries[_row_id(entry)] = entry


def _row_id(entry: dict[str, Any]) -> str:
    """A row retried under a new job id (`ID-2`) is still the row `ID`."""
    return str(entry.get("row_id") or entry["job_id"])


class ProgressBar:
    """`  37/120 [########--------] 31%  2.4 jobs/s  ETA 0:34` on a terminal; a line every 5%
    otherwise."""

    def __init__(self, total: int, skipped: int, stream: TextIO = sys.stderr) -> None:
        self.total, self.done, self.stream = total, skipped, stream
        self.base = skipped
        self.started = time.monotonic()
        self.tty = stream.isatty()
        self._every = max(1, (total - skipped) // 20)

    def advance(self) -> None:
        self.done += 1
        if self.tty or (self.done - self.base) % self._every == 0 or self.done == self.total:
            self.stream.write(("\r" if self.tty else "") + self.line() + ("" if self.tty else "\n"))
            self.stream.flush()

    def line(self) -> str:
        ran = self.done - self.base
        elapsed = time.monotonic() - self.started
        rate = ran / elapsed if elapsed > 0 else 0.0
        left = self.total - self.done
        eta = _clock(left / rate) if rate > 0 else "?"
        width = 24
        filled = round(width * self.done / self.total) if self.total else width
        pct = 100 * self.done // self.total if self.total else 100
        return (f"{self.done:>5}/{self.total} [{'#' * filled}{'-' * (width - filled)}] {pct:3d}%"
                f"  {rate:.2f} jobs/s  ETA {eta}")

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")


def _clock(seconds: float) -> str:
    s = int(seconds + 0.5)
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


async def run_batch(spec_path: Path, out: Path, url: str, token: str, *, window: int = 16,
                    model_hash: ModelHash = lambda _: None,
                    stream: TextIO = sys.stderr, ca: str | None = None,
                    tls_fingerprint: str | None = None) -> BatchSummary:
    """Run every row not yet in `out`'s manifest; at most `window` jobs wait in the daemon at once
    (so the daemon's queue stays short and a designer's job is never stuck behind thousands)."""
    jobs = load_spec(spec_path).jobs()
    out.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out)
    pending = [job for job in jobs if not manifest.finished(job)]
    summary = BatchSummary(jobs=len(jobs), skipped=len(jobs) - len(pending))
    bar = ProgressBar(len(jobs), summary.skipped, stream)
    slots = asyncio.Semaphore(window)

    async def one(client: DaemonClient, job: BatchJob) -> None:
        async with slots:
            try:
                entry = await _run_one(client, job, out, model_hash)
            except RemoteError as exc:
                summary.failed.append((job, str(exc)))
                bar.advance()
                return
            manifest.add(entry)
            summary.done += 1
            bar.advance()

    if pending:
        async with await DaemonClient.connect(url, token, name="layerbridge-batch", ca=ca,
                                                tls_fingerprint=tls_fingerprint) as client:
            await asyncio.gather(*(one(client, job) for job in pending))
    bar.close()
    contact_sheet(out, manifest)
    return summary


async def _run_one(client: DaemonClient, job: BatchJob, out: Path,
                   model_hash: ModelHash) -> dict[str, Any]:
    submitted = time.time()
    handle = await _submit(client, job)
    started: list[float] = []

    def on_event(event: JobEvent) -> None:
        if isinstance(event.message, JobStarted):
            started.append(time.time())

    await handle.wait(on_event)
    finished = time.time()
    images = []
    for result, data in handle.results:
        several = len(handle.results) > 1
        name = f"{job.index:05d}-s{result.seed}" + (f"-{result.index}" if several else "")
        (out / f"{name}.png").write_bytes(data)
        images.append({"file": f"{name}.png", "seed": result.seed, "sha256": result.blob,
                       "width": result.width, "height": result.height})
    done = handle.outcome
    run_s = done.seconds if isinstance(done, JobDone) else None
    return {
        "index": job.index, "job_id": handle.job_id, "row_id": job.job_id,
        "variables": job.variables, "params": job.params.model_dump(mode="json"),
        "seed": handle.seed, "model": job.params.model, "model_hash": model_hash(job.params.model),
        "images": images,
        "timings": {"submitted_at": round(submitted, 3), "finished_at": round(finished, 3),
                    "queued_s": round((started[0] if started else finished) - submitted, 3),
                    "run_s": run_s, "total_s": round(finished - submitted, 3)},
    }


async def _submit(client: DaemonClient, job: BatchJob) -> Job:
    """Submit the row's job, or re-attach to it when an earlier run left it with the daemon; a
    row whose job failed or was cancelled gets a fresh id (`ID-2`, `ID-3`...)."""
    for attempt in range(1, RETRIES + 2):
        job_id = job.job_id if attempt == 1 else f"{job.job_id}-{attempt}"
        handle = await client.submit(job.params, job_id=job_id, priority="batch")
        if not handle.duplicate:
            return handle
        handle, state = await client.fetch(job_id)
        if state.job.state not in ("failed", "cancelled"):
            return handle
    raise RemoteError("failed", f"row {job.index}: its job failed {RETRIES + 1} times")


def contact_sheet(out: Path, manifest: Manifest) -> Path | None:
    """A grid of thumbnails of every image in the manifest, labelled with the row index."""
    cells = [(entry["index"], out / img["file"])
             for entry in sorted(manifest.entries.values(), key=lambda e: e["index"])
             for img in entry["images"]][:SHEET_MAX]
    cells = [(i, p) for i, p in cells if p.exists()]
    if not cells:
        return None
    cols = min(len(cells), max(1, math.ceil(math.sqrt(len(cells)))))
    rows = math.ceil(len(cells) / cols)
    label = 14
    sheet = Image.new("RGB", (cols * THUMB, rows * (THUMB + label)), (32, 32, 32))
    draw = ImageDraw.Draw(sheet)
    for n, (index, path) in enumerate(cells):
        with Image.open(path) as img:
            thumb = img.convert("RGB")
        thumb.thumbnail((THUMB, THUMB))
        x, y = (n % cols) * THUMB, (n // cols) * (THUMB + label)
        sheet.paste(thumb, (x + (THUMB - thumb.width) // 2, y + (THUMB - thumb.height) // 2))
        draw.text((x + 4, y + THUMB + 1), f"#{index}", fill=(220, 220, 220))
    path = out / CONTACT_SHEET
    sheet.save(path)
    return path


def local_model_hash(data_dir: Path, cache_dir: Path) -> ModelHash:
    """sha256 over a model's files, when the daemon's data dir is on this machine (None when it
    is not); cached in the output folder by path, size and mtime so a large model is read once."""
    cache_file = cache_dir / HASHES
    try:
        cache: dict[str, str] = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}

    def model_hash(model_id: str) -> str | None:
        from .config import Paths
        from .engine.registry import Registry

        try:
            entry = Registry(Paths(data_dir)).get(model_id, field="model")
        except LayerbridgeError:
            return None
        files = sorted(p for p in ([entry.path] if entry.path.is_file() else entry.path.rglob("*"))
                       if p.is_file())
        key = json.dumps([str(entry.path)] + [[str(p), p.stat().st_size, p.stat().st_mtime_ns]
                                               for p in files])
        key = hashlib.sha256(key.encode()).hexdigest()
        if key not in cache:
            digest = hashlib.sha256()
            for p in files:
                digest.update(str(p.relative_to(entry.path.parent)).encode())
                with p.open("rb") as f:
                    while chunk := f.read(1 << 20):
                        digest.update(chunk)
            cache[key] = digest.hexdigest()
            cache_dir.mkdir(parents=True, exist_ok=True)
            cache_file.write_text(json.dumps(cache))
        return cache[key]

    return model_hash


def dry_run(spec_path: Path, out: Path) -> str:
    jobs = load_spec(spec_path).jobs()
    manifest = Manifest(out) if out.exists() else None
    done = sum(1 for job in jobs if manifest.finished(job)) if manifest else 0
    images = sum(job.params.batch for job in jobs)
    models = sorted({job.params.model for job in jobs})
    return (f"{spec_path}: {len(jobs)} jobs ({images} images) on {', '.join(models)}; "
            f"{done} already in {out / MANIFEST}, {len(jobs) - done} to run")


# ---------------------------------------------------------------------- CLI


def main(args: Any) -> int:
    """`layerbridge batch` (its options are declared in `cli.py`)."""
    from .cli import default_tls, default_token, default_url, paths_of

    spec = Path(args.spec)
    out = Path(args.out) if args.out else spec.with_name(spec.stem + "-out")
    if args.dry_run:
        print(dry_run(spec, out))
        return 0
    if args.window < 1:
        raise InvalidInput("--window", args.window, "must be at least 1")
    token = default_token(args)
    url = args.url or default_url(args)
    ca, pin = default_tls(args, url)
    summary = asyncio.run(run_batch(spec, out, url, token, window=args.window,
                                    model_hash=local_model_hash(paths_of(args).root, out),
                                    ca=ca, tls_fingerprint=pin))
    print(f"{summary.done} done, {summary.skipped} skipped (already in the manifest), "
          f"{len(summary.failed)} failed; manifest {out / MANIFEST}, contact sheet "
          f"{out / CONTACT_SHEET}")
    for job, reason in summary.failed:
        print(f"  row {job.index} ({job.params.prompt[:40]!r}): {reason}", file=sys.stderr)
    return 1 if summary.failed else 0

"""The Train tab's state: a folder of images read and checked (by the same code as `client train`),
a `train` job submitted at batch priority, its loss and samples as they arrive, stop and resume,
and the LoRA list refreshed when a train job finishes. Widget-free; never torch."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from layerbridge.daemon.errors import InvalidInput
from layerbridge.daemon.protocol.codec import validation_error
from layerbridge.daemon.protocol.messages import (
    JobCancelled,
    JobDone,
    JobFailed,
    JobParams,
    JobProgress,
    JobResult,
    JobStarted,
    JobSummary,
    Message,
)
from layerbridge.daemon.protocol.training import TrainSpec
from layerbridge.daemon.train_folder import FolderImage, read_folder
from PIL import Image
from pydantic import ValidationError
from PySide6.QtCore import QObject, Signal

from .catalog import CatalogController
from .connection import DaemonConnection
from .tasks import spawn

THUMB = 96

# the form's words for TrainSpec's (and the folder reader's) fields
LABELS = {
    "images": "Folder", "caption-ext": "Captions", "captions": "Captions", "caption": "Caption",
    "name": "Name", "trigger": "Trigger word", "steps": "Steps", "rank": "Rank",
    "resolution": "Resolution", "learning_rate": "Learning rate",
    "sample_every": "Sample every", "model": "Base model",
}


@dataclass(frozen=True)
class TrainImage:
    """One image of the folder as the tab shows it: a small PNG and its caption as written."""

    path: Path
    sha256: str
    png: bytes
    caption: str
    caption_file: Path | None  # None: the tab's template is its caption
    thumb: bytes


@dataclass(frozen=True)
class TrainSet:
    folder: Path
    images: tuple[TrainImage, ...]

    def captions(self, template: str) -> list[str]:
        return [i.caption if i.caption_file is not None else template for i in self.images]


@dataclass(frozen=True)
class TrainRun:
    """What the tab follows: a train job, its parameters (to resume it) and where it is."""

    job_id: str
    params: JobParams
    state: str = "queued"  # queued | running | done | failed | cancelled
    step: int = 0
    steps: int = 0
    loss: float | None = None
    eta_s: float | None = None
    error: str = ""
    losses: tuple[tuple[int, float], ...] = ()
    seed: int | None = None
    phase: str = "train"  # class_images: prior preservation's images are made first

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    @property
    def name(self) -> str:
        return self.params.train.name if self.params.train else ""


def labelled(err: InvalidInput, images: tuple[TrainImage, ...] = ()) -> InvalidInput:
    """The error with the form's name for its field in front (`captions.2`: that image's)."""
    field = (err.field or "").removeprefix("train.")
    head, _, rest = field.partition(".")
    if head == "captions" and rest.split(".")[0].isdigit() and images:
        name = images[int(rest.split(".")[0])].path.name
        return InvalidInput.worded(field, f"Caption of {name}: {err.message}")
    return InvalidInput.worded(field, f"{LABELS.get(head, head)}: {err.message}")


def read_set(folder: Path, caption_ext: str = ".txt") -> TrainSet:
    """Read and check `folder` (blocking: call it in a thread). Raises InvalidInput, worded
    with the form's field."""
    try:
        found = read_folder(folder, caption_ext, template="")
    except InvalidInput as exc:
        raise labelled(exc) from None
    return TrainSet(folder, tuple(_shown(f) for f in found))


def _shown(f: FolderImage) -> TrainImage:
    with Image.open(io.BytesIO(f.png)) as image:
        image.thumbnail((THUMB, THUMB))
        out = io.BytesIO()
        image.save(out, format="PNG")
    return TrainImage(f.path, f.sha256, f.png, f.caption, f.caption_file, out.getvalue())


def build_spec(train_set: TrainSet | None, *, name: str, trigger: str, steps: int, rank: int,
               resolution: int = 512, template: str = "{trigger}", sample_every: int = 0,
               **more: Any) -> TrainSpec:
    """The form as a TrainSpec; raises InvalidInput naming the form's field."""
    if train_set is None:
        raise InvalidInput.worded("images", "Folder: choose a folder of images first")
    fields: dict[str, Any] = dict(
        name=name.strip(), trigger=trigger.strip(), images=[i.sha256 for i in train_set.images],
        captions=train_set.captions(template), steps=steps, rank=rank, resolution=resolution,
        sample_every=sample_every, **more)
    try:
        return TrainSpec.model_validate(fields)  # the bounds live there, stated once
    except ValidationError as exc:
        raise labelled(validation_error(exc, fields), train_set.images) from None


def final_caption(template_or_caption: str, trigger: str) -> str:
    """The caption an image trains with, as the daemon makes it (the trigger word in it)."""
    spec = TrainSpec.model_construct(trigger=trigger.strip() or "{trigger}",
                                     captions=[template_or_caption])
    return spec.caption_of(0)


class TrainController(QObject):
    setRead = Signal(object)  # TrainSet
    runChanged = Signal(object)  # TrainRun
    sampleArrived = Signal(int, object)  # step, PNG bytes
    finished = Signal(str, str)  # job id, final state
    loraTrained = Signal(str)  # the registered LoRA's id

    def __init__(self, connection: DaemonConnection, catalog: CatalogController,
                 parent: QObject | None = None, *,
                 kind_of: Callable[[str], str | None] = lambda _job_id: None) -> None:
        super().__init__(parent)
        self.connection = connection
        self.catalog = catalog
        self.kind_of = kind_of  # a job's kind, as the Jobs tab knows it
        self.train_set: TrainSet | None = None
        self.run: TrainRun | None = None
        self.uploaded = 0  # images sent by the last start (the others the daemon had)
        connection.jobEvent.connect(self._event)
        connection.jobsListed.connect(self._listed)

    # ------------------------------------------------------------------ actions

    async def read(self, folder: str, caption_ext: str = ".txt") -> TrainSet:
        """Read the folder (in a thread: decoding a hundred photos takes a while)."""
        self.train_set = None  # a folder that fails is not trained on with the last one's images
        self.setRead.emit(None)
        if not folder.strip():
            raise InvalidInput.worded("images", "Folder: choose a folder of images first")
        train_set = await asyncio.to_thread(read_set, Path(folder).expanduser(), caption_ext)
        self.train_set = train_set
        self.setRead.emit(train_set)
        return train_set

    async def start(self, spec: TrainSpec, model: str, seed: int | None = None) -> TrainRun:
        """Upload the images the daemon lacks and submit the job (batch priority)."""
        if self.run is not None and self.run.active:
            raise InvalidInput.worded("train", f"{self.run.name} is training already: stop it first")
        if not model:
            raise InvalidInput.worded("model", "Base model: there is no checkpoint to train on")
        if self.catalog.checkpoints.get(spec.name) or self.catalog.adapters.get(spec.name):
            # the daemon refuses it too, but only when the job starts, maybe hours from now
            raise labelled(InvalidInput("name", spec.name, "a model with this id is registered "
                                        "already: choose another name or remove that one"))
        assert self.train_set is not None  # build_spec refused a spec without one
        by_sha = {i.sha256: i for i in self.train_set.images}
        sent = 0
        for sha in spec.images:
            sent += await self.connection.upload(by_sha[sha].png, "png")
        self.uploaded = sent
        try:
            params = JobParams(kind="train", model=model, seed=seed, train=spec)  # type: ignore[arg-type]
        except ValidationError as exc:
            raise labelled(validation_error(exc, {"model": model})) from None
        return await self._submit(params, uuid.uuid4().hex)

    async def stop(self) -> None:
        """Cancel the job at its next step (the daemon keeps no checkpoint of a cancelled job)."""
        if self.run is None or not self.run.active:
            raise InvalidInput.worded("train", "nothing is training")
        await self.connection.cancel(self.run.job_id)

    async def resume(self) -> TrainRun:
        """Train the last stopped (or failed) job again: its settings, images and seed, as a new
        job. It starts from step 0: the daemon keeps no checkpoint of a cancelled job. (A job cut
        off by a daemon restart needs nothing: the daemon resumes it from its last checkpoint and
        this controller follows it again.)"""
        run = self.run
        if run is None:
            raise InvalidInput.worded("train", "nothing to resume: start a training first")
        if run.active:
            raise InvalidInput.worded("train", f"{run.name} is still training")
        if run.state == "done":
            raise InvalidInput.worded("train", f"{run.name} is trained already")
        params = run.params
        if params.seed is None and run.seed is not None:
            params = params.model_copy(update={"seed": run.seed})  # the same draws again
        return await self._submit(params, uuid.uuid4().hex)

    async def _submit(self, params: JobParams, job_id: str) -> TrainRun:
        accepted = await self.connection.submit_with(params, job_id=job_id, priority="batch")
        steps = params.train.steps if params.train else 0
        return self._follow(TrainRun(accepted.job_id, params, steps=steps, seed=accepted.seed))

    def _follow(self, run: TrainRun) -> TrainRun:
        self.run = run
        self.runChanged.emit(run)
        return run

    # ------------------------------------------------------------------ events

    def _listed(self, jobs: list[JobSummary]) -> None:
        """After a (re)connect: where the followed job is now, and a train job still queued or
        running (the daemon restarted and resumes it from its last checkpoint, or this app
        restarted) is followed again."""
        run = self.run
        mine = next((j for j in jobs if run is not None and j.job_id == run.job_id), None)
        if run is not None and mine is not None and mine.state != run.state:
            error = mine.error.message if mine.error else run.error
            self._follow(run := dataclasses.replace(run, state=mine.state, error=error))
            if not run.active:
                self.finished.emit(run.job_id, run.state)
        if run is not None and run.active:
            return
        live = next((j for j in jobs if j.kind == "train" and j.state in ("queued", "running")
                     and j.params is not None and j.params.train is not None), None)
        if live is not None and live.params is not None and live.params.train is not None:
            self._follow(TrainRun(live.job_id, live.params, state=live.state,
                                  steps=live.params.train.steps, seed=live.seed))

    def _event(self, message: Message, payload: bytes | None) -> None:
        if (isinstance(message, JobDone) and (self.run is None or message.job_id != self.run.job_id)
                and self.kind_of(message.job_id) == "train"):
            spawn(self.catalog.refresh())  # another client's LoRA (`client train`, say)
            return
        run = self.run
        if run is None or getattr(message, "job_id", None) != run.job_id:
            return
        match message:
            case JobStarted():
                run = dataclasses.replace(run, state="running")
            case JobProgress(step=step, steps=steps, loss=loss, eta_s=eta, phase=phase):
                losses = run.losses if loss is None else (*run.losses, (step, loss))
                run = dataclasses.replace(run, state="running", step=step, steps=steps, loss=loss,
                                          eta_s=eta, losses=losses, phase=phase or "train")
                if payload:
                    self.sampleArrived.emit(step, bytes(payload))
            case JobResult(result=result):
                spawn(self._final_sample(run, result.blob))
            case JobDone():
                run = dataclasses.replace(run, state="done", eta_s=None)
                spawn(self._trained(run.name))
            case JobFailed(message=text):
                run = dataclasses.replace(run, state="failed", error=text, eta_s=None)
            case JobCancelled():
                run = dataclasses.replace(run, state="cancelled", eta_s=None)
            case _:
                return
        self._follow(run)
        if not run.active:
            self.finished.emit(run.job_id, run.state)

    async def _final_sample(self, run: TrainRun, sha: str) -> None:
        png = await self.connection.blob(sha)
        self.sampleArrived.emit(run.steps, png)
        self.catalog.keep_preview(run.name, png)  # the LoRA list shows what it was trained to do

    async def _trained(self, lora_id: str) -> None:
        await self.catalog.refresh()
        self.loraTrained.emit(lora_id)

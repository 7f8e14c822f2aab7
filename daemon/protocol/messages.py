"""Pydantic models of every protocol message: the single source of truth for the wire.

No I/O here. Client messages are parsed with `parse_client_message`; server messages are built as
models and dumped with `.model_dump(mode="json", exclude_none=True)`. Every model forbids unknown
fields, so a typo in a client is an error naming the field, never a silent default.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .limits import LIMITS
from .training import TrainSpec
from .vocab import (
    DEVICE_PATTERN,
    ClientKind,
    ControlNetType,
    ControlType,
    ImageFormat,
    JobKind,
    ModelFormat,
    ModelKind,
    Priority,
    Scope,
)

PROTOCOL_VERSION = 1
SUPPORTED_PROTOCOLS = (1,)

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="lowercase hex sha256")]
Id = Annotated[
    str,
    Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="an id: letters, digits, dot, dash, underscore; 1-64 characters",
    ),
]
RequestId = Annotated[str, Field(max_length=64, description="echoed back as reply_to")]

Scheduler = Literal["ddim", "euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras", "unipc"]
JobStateName = Literal["queued", "running", "done", "failed", "cancelled"]
FillMode = Literal["keep", "blur", "edge", "noise"]


# how a checkpoint was trained to predict noise; "v" is short for v_prediction
Prediction = Literal["v", "v_prediction", "epsilon"]

class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Request(Message):
    """A client message that gets a reply. `required_scope` is the token scope it needs; `before_hello`
    marks the one message served before a token is verified."""

    required_scope: ClassVar[Scope] = Scope.CLIENT
    before_hello: ClassVar[bool] = False

    id: RequestId | None = None


# --------------------------------------------------------------------------- shared parts


class ClientInfo(Message):
    name: str = Field(min_length=1, max_length=64)
    kind: ClientKind = ClientKind.OTHER
    version: str = Field(default="", max_length=32)


class Region(Message):
    """A rectangle in the input image's pixel coordinates (origin top-left)."""

    x: int
    y: int
    width: int = Field(ge=1)
    height: int = Field(ge=1)


class Margins(Message):
    left: int = Field(default=0, ge=0, le=LIMITS.max_side)
    top: int = Field(default=0, ge=0, le=LIMITS.max_side)
    right: int = Field(default=0, ge=0, le=LIMITS.max_side)
    bottom: int = Field(default=0, ge=0, le=LIMITS.max_side)


class Canvas(Message):
    """The document a job's input image was cut from: its size and the image's top-left in it,
    in document pixels. The daemon then works in the document's coordinates: the inpaint
    context box is computed on the canvas (as if the whole canvas had been sent, as far as the
    image sent reaches) and each result's `placement` says where it lands on the canvas."""

    width: int = Field(ge=1, le=LIMITS.max_canvas_side, description="the canvas width")
    height: int = Field(ge=1, le=LIMITS.max_canvas_side, description="the canvas height")
    x: int = Field(default=0, ge=0, description="the image's left edge on the canvas")
    y: int = Field(default=0, ge=0, description="the image's top edge on the canvas")


ResultFormat = Literal["png", "rgba8"]


class ControlSpec(Message):
    type: ControlType
    image: Sha256
    model: Id | None = Field(default=None, description="ControlNet id; default: the registry's for this type")
    strength: float = Field(default=1.0, ge=0.0, le=2.0)
    start: float = Field(default=0.0, ge=0.0, le=1.0)
    end: float = Field(default=1.0, ge=0.0, le=1.0)
    preprocess: bool = Field(
        default=True, description="false: the image is already the map; true: the daemon makes "
        "the map from it where it has a preprocessor for the type (canny, scribble, lineart, "
        "softedge, tile, mlsd; depth with a registered depth estimator)")
    low_threshold: int = Field(default=100, ge=0, le=255, description="canny only")
    high_threshold: int = Field(default=200, ge=0, le=255, description="canny only")

    @model_validator(mode="after")
    def _start_before_end(self) -> ControlSpec:
        if self.start >= self.end:
            raise ValueError(f"start={self.start} must be below end={self.end}")
        return self


class LoraSpec(Message):
    id: Id
    weight: float = Field(default=1.0, ge=-4.0, le=4.0)


class JobParams(Message):
    """Everything that determines a job's output. Stored with each result so it can be re-run."""

    kind: JobKind
    model: Id
    prompt: str = Field(default="", max_length=4000)
    negative_prompt: str = Field(default="", max_length=4000)
    seed: int | None = Field(
        default=None, ge=0, le=2**32 - 1, description="None: the daemon picks one and reports it"
    )
    steps: int = Field(default=20, ge=1, le=LIMITS.max_steps)
    guidance: float = Field(default=7.0, ge=0.0, le=30.0)
    scheduler: Scheduler = "dpmpp_2m"
    width: int | None = Field(
        default=None, ge=64, le=LIMITS.max_generate_side, description="generate: output width"
    )
    height: int | None = Field(
        default=None, ge=64, le=LIMITS.max_generate_side, description="generate: output height"
    )
    strength: float | None = Field(
        default=None, ge=0.0, le=1.0, description="refine/inpaint/expand: 0 keeps, 1 replaces"
    )
    image: Sha256 | None = Field(default=None, description="refine/inpaint/expand: input blob")
    mask: Sha256 | None = Field(default=None, description="inpaint: grey mask blob, 255 = repaint")
    fill: FillMode = Field(default="keep", description="inpaint: pre-fill of the masked area")
    margins: Margins | None = Field(default=None, description="expand: pixels added per side")
    batch: int = Field(default=1, ge=1, le=LIMITS.max_batch)
    control: list[ControlSpec] = Field(default_factory=list, max_length=LIMITS.max_controls)
    loras: list[LoraSpec] = Field(default_factory=list, max_length=LIMITS.max_loras)
    train: TrainSpec | None = Field(default=None, description="train: the LoRA to train")
    vae: Id | None = Field(
        default=None, description="a registered VAE to decode with; default: the model's "
        "record's vae, else its own")
    canvas: Canvas | None = Field(
        default=None, description="inpaint/refine: the document the image was cut from and "
        "where; results then carry their `placement` on it")
    result_format: ResultFormat = Field(
        default="png", description="how results are stored and sent: rgba8 is raw pixels, "
        "neither encoded nor decoded (for a client on the same machine); png is smaller")

    @field_validator("width", "height")
    @classmethod
    def _multiple_of_8(cls, v: int | None) -> int | None:
        if v is not None and v % 8:
            raise ValueError(f"{v} is not a multiple of 8")
        return v

    @model_validator(mode="after")
    def _inputs_match_kind(self) -> JobParams:
        if (self.kind == "train") != (self.train is not None):
            raise _field_error("train", None if self.train is None else "...",
                               "a train job needs `train`" if self.kind == "train"
                               else f"a {self.kind} job takes no `train`")
        needs_image = self.kind in ("refine", "inpaint", "expand")
        if needs_image and self.image is None:
            raise _field_error("image", None, f"a {self.kind} job needs an input image")
        if self.kind == "generate" and self.image is not None:
            raise _field_error("image", self.image, "a generate job takes no input image")
        if self.kind == "inpaint" and self.mask is None:
            raise _field_error("mask", None, "an inpaint job needs a mask")
        if self.kind != "inpaint" and self.mask is not None:
            raise _field_error("mask", self.mask, f"a {self.kind} job takes no mask")
        if self.kind == "expand":
            m = self.margins
            if m is None or not (m.left or m.top or m.right or m.bottom):
                raise _field_error("margins", m, "an expand job needs at least one margin > 0")
        elif self.margins is not None:
            raise _field_error("margins", self.margins, f"a {self.kind} job takes no margins")
        if self.canvas is not None:
            if self.kind not in ("inpaint", "refine"):
                raise _field_error("canvas", self.canvas, f"a {self.kind} job takes no canvas "
                                   "(inpaint and refine do)")
            if self.canvas.x >= self.canvas.width:
                raise _field_error("canvas.x", self.canvas.x,
                                   f"is outside the canvas (width {self.canvas.width})")
            if self.canvas.y >= self.canvas.height:
                raise _field_error("canvas.y", self.canvas.y,
                                   f"is outside the canvas (height {self.canvas.height})")
        seen: set[str] = set()
        for i, lora in enumerate(self.loras):
            if lora.id in seen:  # which weight would win is anyone's guess: say so instead
                raise _field_error(f"loras.{i}.id", lora.id, "this LoRA is already listed; give it one weight")
            seen.add(lora.id)
        return self

    def blobs(self) -> dict[str, str]:
        """Every blob the job reads, by the field that names it (`control.0.image`, ...)."""
        refs = {"image": self.image, "mask": self.mask}
        refs |= {f"control.{i}.image": c.image for i, c in enumerate(self.control)}
        if self.train is not None:
            refs |= {f"train.images.{i}": sha for i, sha in enumerate(self.train.images)}
        return {field: sha for field, sha in refs.items() if sha is not None}


def _field_error(field: str, value: Any, reason: str) -> ValueError:
    # pydantic wraps ValueError; the field travels in the text and is picked out in `parse`.
    return ValueError(f"@{field}@ {field}={value!r}: {reason}")


FIELD_IN_MESSAGE = re.compile(r"@([A-Za-z0-9_.]+)@ ")


class ResultInfo(Message):
    """One finished image: where it lands and how it was made."""

    index: int = Field(ge=0)
    blob: Sha256
    format: ImageFormat = ImageFormat.PNG
    width: int
    height: int
    region: Region
    placement: Region | None = Field(
        default=None, description="where the result lands on the job's canvas (params.canvas), "
        "in canvas pixels: `region` moved by the image's origin on the canvas")
    seed: int
    params: JobParams


class ModelInfo(Message):
    id: Id
    name: str
    arch: str = Field(description="sd15, sd15-inpaint, sd2, sdxl, sdxl-inpaint, ...")
    kind: ModelKind = ModelKind.CHECKPOINT
    format: ModelFormat = ModelFormat.DIFFUSERS
    size_bytes: int = 0
    default: bool = False
    control_type: ControlNetType | None = Field(
        default=None, description="controlnet: the map it follows (union: several, named per "
        "job); preprocessor: the map it makes")
    trigger_words: list[str] = Field(default_factory=list)
    default_weight: float | None = None
    native_side: int | None = Field(
        default=None, description="checkpoint: the square side (px) it was trained at; inpaint "
        "context is scaled to about this many pixels")
    size_multiple: int = Field(default=8, description="checkpoint: sizes must be multiples of this")
    prediction: Literal["epsilon", "v_prediction"] | None = Field(
        default=None, description="checkpoint: what its UNet predicts, which decides how it is "
        "sampled (SD-2 768 models are v_prediction)")
    vae: Id | None = Field(default=None, description="checkpoint: the VAE its jobs decode with "
                           "unless they name one (none: its own)")


class Limits(Message):
    """The bounds a client must stay within (the rest of server.limits in the settings too)."""

    max_frame_bytes: int
    max_blob_bytes: int
    max_chunk_bytes: int
    max_image_pixels: int
    max_side: int
    max_generate_side: int
    max_steps: int
    max_batch: int
    max_canvas_side: int = Field(default=LIMITS.max_canvas_side,
                                 description="width or height of a job's canvas (the document)")
    pre_hello_frame_bytes: int = Field(default=32 * 1024, description="largest frame before hello")
    max_uploads_per_connection: int = Field(default=16, description="unfinished uploads")
    max_upload_bytes_per_connection: int = Field(default=LIMITS.max_blob_bytes,
                                                 description="bytes of unfinished uploads")
    send_queue_bytes: int = Field(default=64 * 1024 * 1024,
                                  description="bytes queued for a client that stops reading")
    max_queued_interactive: int = Field(default=32, description="queued jobs per client")
    max_queued_batch: int = Field(default=1000, description="queued batch jobs per client")


class DeviceInfo(Message):
    name: str
    type: str = Field(description="cuda, mps or cpu")
    dtype: str
    memory_used_bytes: int
    memory_total_bytes: int
    gpu_count: int = Field(default=0, description="CUDA devices on this machine (cuda:0 .. cuda:N-1)")


class QueueInfo(Message):
    queued: int
    running: int
    paused: bool = False


class JobSummary(Message):
    job_id: Id
    state: JobStateName
    kind: JobKind
    model: str
    prompt: str
    position: int | None = None
    client: str = ""
    created_at: float
    finished_at: float | None = None
    results: list[ResultInfo] = Field(default_factory=list)
    error: ErrorBody | None = None
    seed: int | None = None
    params: JobParams | None = Field(default=None, description="with the seed filled in: enough to re-run it")


class ErrorBody(Message):
    code: str = Field(description="an ErrorCode (a newer daemon may send a code this client lacks)")
    message: str
    field: str | None = None
    retryable: bool = Field(default=False, description="the same request may succeed later")


class SettingsInfo(Message):
    """The daemon settings an admin edits remotely (the tray's Settings and GPU tabs)."""

    host: str = Field(default="127.0.0.1", min_length=1, max_length=255,
                      description="bind address; anything but loopback is LAN mode")
    port: int = Field(default=7842, ge=0, le=65535)
    allowed_origins: list[str] = Field(default_factory=list, max_length=64)
    allowed_hosts: list[str] = Field(default_factory=list, max_length=64)
    dtype: Literal["auto", "fp16", "bf16", "fp32"] = "auto"
    memory_budget_mb: int | None = Field(default=None, ge=256)
    device: str = Field(
        default="auto", pattern=DEVICE_PATTERN,
        description="where models run: auto picks CUDA, then MPS, then the CPU; cuda:N one GPU of several")
    data_dir: str = Field(default="", description="read-only: the daemon's data dir")


class ClientRecord(Message):
    name: str
    scope: Scope
    created_at: float
    last_seen: float | None = None
    connected: int = Field(default=0, description="connections open now with this client's token")


# --------------------------------------------------------------------------- client → server


class Hello(Request):
    type: Literal["hello"] = "hello"
    before_hello = True
    protocols: list[int] = Field(min_length=1, max_length=16, description="versions the client speaks")
    client: ClientInfo
    token: str = Field(min_length=1, max_length=256)


class Ping(Request):
    type: Literal["ping"] = "ping"


class BlobHas(Request):
    """Ask which of these blobs the daemon lacks; upload only those."""

    type: Literal["blob.has"] = "blob.has"
    sha256: list[Sha256] = Field(max_length=256)


class BlobPut(Message):
    """Header of a binary frame carrying bytes [offset, offset+len(payload)) of a blob. Without
    `sha256` (capability blob.unnamed) the upload is named by its `id` and the daemon names the
    blob by hashing what arrives (blob.stored says the name): the client need not hash the bytes
    before it sends them."""

    type: Literal["blob.put"] = "blob.put"
    id: RequestId | None = Field(
        default=None, description="echoed as reply_to in blob.stored and in an error for this "
                                  "upload; required without sha256 (the same on every chunk)")
    sha256: Sha256 | None = Field(
        default=None, description="the blob's name, checked when it completes; omitted, the "
                                  "daemon names the blob (capability blob.unnamed)")
    offset: int = Field(ge=0)
    total: int = Field(ge=1, le=LIMITS.max_blob_bytes)
    format: ImageFormat
    width: int | None = Field(default=None, ge=1, le=LIMITS.max_side, description="raw formats")
    height: int | None = Field(default=None, ge=1, le=LIMITS.max_side, description="raw formats")
    ack: bool = Field(
        default=False,
        description="answer this chunk with blob.received once it is stored (capability blob.ack); "
                    "the last chunk is answered by blob.stored")

    @model_validator(mode="after")
    def _raw_needs_size(self) -> BlobPut:
        if self.format != "png" and (self.width is None or self.height is None):
            raise _field_error("width", self.width, f"format {self.format} needs width and height")
        if self.sha256 is None and self.id is None:
            raise _field_error("id", self.id, "an upload without sha256 is named by its id: set one")
        return self

    @property
    def upload_key(self) -> str:
        """What names this upload among the connection's unfinished ones."""
        return self.sha256 if self.sha256 is not None else f"id:{self.id}"


class BlobGet(Request):
    type: Literal["blob.get"] = "blob.get"
    sha256: Sha256


class JobSubmit(Request):
    type: Literal["job.submit"] = "job.submit"
    job_id: Id | None = Field(
        default=None, description="choose it to make a resubmit after a dropped connection idempotent"
    )
    priority: Priority = Priority.INTERACTIVE
    params: JobParams


class JobCancel(Request):
    type: Literal["job.cancel"] = "job.cancel"
    job_id: Id


class JobFetch(Request):
    """State and results of a job (after a reconnect); also subscribes to its further events."""

    type: Literal["job.fetch"] = "job.fetch"
    job_id: Id


class JobList(Request):
    type: Literal["job.list"] = "job.list"
    limit: int = Field(default=50, ge=1, le=500)
    watch: bool = Field(default=False, description="admin: also receive events of every job")


class StatusRequest(Request):
    type: Literal["status"] = "status"


class ModelsList(Request):
    type: Literal["models.list"] = "models.list"


class ModelsAdd(Request):
    """Admin: register a checkpoint, LoRA, ControlNet or embedding found on the daemon's disk."""

    type: Literal["models.add"] = "models.add"
    required_scope = Scope.ADMIN
    path: str = Field(min_length=1, max_length=4096)
    # not `id`: that is the request id every Request carries (and the client overwrites)
    model_id: Id | None = Field(default=None, description="the id clients will use; default: "
                                "from the file or folder name")
    kind: ModelKind | None = None
    control_type: ControlNetType | None = Field(
        default=None, description="ControlNet: the kind of map it follows, when the file does not say")
    config: str | None = Field(
        default=None, max_length=4096,
        description="single-file checkpoint: a diffusers folder of the same architecture to read it with")
    prediction: Prediction | None = Field(
        default=None, description="checkpoint: sample as v-prediction (SD-2 768) or epsilon (SD-2 "
        "512 base), when its files do not say")
    allow_pickle: bool = False


class ModelsRemove(Request):
    type: Literal["models.remove"] = "models.remove"
    required_scope = Scope.ADMIN
    model_id: Id


class ClientsList(Request):
    type: Literal["clients.list"] = "clients.list"
    required_scope = Scope.ADMIN


class ClientsPair(Request):
    type: Literal["clients.pair"] = "clients.pair"
    required_scope = Scope.ADMIN
    name: Id
    scope: Scope = Scope.CLIENT


class ClientsRevoke(Request):
    type: Literal["clients.revoke"] = "clients.revoke"
    required_scope = Scope.ADMIN
    name: Id


class SettingsGet(Request):
    """Admin: the daemon's settings as saved (what the next start uses)."""

    type: Literal["settings.get"] = "settings.get"
    required_scope = Scope.ADMIN


class SettingsSet(Request):
    """Admin: save settings; host, port, precision and budget take effect when the daemon restarts.
    A host other than loopback (LAN mode) is refused unless `confirm_lan` is true."""

    type: Literal["settings.set"] = "settings.set"
    required_scope = Scope.ADMIN
    settings: SettingsInfo
    confirm_lan: bool = False


class ModelsSetDefault(Request):
    """Admin: the checkpoint used when a client names none."""

    type: Literal["models.set_default"] = "models.set_default"
    required_scope = Scope.ADMIN
    model_id: Id


class ModelsUpdate(Request):
    """Admin: edit a model's metadata (display name, LoRA trigger words and default weight)."""

    type: Literal["models.update"] = "models.update"
    required_scope = Scope.ADMIN
    model_id: Id
    name: str | None = Field(default=None, min_length=1, max_length=200)
    trigger_words: list[str] | None = Field(default=None, max_length=64)
    default_weight: float | None = Field(default=None, ge=-4.0, le=4.0)
    vae: Id | None = Field(default=None, description="checkpoint: the VAE its jobs decode with")
    clear_vae: bool = Field(default=False, description="checkpoint: decode with its own VAE again")
    prediction: Prediction | None = Field(
        default=None, description="checkpoint: sample as v-prediction or epsilon from now on")


class ModelsLocate(Request):
    """Admin: where a model's files are on the daemon's disk (to open its folder)."""

    type: Literal["models.locate"] = "models.locate"
    required_scope = Scope.ADMIN
    model_id: Id


class EngineUnload(Request):
    """Admin: free every resident model (VRAM), or only `model_id`; the next job loads what it
    needs again."""

    type: Literal["engine.unload"] = "engine.unload"
    required_scope = Scope.ADMIN
    model_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$",
        description="one entry of status.loaded (a model id; a VAE as vae:ID:BASE); None: every model")


class StorageGet(Request):
    """Admin: the disk the daemon uses (models, blobs: uploads and results, the ledger)."""

    type: Literal["storage.get"] = "storage.get"
    required_scope = Scope.ADMIN


class ResultsCleanup(Request):
    """Admin: forget finished jobs older than `older_than_days` and delete the blobs no job still
    refers to (uploads and results); queued and running jobs and their inputs are kept."""

    type: Literal["results.cleanup"] = "results.cleanup"
    required_scope = Scope.ADMIN
    older_than_days: int = Field(ge=1, le=3650)


class QueuePause(Request):
    """Admin: hold (or release) the queue; the running job finishes, queued ones wait."""

    type: Literal["queue.pause"] = "queue.pause"
    required_scope = Scope.ADMIN
    paused: bool


ClientMessage = Annotated[
    Hello
    | Ping
    | BlobHas
    | BlobGet
    | JobSubmit
    | JobCancel
    | JobFetch
    | JobList
    | StatusRequest
    | ModelsList
    | ModelsAdd
    | ModelsRemove
    | ClientsList
    | ClientsPair
    | ClientsRevoke
    | QueuePause
    | SettingsGet
    | SettingsSet
    | ModelsSetDefault
    | ModelsUpdate
    | ModelsLocate
    | EngineUnload
    | StorageGet
    | ResultsCleanup,
    Field(discriminator="type"),
]



# --------------------------------------------------------------------------- server → client


class Reply(Message):
    reply_to: RequestId | None = None


class Welcome(Reply):
    type: Literal["welcome"] = "welcome"
    protocol: int
    server: ClientInfo
    session: str
    scope: Scope
    capabilities: list[str]
    models: list[ModelInfo]
    limits: Limits


class Error(Reply):
    type: Literal["error"] = "error"
    code: str = Field(description="an ErrorCode (a newer daemon may send a code this client lacks)")
    message: str
    field: str | None = None
    retryable: bool = Field(default=False, description="the same request may succeed later")
    job_id: str | None = None


class Pong(Reply):
    type: Literal["pong"] = "pong"


class BlobMissing(Reply):
    type: Literal["blob.missing"] = "blob.missing"
    sha256: list[Sha256]


class BlobStored(Reply):
    type: Literal["blob.stored"] = "blob.stored"
    sha256: Sha256
    size: int


class BlobData(Message):
    """Header of a binary frame carrying bytes [offset, offset+len(payload)) of a blob."""

    type: Literal["blob.data"] = "blob.data"
    sha256: Sha256
    offset: int
    total: int
    format: ImageFormat
    width: int | None = None
    height: int | None = None
    reply_to: RequestId | None = None


class BlobReceived(Message):
    """A chunk of an upload (sent with `ack`) is stored: `received` bytes of the blob so far. A
    client paces its upload on these (a bounded window of bytes not yet acknowledged) instead of
    on its socket's bufferedAmount, which UXP does not document and whose overflow closes the
    socket."""

    type: Literal["blob.received"] = "blob.received"
    sha256: Sha256 | None = Field(default=None, description="the blob's name; absent for an unnamed upload")
    received: int
    reply_to: RequestId | None = Field(default=None, description="the upload's id (its blob.put frames')")


class BlobSent(Reply):
    """The final reply to blob.get: every blob.data frame of the blob was sent before it."""

    type: Literal["blob.sent"] = "blob.sent"
    sha256: Sha256
    size: int


class JobAccepted(Reply):
    type: Literal["job.accepted"] = "job.accepted"
    job_id: Id
    position: int = Field(description="0: running now; n: n jobs ahead")
    seed: int
    duplicate: bool = Field(default=False, description="the job_id was already accepted")


class JobStarted(Message):
    type: Literal["job.started"] = "job.started"
    job_id: Id


class JobProgress(Message):
    """Step `step` of `steps`. When `preview` is set, this header rides in a binary frame whose
    payload is a small PNG of the current latents."""

    type: Literal["job.progress"] = "job.progress"
    job_id: Id
    step: int
    steps: int
    preview: ImageFormat | None = None
    preview_width: int | None = None
    preview_height: int | None = None
    loss: float | None = Field(default=None, description="train: the step's loss")
    eta_s: float | None = Field(default=None, description="train: seconds left, estimated")
    phase: Literal["class_images", "train"] | None = Field(
        default=None, description="train: 'class_images' while prior-preservation images are "
        "generated (step/steps count images), then 'train'")


class JobResult(Message):
    """One image; its PNG is sent first as blob.data frames (also available via blob.get)."""

    type: Literal["job.result"] = "job.result"
    job_id: Id
    result: ResultInfo


class JobDone(Message):
    type: Literal["job.done"] = "job.done"
    job_id: Id
    results: int
    seconds: float


class JobFailed(Message):
    type: Literal["job.failed"] = "job.failed"
    job_id: Id
    code: str = Field(description="an ErrorCode (a newer daemon may send a code this client lacks)")
    message: str
    field: str | None = None
    retryable: bool = Field(default=False, description="resubmitting may succeed")


class JobCancelled(Message):
    type: Literal["job.cancelled"] = "job.cancelled"
    job_id: Id


class JobState(Reply):
    """Reply to job.fetch; results are re-sent as blob.data + job.result after it."""

    type: Literal["job.state"] = "job.state"
    job: JobSummary


class JobListReply(Reply):
    type: Literal["job.list.reply"] = "job.list.reply"
    jobs: list[JobSummary]


class StatusReply(Reply):
    type: Literal["status.reply"] = "status.reply"
    version: str
    device: DeviceInfo | None = Field(default=None, description="None until the engine has started")
    loaded: list[str] = Field(description="model ids resident in memory, most recent first")
    queue: QueueInfo
    clients: int


class BrokenModelInfo(Message):
    """A registered model the daemon cannot serve (damaged, or its files are gone); an admin
    removes it by this id."""

    id: str
    reason: str
    path: str | None = None


class ModelsReply(Reply):
    type: Literal["models.reply"] = "models.reply"
    models: list[ModelInfo]
    broken: list[BrokenModelInfo] = Field(default_factory=list, description="listed to admins only")


class ClientsReply(Reply):
    type: Literal["clients.reply"] = "clients.reply"
    clients: list[ClientRecord]


class Paired(Reply):
    type: Literal["clients.paired"] = "clients.paired"
    name: str
    scope: Scope
    token: str = Field(description="shown once; the daemon keeps only its hash")


class SettingsReply(Reply):
    type: Literal["settings.reply"] = "settings.reply"
    settings: SettingsInfo
    restart_required: bool = Field(default=False, description="saved differs from what runs now")


class ModelLocation(Reply):
    type: Literal["models.location"] = "models.location"
    model_id: Id
    path: str


class StorageReply(Reply):
    type: Literal["storage.reply"] = "storage.reply"
    models_bytes: int = Field(description="registered models' files, wherever they are")
    blobs_bytes: int = Field(description="uploads and results in the blob store")
    blobs: int
    ledger_bytes: int
    finished_jobs: int = Field(description="ended jobs whose results the ledger keeps")


class ResultsCleaned(Reply):
    type: Literal["results.cleaned"] = "results.cleaned"
    jobs: int = Field(description="finished jobs forgotten")
    blobs: int = Field(description="blobs deleted")
    freed_bytes: int


class Ok(Reply):
    type: Literal["ok"] = "ok"


ServerMessage = Annotated[
    Welcome
    | Error
    | Pong
    | BlobMissing
    | BlobStored
    | BlobData
    | BlobReceived
    | BlobSent
    | JobAccepted
    | JobStarted
    | JobProgress
    | JobResult
    | JobDone
    | JobFailed
    | JobCancelled
    | JobState
    | JobListReply
    | StatusReply
    | ModelsReply
    | ClientsReply
    | Paired
    | SettingsReply
    | ModelLocation
    | StorageReply
    | ResultsCleaned
    | Ok,
    Field(discriminator="type"),
]

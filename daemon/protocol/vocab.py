"""The words of the wire, in one place: every list of names that more than one module (or one
language) needs. StrEnums, so each value is also the plain string that travels; the CLI uses them
as `choices=`, the JSON Schema carries them (and the retryable error codes) to TypeScript.

Pure: imports only the standard library.
"""

from __future__ import annotations

from enum import StrEnum


class Scope(StrEnum):
    """What a token may do. Every client message class declares the scope it needs."""

    CLIENT = "client"
    ADMIN = "admin"


class ClientKind(StrEnum):
    PHOTOSHOP = "photoshop"
    FIGMA = "figma"
    CLI = "cli"
    DESKTOP = "desktop"
    TEST = "test"
    OTHER = "other"


class JobKind(StrEnum):
    GENERATE = "generate"
    REFINE = "refine"
    INPAINT = "inpaint"
    EXPAND = "expand"
    TRAIN = "train"

    @property
    def needs_image(self) -> bool:
        return self not in (JobKind.GENERATE, JobKind.TRAIN)


class Priority(StrEnum):
    """Interactive jobs run before batch ones; each has its own queue quota per client."""

    INTERACTIVE = "interactive"
    BATCH = "batch"


class ControlType(StrEnum):
    """The kind of map a ControlNet follows."""

    CANNY = "canny"
    SCRIBBLE = "scribble"
    LINEART = "lineart"
    SOFTEDGE = "softedge"
    TILE = "tile"
    DEPTH = "depth"
    NORMAL = "normal"
    OPENPOSE = "openpose"
    SEGMENTATION = "segmentation"
    MLSD = "mlsd"
    SHUFFLE = "shuffle"
    INPAINT = "inpaint"
    NONE = "none"


class ControlNetType(StrEnum):
    """What a registered ControlNet follows: one map type, or several (a union model, whose
    type is named per job); for a preprocessor model, the map it makes."""

    CANNY = "canny"
    SCRIBBLE = "scribble"
    LINEART = "lineart"
    SOFTEDGE = "softedge"
    TILE = "tile"
    DEPTH = "depth"
    NORMAL = "normal"
    OPENPOSE = "openpose"
    SEGMENTATION = "segmentation"
    MLSD = "mlsd"
    SHUFFLE = "shuffle"
    INPAINT = "inpaint"
    NONE = "none"
    UNION = "union"


class ModelKind(StrEnum):
    CHECKPOINT = "checkpoint"
    CONTROLNET = "controlnet"
    LORA = "lora"
    EMBEDDING = "embedding"
    VAE = "vae"
    PREPROCESSOR = "preprocessor"  # makes control maps (a depth estimator)


class ModelFormat(StrEnum):
    DIFFUSERS = "diffusers"
    SINGLE_FILE = "single_file"
    TRANSFORMERS = "transformers"  # a transformers model folder (preprocessors)


class ImageFormat(StrEnum):
    PNG = "png"
    RGBA8 = "rgba8"
    GREY8 = "grey8"

    @property
    def channels(self) -> int | None:
        """Bytes per pixel of a raw format; None for PNG (its size is in its header)."""
        return {ImageFormat.RGBA8: 4, ImageFormat.GREY8: 1}.get(self)


class ErrorCode(StrEnum):
    """Every `code` an `error` or `job.failed` can carry. `retryable`: the same request may
    succeed later unchanged (busy, rate-limited, out of memory); the others need a change."""

    BAD_MESSAGE = "bad_message"
    UNSUPPORTED_PROTOCOL = "unsupported_protocol"
    INVALID_INPUT = "invalid_input"
    TOO_LARGE = "too_large"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    BUSY = "busy"
    NOT_FOUND = "not_found"
    UNKNOWN_MODEL = "unknown_model"
    UNKNOWN_BLOB = "unknown_blob"
    UNKNOWN_JOB = "unknown_job"
    CONFLICT = "conflict"
    MODEL_LOAD_FAILED = "model_load_failed"
    OUT_OF_MEMORY = "out_of_memory"
    UNSUPPORTED = "unsupported"
    CANCELLED = "cancelled"
    STORAGE_FAILED = "storage_failed"
    INTERNAL = "internal"

    @property
    def retryable(self) -> bool:
        return self in _RETRYABLE


_RETRYABLE = frozenset({ErrorCode.RATE_LIMITED, ErrorCode.BUSY, ErrorCode.OUT_OF_MEMORY,
                        ErrorCode.STORAGE_FAILED})


def is_retryable(code: str) -> bool:
    """Whether a code (possibly one this version does not know) may be retried unchanged."""
    known = ErrorCode._value2member_map_.get(code)
    return isinstance(known, ErrorCode) and known.retryable


def retryable_codes() -> list[str]:
    """The codes a client may retry unchanged, for the schema (`x-retryable`)."""
    return [code.value for code in ErrorCode if code.retryable]


# Where the engine runs: a kind, or one CUDA device by index ("cuda:1") on a machine with several.
DEVICE_PATTERN = r"^(auto|cuda|mps|cpu|cuda:[0-9]{1,2})$"

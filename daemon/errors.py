"""The one exception tree of the daemon, and the mapping from exceptions to wire errors.

Everything raised for a client's sake is a `LayerbridgeError` with a stable `code`; anything else
is a bug and reaches the client only as `internal` with no detail (the log keeps the traceback).
Imports nothing heavy: the CLI, the protocol and the engine all use it. The codes themselves
are `ErrorCode` in protocol/vocab.py (the schema carries them, with which are retryable).

    LayerbridgeError
    ├── ProtocolError, UnsupportedProtocol, TooLarge
    ├── InvalidInput
    ├── AuthError, Forbidden, RateLimited, Busy
    ├── NotFound ── UnknownModel, UnknownBlob, UnknownJob
    ├── Conflict, Unsupported, Cancelled
    └── ModelLoadError, OutOfMemory, StorageError
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from .protocol.vocab import ErrorCode, is_retryable


class LayerbridgeError(Exception):
    """A failure the client can act on. `field` names the offending input, when there is one."""

    code: ClassVar[ErrorCode | str] = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ProtocolError(LayerbridgeError):
    """The bytes or the JSON on the wire do not form a valid message."""

    code = ErrorCode.BAD_MESSAGE


class UnsupportedProtocol(LayerbridgeError):
    code = ErrorCode.UNSUPPORTED_PROTOCOL


class InvalidInput(LayerbridgeError):
    """A field has a value we refuse; the message names the field and the value."""

    code = ErrorCode.INVALID_INPUT

    def __init__(self, field: str, value: Any, reason: str) -> None:
        try:
            shown = repr(value)
        except ValueError:  # an int too long for Python to print (sys.int_info)
            shown = f"<{type(value).__name__} too long to show>"
        if len(shown) > 80:  # keep both ends: a long path's file name is at its end
            shown = shown[:38] + "..." + shown[-39:]
        super().__init__(f"{field}={shown}: {reason}", field=field)
        self.value = value

    @classmethod
    def worded(cls, field: str, message: str) -> InvalidInput:
        """An InvalidInput whose message is already written (it names the field itself)."""
        exc = cls.__new__(cls)
        LayerbridgeError.__init__(exc, message, field=field)
        exc.value = None
        return exc


class TooLarge(LayerbridgeError):
    code = ErrorCode.TOO_LARGE


class AuthError(LayerbridgeError):
    code = ErrorCode.UNAUTHORIZED


class Forbidden(LayerbridgeError):
    """Authenticated, but the token's scope does not allow this."""

    code = ErrorCode.FORBIDDEN


class RateLimited(LayerbridgeError):
    code = ErrorCode.RATE_LIMITED


class Busy(LayerbridgeError):
    """A limit of the daemon is reached for now (queue full, too many uploads): retry later."""

    code = ErrorCode.BUSY


class NotFound(LayerbridgeError):
    code = ErrorCode.NOT_FOUND


class UnknownModel(NotFound):
    code = ErrorCode.UNKNOWN_MODEL

    def __init__(self, model_id: str, field: str = "model") -> None:
        super().__init__(f"{field}={model_id!r}: no such model in the registry", field=field)


class UnknownBlob(NotFound):
    code = ErrorCode.UNKNOWN_BLOB

    def __init__(self, sha256: str, field: str) -> None:
        super().__init__(
            f"{field}={sha256!r}: blob was never uploaded (send it with blob.put first)",
            field=field,
        )


class UnknownJob(NotFound):
    code = ErrorCode.UNKNOWN_JOB

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job_id={job_id!r}: no such job", field="job_id")


class Conflict(LayerbridgeError):
    code = ErrorCode.CONFLICT


class ModelLoadError(LayerbridgeError):
    """A model exists in the registry but its files cannot be loaded."""

    code = ErrorCode.MODEL_LOAD_FAILED


class OutOfMemory(LayerbridgeError):
    code = ErrorCode.OUT_OF_MEMORY


class Unsupported(LayerbridgeError):
    code = ErrorCode.UNSUPPORTED


class Cancelled(LayerbridgeError):
    code = ErrorCode.CANCELLED


class StorageError(LayerbridgeError):
    """Writing a result or a blob failed (disk full, permissions)."""

    code = ErrorCode.STORAGE_FAILED


INTERNAL_CODE = ErrorCode.INTERNAL
INTERNAL_MESSAGE = "internal error in the daemon (see the daemon log)"


def error_fields(exc: BaseException) -> dict[str, Any]:
    """The wire form `{code, message, field, retryable}` of any exception; internals never leak."""
    if isinstance(exc, LayerbridgeError):
        return {"code": str(exc.code), "message": exc.message, "field": exc.field,
                "retryable": is_retryable(exc.code)}
    return {"code": str(INTERNAL_CODE), "message": INTERNAL_MESSAGE, "field": None,
            "retryable": False}


# an absolute POSIX or Windows path: its folders go, its last part stays ("…/unet.safetensors")
_PATH = re.compile(r"(?:[A-Za-z]:)?[\\/](?:[^\s'\"\\/:]+[\\/])+(?=[^\s'\"\\/:]*)")


def without_paths(message: str) -> str:
    """`message` with the folders of any absolute path replaced by `…/`: errors sent to a
    client-scope caller must not map the daemon's disk (the admin's tray sees them whole)."""
    return _PATH.sub("…/", message)

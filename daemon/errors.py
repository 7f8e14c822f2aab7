"""The one exception tree of the daemon, and the mapping from exceptions to wire errors.

Everything raised for a client's sake is a `LayerbridgeError` with a stable `code`; anything else
is a bug and reaches the client only as `internal` with no detail (the log keeps the traceback).
Imports nothing heavy: the CLI, the protocol and the engine all use it.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LayerbridgeError(Exception):
    """A failure the client can act on. `field` names the offending input, when there is one."""

    code: ClassVar[str] = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ProtocolError(LayerbridgeError):
    """The bytes or the JSON on the wire do not form a valid message."""

    code = "bad_message"


class UnsupportedProtocol(LayerbridgeError):
    code = "unsupported_protocol"


class InvalidInput(LayerbridgeError):
    """A field has a value we refuse; the message names the field and the value."""

    code = "invalid_input"

    def __init__(self, field: str, value: Any, reason: str) -> None:
        shown = repr(value)
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
    code = "too_large"


class AuthError(LayerbridgeError):
    code = "unauthorized"


class Forbidden(LayerbridgeError):
    """Authenticated, but the token's scope does not allow this."""

    code = "forbidden"


class RateLimited(LayerbridgeError):
    code = "rate_limited"


class NotFound(LayerbridgeError):
    code = "not_found"


class UnknownModel(NotFound):
    code = "unknown_model"

    def __init__(self, model_id: str, field: str = "model") -> None:
        super().__init__(f"{field}={model_id!r}: no such model in the registry", field=field)


class UnknownBlob(NotFound):
    code = "unknown_blob"

    def __init__(self, sha256: str, field: str) -> None:
        super().__init__(
            f"{field}={sha256!r}: blob was never uploaded (send it with blob.put first)",
            field=field,
        )


class UnknownJob(NotFound):
    code = "unknown_job"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job_id={job_id!r}: no such job", field="job_id")


class Conflict(LayerbridgeError):
    code = "conflict"


class ModelLoadError(LayerbridgeError):
    """A model exists in the registry but its files cannot be loaded."""

    code = "model_load_failed"


class OutOfMemory(LayerbridgeError):
    code = "out_of_memory"


class Unsupported(LayerbridgeError):
    code = "unsupported"


class Cancelled(LayerbridgeError):
    code = "cancelled"


class Preempted(LayerbridgeError):
    """A train job stepped aside between two steps for a job of higher priority; it is queued
    again and goes on where it stopped. Never sent to a client."""

    code = "preempted"


class StorageError(LayerbridgeError):
    """Writing a result or a blob failed (disk full, permissions)."""

    code = "storage_failed"


INTERNAL_CODE = "internal"
INTERNAL_MESSAGE = "internal error in the daemon (see the daemon log)"


def error_fields(exc: BaseException) -> dict[str, Any]:
    """The wire form `{code, message, field}` of any exception; internals never leak."""
    if isinstance(exc, LayerbridgeError):
        return {"code": exc.code, "message": exc.message, "field": exc.field}
    return {"code": INTERNAL_CODE, "message": INTERNAL_MESSAGE, "field": None}

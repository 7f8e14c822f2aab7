"""Run a controller coroutine from a Qt slot: errors become a `failed` line, never a traceback
in the event loop. Keeps a reference so the task is not garbage-collected mid-flight."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from layerbridge.daemon.client import RemoteError
from pydantic import ValidationError

log = logging.getLogger("layerbridge.desktop")

_running: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, Any], on_error: Callable[[str], None] | None = None
          ) -> asyncio.Task[Any]:
    task = asyncio.ensure_future(coro)
    _running.add(task)

    def done(t: asyncio.Task[Any]) -> None:
        _running.discard(t)
        if t.cancelled():
            return
        exc = t.exception()
        if exc is None:
            return
        text = (describe(exc) if isinstance(exc, RemoteError | ValidationError)
                else f"{type(exc).__name__}: {exc}")
        if not isinstance(exc, RemoteError | ValidationError):
            log.error("desktop task failed", exc_info=exc)
        if on_error is not None:
            on_error(text)

    task.add_done_callback(done)
    return task


PATTERN_WORDS = {
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$":
        "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
}


def describe(exc: BaseException) -> str:
    """One line for the user: the daemon's message, or which field a value failed and why
    (never pydantic's own text, with its URLs)."""
    if isinstance(exc, RemoteError):
        return exc.message
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors(include_url=False)[:3]:
            field = ".".join(str(x) for x in err["loc"]) or "value"
            pattern = (err.get("ctx") or {}).get("pattern")
            why = f"must be {PATTERN_WORDS[pattern]}" if pattern in PATTERN_WORDS else err["msg"]
            parts.append(f"{field} {why} (got {err['input']!r})")
        return "; ".join(parts)
    return str(exc)

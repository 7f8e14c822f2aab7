"""Run a controller coroutine from a Qt slot: errors become a `failed` line, never a traceback
in the event loop. Keeps a reference so the task is not garbage-collected mid-flight."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from layerbridge.daemon.client import RemoteError

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
        text = exc.message if isinstance(exc, RemoteError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, RemoteError):
            log.error("desktop task failed", exc_info=exc)
        if on_error is not None:
            on_error(text)

    task.add_done_callback(done)
    return task


def describe(exc: BaseException) -> str:
    return exc.message if isinstance(exc, RemoteError) else str(exc)

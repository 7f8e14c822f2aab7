"""The daemon's parts wired together: tokens, registry, blobs, ledger, job manager, executor.

`DaemonCore` is what a `Session` talks to; `server.py` puts it on a socket.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import TYPE_CHECKING

from . import __version__
from .auth import FailureLimiter, TokenStore
from .config import Paths, Settings
from .engine.registry import Registry
from .executors.base import Executor
from .jobs.blobstore import BlobStore
from .jobs.ledger import Ledger
from .jobs.manager import JobManager
from .protocol.limits import LIMITS, WireLimits
from .protocol.messages import Limits, ModelInfo, StatusReply

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger("layerbridge.daemon")

REVOCATION_CHECK_S = 1.0


class DaemonCore:
    def __init__(self, paths: Paths, settings: Settings, executor: Executor) -> None:
        self.paths = paths.ensure()
        self.settings = settings
        # not a parameter: the message models and the codec are built on these same bounds
        self.limits: WireLimits = LIMITS
        self.tokens = TokenStore(paths.ledger)
        self.limiter = FailureLimiter()
        self.registry = Registry(paths)
        self.blobs = BlobStore(paths.blobs)
        self.ledger = Ledger(paths.ledger)
        self.executor = executor
        self.manager = JobManager(self.ledger, self.blobs, executor, self._check_model)
        self.sessions: set[Session] = set()
        self._session_id = uuid.uuid4().hex
        self._watchdog: asyncio.Task[None] | None = None

    def _check_model(self, model_id: str, field: str) -> None:
        self.registry.get(model_id, field=field)

    async def start(self) -> None:
        await self.executor.start()
        await self.manager.start()
        self._watchdog = asyncio.create_task(self._check_revocations())

    async def stop(self) -> None:
        if self._watchdog:
            self._watchdog.cancel()
        for session in list(self.sessions):
            session.close(1001, "daemon shutting down")
        await self.manager.stop()
        await self.executor.close()
        self.ledger.close()
        self.tokens.close()

    def session_id(self) -> str:
        return self._session_id

    def models(self) -> list[ModelInfo]:
        return self.registry.list()

    def limits_message(self) -> Limits:
        return Limits(**{name: getattr(self.limits, name) for name in Limits.model_fields})

    def status(self) -> StatusReply:
        ex = self.executor.status()
        return StatusReply(version=__version__, device=ex.device, loaded=ex.loaded,
                           queue=self.manager.queue_info(), clients=len(self.sessions))

    def revoked(self) -> None:
        """Close every connection whose token was revoked (here or by `pair --revoke`)."""
        for session in list(self.sessions):
            if not session.still_authorized():
                log.info("closing %s: its token was revoked", session.peer)
                session.close(1008, "token revoked")

    async def _check_revocations(self) -> None:
        while True:
            await asyncio.sleep(REVOCATION_CHECK_S)
            try:
                self.revoked()
            except Exception:
                log.exception("revocation check failed")

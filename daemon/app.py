"""The daemon's parts wired together: tokens, registry, blobs, ledger, job manager, executor.

`DaemonCore` is what a `Session` talks to; `server.py` puts it on a socket.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING

from . import __version__
from .auth import Client, FailureLimiter, TokenStore
from .config import Paths, Settings
from .engine.registry import Registry
from .errors import AuthError, RateLimited
from .executors.base import Executor
from .jobs.blobstore import BlobStore
from .jobs.ledger import Ledger
from .jobs.manager import JobManager
from .jobs.uploads import Uploads
from .protocol.limits import LIMITS, ServerLimits, WireLimits
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
        self.server_limits: ServerLimits = settings.server.limits
        self.tokens = TokenStore(paths.ledger)
        self.limiter = FailureLimiter(self.server_limits.auth_failures,
                                      self.server_limits.auth_window_s)
        self.registry = Registry(paths)
        self.blobs = BlobStore(paths.blobs)
        self.uploads = Uploads(self.blobs, self.server_limits.max_uploads_total,
                               self.server_limits.max_upload_bytes_total)
        self.ledger = Ledger(paths.ledger)
        self.executor = executor
        self.manager = JobManager(self.ledger, self.blobs, executor, self._check_model,
                                  self.server_limits)
        self.sessions: set[Session] = set()
        self._unauthenticated: OrderedDict[Session, None] = OrderedDict()  # oldest first
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
        wire = {name: getattr(self.limits, name) for name in Limits.model_fields
                if hasattr(self.limits, name)}
        return Limits(**wire, **{name: getattr(self.server_limits, name)
                                 for name in Limits.model_fields if name not in wire})

    # ------------------------------------------------------------------ connections

    def opened(self, session: Session) -> None:
        """A connection was accepted. Connections that have not said hello are capped: beyond
        the cap the oldest is dropped, so a flood of silent sockets cannot crowd out clients."""
        self.sessions.add(session)
        self._unauthenticated[session] = None
        while len(self._unauthenticated) > self.server_limits.max_unauthenticated:
            oldest, _ = self._unauthenticated.popitem(last=False)
            log.info("dropping %s: too many connections have not said hello", oldest.peer)
            oldest.close(1008, "too many connections without hello")

    def said_hello(self, session: Session) -> None:
        self._unauthenticated.pop(session, None)

    def closed(self, session: Session) -> None:
        self._unauthenticated.pop(session, None)
        self.sessions.discard(session)

    def full(self) -> bool:
        """No room for another connection (the handshake is refused with 503)."""
        return len(self.sessions) >= self.server_limits.max_connections

    async def verify_token(self, token: str, guesses: str, peer: str, origin: str | None) -> Client:
        """The client a hello's token belongs to. A correct token is always accepted; after
        too many wrong ones from one peer and Origin, that peer's further guesses are refused
        as `rate_limited` (the right token still passes: a page guessing from `Origin: null`
        cannot lock the Figma plugin out, nor a local process the tray)."""
        try:
            return await asyncio.to_thread(self.tokens.verify, token)
        except AuthError:
            locked = self.limiter.locked(guesses)
            self.limiter.failed(guesses)
            log.info("refused a token from %s (Origin %s)%s", peer, origin or "none",
                     "; its guesses are locked out" if not locked and self.limiter.locked(guesses)
                     else "")
            if self.limiter.locked(guesses):
                raise RateLimited(f"too many refused tokens from {peer}; a correct token is "
                                  f"still accepted; wrong ones again in {self.limiter.wait(guesses):.0f} s",
                                  field="token") from None
            raise

    def status(self) -> StatusReply:
        ex = self.executor.status()
        return StatusReply(version=__version__, device=ex.device, loaded=ex.loaded,
                           queue=self.manager.queue_info(), clients=len(self.sessions))

    async def revoked(self) -> None:
        """Close every connection whose token was revoked (here or by `pair --revoke`), and
        cancel the queued and running jobs of clients no longer paired."""
        with_jobs = self.manager.clients_with_jobs()
        if with_jobs:
            paired = {c.name for c in await asyncio.to_thread(self.tokens.list)}
            for name in with_jobs - paired:
                count = await self.manager.cancel_client(name)
                log.info("cancelled %d job(s) of %r: its token was revoked", count, name)
        for session in list(self.sessions):
            if not await session.still_authorized():
                log.info("closing %s: its token was revoked", session.peer)
                session.close(1008, "token revoked")

    async def _check_revocations(self) -> None:
        while True:
            await asyncio.sleep(REVOCATION_CHECK_S)
            try:
                await self.revoked()
            except Exception:
                log.exception("revocation check failed")

"""`DaemonConnection`: one admin connection to a daemon (local or remote), turned into Qt signals.

It reconnects when the connection drops (the daemon restarting), watches every job's events
(`job.list` with watch), and polls `status`, emitting `statusChanged` only when it differs.
Runs on the qasync loop; the widgets never see the client or a dict."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

from layerbridge.daemon.client import DaemonClient, JobEvent, RemoteError
from layerbridge.daemon.protocol.messages import (
    JobList,
    JobListReply,
    JobParams,
    Request,
    StatusReply,
    Welcome,
)
from PySide6.QtCore import QObject, QTimer, Signal

log = logging.getLogger("layerbridge.desktop.connection")

M = TypeVar("M")


@dataclass(frozen=True)
class Accepted:
    job_id: str
    seed: int
    duplicate: bool  # the id was taken by this very job already: nothing new was queued


class LinkState(Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"


class DaemonConnection(QObject):
    stateChanged = Signal(str)  # LinkState.value
    connected = Signal(object)  # Welcome
    disconnected = Signal(str)  # why
    statusChanged = Signal(object)  # StatusReply
    jobsListed = Signal(object)  # list[JobSummary], after each (re)connect
    jobEvent = Signal(object, object)  # message, preview PNG bytes or None

    def __init__(self, *, name: str = "layerbridge-tray", poll_ms: int = 1000,
                 retry_s: tuple[float, float] = (0.5, 5.0), parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.state = LinkState.DISCONNECTED
        self.url: str | None = None
        self.welcome: Welcome | None = None
        self.status: StatusReply | None = None
        self.last_error = ""
        self.refused = ""  # why the daemon refused this token; no retry until `open` again
        self._token = ""
        self._tls_fingerprint: str | None = None
        self._client: DaemonClient | None = None
        self._retry = retry_s
        self._task: asyncio.Task[None] | None = None
        self._poll = QTimer(self)
        self._poll.setInterval(poll_ms)
        self._poll.timeout.connect(self._poll_status)
        self._polling = False

    # ------------------------------------------------------------------ control

    def open(self, url: str, token: str, tls_fingerprint: str | None = None) -> None:
        """Connect (again) to `url` (a wss:// one pinned to `tls_fingerprint`, when given);
        keeps trying until `close`."""
        self.url, self._token, self._tls_fingerprint = url, token, tls_fingerprint
        self.refused = ""
        self._stop_task()
        self._task = asyncio.ensure_future(self._run())

    async def close(self) -> None:
        self._stop_task()
        self._poll.stop()
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.close()
        self._set_state(LinkState.DISCONNECTED, "closed")

    def stop(self) -> None:
        """Like `close`, from synchronous code (a Qt slot)."""
        self._stop_task()
        self._poll.stop()
        client, self._client = self._client, None
        if client is not None:
            task = asyncio.ensure_future(client.close())
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        self._set_state(LinkState.DISCONNECTED, "closed")

    @property
    def is_connected(self) -> bool:
        return self.state is LinkState.CONNECTED and self._client is not None

    def peer_certificate(self) -> bytes:
        """The DER certificate the daemon presented (b"" over plain ws://)."""
        if self._client is None:
            return b""
        transport = getattr(self._client.ws, "transport", None)
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        if ssl_object is None:
            return b""
        der = ssl_object.getpeercert(binary_form=True)
        return bytes(der) if der else b""

    @property
    def is_admin(self) -> bool:
        return self.welcome is not None and self.welcome.scope == "admin"

    async def request(self, message: Request, expect: type[M]) -> M:
        """Send a request; raises RemoteError (also when not connected)."""
        reply = await self._live().request(message)
        if not isinstance(reply, expect):
            raise RemoteError("bad_message", f"expected {expect.__name__}, got {type(reply).__name__}")
        return reply

    async def submit(self, params: JobParams) -> str:
        job = await self._live().submit(params)
        return job.job_id

    async def submit_with(self, params: JobParams, *, job_id: str | None = None,
                          priority: str = "interactive") -> Accepted:
        """Submit a job under a chosen id (the same id and params again: the same job, which
        `duplicate` then says) and priority."""
        job = await self._live().submit(params, job_id=job_id, priority=priority)
        return Accepted(job.job_id, job.seed, job.duplicate)

    async def upload(self, data: bytes, format: str = "png") -> bool:
        """Upload a blob unless the daemon has it; returns whether its bytes were sent."""
        client = self._live()
        before = client.payload_bytes_sent
        await client.upload(data, format)
        return client.payload_bytes_sent > before

    async def run(self, params: JobParams) -> list[bytes]:
        """Submit a job and wait for it; returns its images (PNG). Raises RemoteError."""
        job = await (await self._live().submit(params)).wait()
        return [data for _, data in job.results]

    async def cancel(self, job_id: str) -> None:
        await self._live().cancel(job_id)

    async def blob(self, sha: str) -> bytes:
        # as PNG: a plugin's results may be raw rgba8 (thumbnails and saved files need a PNG)
        return await self._live().blob_png(sha)

    async def refresh_status(self) -> StatusReply | None:
        if self._client is None:
            return None
        try:
            status = await self._client.status()
        except RemoteError:
            return None
        status = status.model_copy(update={"reply_to": None})  # reply_to alone must not count as a change
        if status != self.status:
            self.status = status
            self.statusChanged.emit(status)
        return self.status

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        delay = self._retry[0]
        while True:
            self._set_state(LinkState.CONNECTING, "")
            assert self.url is not None
            try:
                client = await DaemonClient.connect(self.url, self._token, name=self.name,
                                                      kind="desktop", tls_fingerprint=self._tls_fingerprint)
            except RemoteError as exc:
                self.last_error = exc.message
                if exc.code in ("unauthorized", "forbidden", "rate_limited",
                                "unsupported_protocol"):
                    self.refused = exc.message
                    self._set_state(LinkState.DISCONNECTED, exc.message)  # from CONNECTING: signalled
                    return  # a refused token will not become valid by retrying
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry[1])
                continue
            delay = self._retry[0]
            self.last_error = ""  # an old failure must not be shown once this link drops again
            closed = asyncio.ensure_future(client.ws.wait_closed())
            try:
                await self._attach(client)
                await closed
            except RemoteError as exc:
                self.last_error = exc.message
            finally:
                closed.cancel()
                self._poll.stop()
                self._client = None
                with contextlib.suppress(Exception):
                    await client.close()
            self._set_state(LinkState.DISCONNECTED, "the connection to the daemon closed")
            await asyncio.sleep(delay)

    async def _attach(self, client: DaemonClient) -> None:
        client.on_event(self._on_job_event)  # every client's jobs: job.list below watches
        self._client = client
        self.welcome = client.welcome
        self.status = None
        listed = await client.request(JobList(watch=True, limit=100))
        assert isinstance(listed, JobListReply)
        self._set_state(LinkState.CONNECTED, "")
        self.connected.emit(client.welcome)
        self.jobsListed.emit(listed.jobs)
        await self.refresh_status()
        self._poll.start()

    def _on_job_event(self, event: JobEvent) -> None:
        self.jobEvent.emit(event.message, event.payload)

    def _poll_status(self) -> None:
        if self._polling or self._client is None:
            return
        self._polling = True
        task = asyncio.ensure_future(self.refresh_status())
        task.add_done_callback(self._polled)

    def _polled(self, task: asyncio.Task[StatusReply | None]) -> None:
        self._polling = False
        if not task.cancelled() and task.exception() is not None:
            log.debug("status poll failed: %s", task.exception())

    def _live(self) -> DaemonClient:
        if self._client is None:
            raise RemoteError("not_connected", "not connected to the daemon")
        return self._client

    def _stop_task(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    def _set_state(self, state: LinkState, why: str) -> None:
        if state is self.state:
            return
        was_connected = self.state is LinkState.CONNECTED
        self.state = state
        self.stateChanged.emit(state.value)
        if was_connected and state is not LinkState.CONNECTED:
            self.status = None
            self.disconnected.emit(why)

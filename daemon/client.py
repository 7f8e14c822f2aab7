"""The Python client of the protocol, used by the CLI, the tray app, the benchmarks and the tests.
Never imports torch: `layerbridge client status` starts in a fraction of a second."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import secrets
import ssl
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import xxhash
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from . import __version__
from .errors import LayerbridgeError
from .protocol import codec
from .protocol.messages import (
    PROTOCOL_VERSION,
    BlobData,
    BlobGet,
    BlobHas,
    BlobMissing,
    BlobPut,
    BlobStored,
    ClientInfo,
    Error,
    Hello,
    JobAccepted,
    JobCancel,
    JobCancelled,
    JobDone,
    JobFailed,
    JobFetch,
    JobParams,
    JobResult,
    JobState,
    JobSubmit,
    Message,
    Request,
    ResultInfo,
    StatusReply,
    StatusRequest,
    Welcome,
)
from .tls import check_peer, client_context, parse_fingerprint

FINAL = (JobDone, JobFailed, JobCancelled)

log = logging.getLogger("layerbridge.client")

# 1 MiB chunks keep the daemon hashing and writing one chunk while the next is on the wire;
# 16 MiB chunks measured 2-3x slower end to end (bench/transport.py).
UPLOAD_CHUNK = 1 << 20
SENT_KEYS = 1024  # content keys remembered (the most recent uploads)


class RemoteError(LayerbridgeError):
    """An error reply from the daemon, or the connection failing."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.remote_code = code

    @property
    def code(self) -> str:  # type: ignore[override]
        return self.remote_code

    def __str__(self) -> str:
        return f"{self.remote_code}: {self.message}"


@dataclass
class JobEvent:
    message: Message
    payload: bytes | None = None  # preview PNG of a job.progress


@dataclass
class Job:
    job_id: str
    seed: int
    duplicate: bool = False
    results: list[tuple[ResultInfo, bytes]] = field(default_factory=list)
    outcome: Message | None = None
    _events: asyncio.Queue[JobEvent] = field(default_factory=asyncio.Queue, repr=False)

    async def events(self) -> AsyncIterator[JobEvent]:
        """Every event of the job until (and including) its final one."""
        while self.outcome is None or not self._events.empty():
            event = await self._events.get()
            yield event
            if isinstance(event.message, FINAL):
                return

    async def wait(self, on_event: Callable[[JobEvent], None] | None = None) -> Job:
        """Wait for the job to end; raises RemoteError when it failed or was cancelled."""
        async for event in self.events():
            if on_event:
                on_event(event)
        match self.outcome:
            case JobFailed(code=code, message=message, field=fld):
                raise RemoteError(code, message, fld)
            case JobCancelled():
                raise RemoteError("cancelled", f"job {self.job_id} was cancelled")
        return self


class DaemonClient:
    def __init__(self, ws: ClientConnection, welcome: Welcome) -> None:
        self.ws = ws
        self.welcome = welcome
        self._ids = itertools.count(1)
        self._pending: dict[str, asyncio.Future[Message]] = {}
        self._jobs: dict[str, Job] = {}
        self._early: dict[str, list[JobEvent]] = {}
        self._incoming: dict[str, bytearray] = {}
        self._blobs: dict[str, bytes] = {}
        self._blob_shapes: dict[str, tuple[str, int | None, int | None]] = {}  # format, w, h
        self._blob_waiters: dict[str, asyncio.Future[bytes]] = {}
        self.payload_bytes_sent = 0  # blob bytes put on the wire (0 for a blob the daemon had)
        # content key -> sha256 of the blobs this client uploaded (see upload); the seed is this
        # client's own, so no one can make two images share a key here without seeing it
        self._sent: OrderedDict[tuple[str, int], str] = OrderedDict()
        self._key_seed = secrets.randbits(64)
        self._listeners: list[Callable[[JobEvent], None]] = []
        self._submitting = 0  # submits awaiting their reply: early events may be theirs
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str, token: str, *, name: str = "layerbridge-cli",
                      kind: str = "cli", origin: str | None = None, ca: str | None = None,
                      tls_fingerprint: str | None = None) -> DaemonClient:
        """Connect and say hello. A `wss://` daemon is verified with the system's CAs, or with
        `ca` (a PEM file), or by its certificate's SHA-256 `tls_fingerprint`, checked before the
        token is sent."""
        context = _tls_context(url, ca, tls_fingerprint)
        try:
            ws = await connect(url, compression=None, max_size=None, proxy=None,
                               open_timeout=10, origin=origin, ssl=context)  # type: ignore[arg-type]
        except ssl.SSLCertVerificationError as exc:
            raise RemoteError("tls_refused", f"the daemon at {url} has a certificate this machine does "
                              f"not trust ({exc.verify_message}): pass its SHA-256 fingerprint "
                              "(--tls-fingerprint, printed by `layerbridge pair` on its machine) or "
                              "the studio CA (--ca FILE)", "tls_fingerprint") from None
        except ssl.SSLError as exc:
            raise RemoteError("tls_refused", f"TLS with the daemon at {url} failed ({exc.reason or exc}); "
                              "is it a wss:// daemon?") from None
        except InvalidStatus as exc:
            body = exc.response.body.decode(errors="replace").strip() if exc.response.body else ""
            raise RemoteError("handshake_refused",
                              f"daemon refused the connection: HTTP {exc.response.status_code} {body}") from None
        except InvalidHandshake as exc:
            hint = " (a LAN-mode daemon speaks wss://)" if url.lower().startswith("ws://") else ""
            raise RemoteError("handshake_refused", f"the WebSocket handshake with {url} failed: "
                              f"{exc}{hint}") from None
        except OSError as exc:
            raise RemoteError("not_running", f"cannot reach the daemon at {url} "
                              f"({exc.strerror or exc}); start it with `layerbridge serve`") from None
        if tls_fingerprint:
            try:  # before the hello: the token goes only to the pinned certificate's holder
                check_peer(ws.transport.get_extra_info("ssl_object"), tls_fingerprint)
            except LayerbridgeError as exc:
                await ws.close()
                raise RemoteError("tls_refused", exc.message, exc.field) from None
        hello = Hello(id="hello", protocols=[PROTOCOL_VERSION], token=token,
                      client=ClientInfo(name=name, kind=kind, version=__version__))  # type: ignore[arg-type]
        await ws.send(codec.encode_text(hello))
        try:
            reply = codec.parse_server_text(await asyncio.wait_for(ws.recv(), 15))
        except ConnectionClosed as exc:
            raise RemoteError("closed", f"daemon closed the connection: {exc.reason}") from None
        if isinstance(reply, Error):
            await ws.close()
            raise RemoteError(reply.code, reply.message, reply.field)
        if not isinstance(reply, Welcome):
            raise RemoteError("bad_message", f"expected welcome, got {reply.type}")
        return cls(ws, reply)

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def __aenter__(self) -> DaemonClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def on_event(self, callback: Callable[[JobEvent], None]) -> Callable[[], None]:
        """Call `callback` with every event this connection receives: its own jobs' and, after a
        `job.list` with `watch`, every client's. Returns a function that removes the callback."""
        self._listeners.append(callback)

        def remove() -> None:
            if callback in self._listeners:
                self._listeners.remove(callback)

        return remove

    # ------------------------------------------------------------------ requests

    async def request(self, message: Request) -> Message:
        rid = str(next(self._ids))
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        try:
            await self.ws.send(codec.encode_text(message.model_copy(update={"id": rid})))
            reply = await future
        finally:
            self._pending.pop(rid, None)  # answered, or the caller gave up (cancelled)
        if isinstance(reply, Error):
            raise RemoteError(reply.code, reply.message, reply.field)
        return reply

    async def status(self) -> StatusReply:
        reply = await self.request(StatusRequest())
        assert isinstance(reply, StatusReply)
        return reply

    async def upload(self, data: bytes, format: str = "png", width: int | None = None,
                     height: int | None = None) -> str:
        """Upload a blob unless the daemon has it; returns its sha256.

        Bytes this client sent before are known by a content key (XXH3-128, seeded per client:
        ~9 ms for 64 MiB against ~75 ms for SHA-256) and only checked with `blob.has`. New bytes
        go unnamed (capability blob.unnamed): the daemon hashes them as they arrive and names
        the blob in `blob.stored`, so the upload never waits on a hash here."""
        key = (xxhash.xxh3_128_hexdigest(data, seed=self._key_seed), len(data))
        sha = self._sent.get(key)
        if sha is None and "blob.unnamed" not in self.welcome.capabilities:
            sha = hashlib.sha256(data).hexdigest()  # an older daemon: name it first
        if sha is not None:
            missing = await self.request(BlobHas(sha256=[sha]))
            assert isinstance(missing, BlobMissing)
            if sha not in missing.sha256:
                self._remember(key, sha)
                return sha
        upload_id = str(next(self._ids))
        stored: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending[upload_id] = stored  # blob.stored, or an error, names the upload's id
        chunk = min(self.welcome.limits.max_chunk_bytes, UPLOAD_CHUNK)
        view = memoryview(data)
        try:
            for offset in range(0, len(data), chunk):
                if stored.done():
                    break  # refused already: send no more of it
                header = BlobPut(id=upload_id, sha256=sha, offset=offset, total=len(data),
                                 format=format, width=width, height=height)  # type: ignore[arg-type]
                await self.ws.send(codec.encode_binary(header, view[offset : offset + chunk]))
                self.payload_bytes_sent += min(chunk, len(data) - offset)
            reply = await stored
        finally:
            self._pending.pop(upload_id, None)
        if isinstance(reply, Error):
            raise RemoteError(reply.code, reply.message, reply.field)
        assert isinstance(reply, BlobStored)
        self._remember(key, reply.sha256)
        return reply.sha256

    def _remember(self, key: tuple[str, int], sha: str) -> None:
        self._sent[key] = sha
        self._sent.move_to_end(key)
        if len(self._sent) > SENT_KEYS:
            self._sent.popitem(last=False)

    async def blob(self, sha: str) -> bytes:
        if sha in self._blobs:
            return self._blobs[sha]
        # blob.data frames, then the final blob.sent reply (or an error, e.g. unknown_blob)
        await self.request(BlobGet(sha256=sha))
        return self._blobs[sha]

    async def blob_png(self, sha: str) -> bytes:
        """A blob as PNG, to show or save as a file: a raw result (rgba8, which a plugin on the
        daemon's machine asks for) is encoded here."""
        data = await self.blob(sha)
        format, width, height = self._blob_shapes.get(sha, ("png", None, None))
        if format == "png" or width is None or height is None:
            return data
        from PIL import Image  # only here: the CLI and the tray start without it

        from .image_io import encode_png

        mode = "RGBA" if format == "rgba8" else "L"
        return encode_png(Image.frombytes(mode, (width, height), data))

    async def submit(self, params: JobParams, job_id: str | None = None,
                     priority: str = "interactive") -> Job:
        self._submitting += 1
        try:
            reply = await self.request(JobSubmit(params=params, job_id=job_id, priority=priority))  # type: ignore[arg-type]
            assert isinstance(reply, JobAccepted)
            return self._track(reply.job_id, reply.seed, reply.duplicate)
        finally:
            self._submitting -= 1
            if not self._submitting:
                self._early.clear()  # no submit can claim them now: other clients' (watched) jobs

    async def fetch(self, job_id: str) -> tuple[Job, JobState]:
        """Re-attach to a job (after a reconnect): its state now, its results, its further events."""
        job = self._jobs.setdefault(job_id, Job(job_id, seed=0))
        reply = await self.request(JobFetch(job_id=job_id))
        assert isinstance(reply, JobState)
        # the daemon follows job.state with the results and, for an ended job, its final event
        return job, reply

    async def cancel(self, job_id: str) -> None:
        await self.request(JobCancel(job_id=job_id))

    # ------------------------------------------------------------------ incoming

    def _track(self, job_id: str, seed: int, duplicate: bool) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            job = self._jobs[job_id] = Job(job_id, seed, duplicate)
        job.seed, job.duplicate = seed, duplicate
        for event in self._early.pop(job_id, []):
            self._deliver(job_id, event)
        return job

    def _deliver(self, job_id: str, event: JobEvent) -> None:
        job = self._jobs.get(job_id)
        if job is None:  # an event can overtake the reply that announces the job
            if self._submitting:
                self._early.setdefault(job_id, []).append(event)
            return
        # job.fetch replays a job's results and final event: what this client already holds
        # (the job ended between the submit and the fetch) is not delivered twice
        if isinstance(event.message, JobResult):
            result = event.message.result
            if any(held.index == result.index for held, _ in job.results):
                return
            job.results.append((result, self._blobs[result.blob]))
        if isinstance(event.message, FINAL):
            if job.outcome is not None:
                return
            job.outcome = event.message
        job._events.put_nowait(event)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                self._on_frame(frame)
        except ConnectionClosed:
            pass
        finally:
            self._fail_all(RemoteError("closed", "connection to the daemon closed"))

    def _on_frame(self, frame: str | bytes) -> None:
        payload: bytes | None = None
        if isinstance(frame, bytes):
            message, view = codec.parse_server_binary(frame)
            payload = bytes(view)
        else:
            message = codec.parse_server_text(frame)
        if isinstance(message, BlobData):
            self._on_blob(message, payload or b"")
            return
        reply_to = getattr(message, "reply_to", None)
        if reply_to is not None and reply_to in self._pending:
            future = self._pending.pop(reply_to)
            if not future.done():  # the caller may have given up meanwhile
                future.set_result(message)
            return
        event = JobEvent(message, payload)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a listener's bug must not stop this connection's reader
                log.exception("event listener failed")
        job_id = getattr(message, "job_id", None)
        if isinstance(job_id, str):
            self._deliver(job_id, event)

    def _on_blob(self, header: BlobData, payload: bytes) -> None:
        buf = self._incoming.setdefault(header.sha256, bytearray())
        buf += payload
        if len(buf) < header.total:
            return
        data = bytes(self._incoming.pop(header.sha256))
        self._blobs[header.sha256] = data
        self._blob_shapes[header.sha256] = (header.format, header.width, header.height)
        waiter = self._blob_waiters.pop(header.sha256, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(data)

    def _fail_all(self, exc: RemoteError) -> None:
        futures: list[asyncio.Future[Any]] = [*self._pending.values(), *self._blob_waiters.values()]
        for fut in futures:
            if not fut.done():
                fut.set_exception(exc)
        for job in self._jobs.values():
            if job.outcome is None:
                job.outcome = JobFailed(job_id=job.job_id, code="disconnected",
                                        message="connection to the daemon closed before the job ended")
                job._events.put_nowait(JobEvent(job.outcome))


def _tls_context(url: str, ca: str | None, pin: str | None) -> ssl.SSLContext | None:
    """The TLS context for a wss:// URL; a CA or a fingerprint given for ws:// is refused, since
    nothing would be checked."""
    if not url.lower().startswith("wss://"):
        if ca or pin:
            raise RemoteError("invalid_input", f"url={url!r}: a CA file or a TLS fingerprint needs a "
                              "wss:// URL", "url")
        return None
    if pin:
        parse_fingerprint(pin)  # a malformed pin is named before connecting
    return client_context(ca, pin)

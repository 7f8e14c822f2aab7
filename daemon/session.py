"""One client connection, transport-free: frames in, messages out through `send`.

States: AWAITING_HELLO → READY → CLOSED. Nothing but `hello` is served before a token is
verified. Every failure becomes a typed `error` message; no traceback reaches the client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING

from . import __version__, image_io
from .auth import Client, hash_token
from .config import LOOPBACK_HOSTS, load_settings, save_settings
from .errors import (
    AuthError,
    Forbidden,
    InvalidInput,
    LayerbridgeError,
    ProtocolError,
    UnsupportedProtocol,
    error_fields,
)
from .jobs.blobstore import Upload
from .jobs.manager import blob_frames
from .protocol import codec
from .protocol.blobs import HEAD_BYTES, Accepted, BlobAssembler
from .protocol.messages import (
    ADMIN_MESSAGES,
    SUPPORTED_PROTOCOLS,
    BlobGet,
    BlobHas,
    BlobMissing,
    BlobPut,
    BlobStored,
    ClientInfo,
    ClientMessage,
    ClientRecord,
    ClientsList,
    ClientsPair,
    ClientsReply,
    ClientsRevoke,
    EngineUnload,
    Error,
    Hello,
    JobCancel,
    JobFetch,
    JobList,
    JobListReply,
    JobState,
    JobSubmit,
    Message,
    ModelLocation,
    ModelsAdd,
    ModelsList,
    ModelsLocate,
    ModelsRemove,
    ModelsReply,
    ModelsSetDefault,
    ModelsUpdate,
    Ok,
    Paired,
    Ping,
    Pong,
    QueuePause,
    Request,
    SettingsGet,
    SettingsInfo,
    SettingsReply,
    SettingsSet,
    StatusRequest,
    Welcome,
)

if TYPE_CHECKING:
    from .app import DaemonCore
    from .config import Settings

log = logging.getLogger("layerbridge.session")

CAPABILITIES = ["generate", "refine", "inpaint", "expand", "control", "lora", "preview",
                "blob.chunked", "job.fetch", "job.client_id"]

Send = Callable[[str | bytes], bool]  # False: the client's queue is full
Close = Callable[[int, str], None]


class ConnState(Enum):
    AWAITING_HELLO = "awaiting hello"
    READY = "ready"
    CLOSED = "closed"


class Session:
    def __init__(self, core: DaemonCore, peer: str, send: Send, close: Close,
                 origin: str | None = None) -> None:
        self.core = core
        self.peer = peer
        # Token guesses are counted per address and Origin: every local client shares 127.0.0.1,
        # so a page guessing from a sandboxed frame (Origin null) must not lock out the panel
        # and the tray, which send another Origin or none.
        self._guesses = f"{peer} origin={origin or '-'}"
        self.origin = origin
        self._send = send
        self._close = close
        self.state = ConnState.AWAITING_HELLO
        self.client: Client | None = None
        self.token_hash: str | None = None
        self.blobs = BlobAssembler(max_pending=core.limits.max_blob_bytes)
        self._uploads: dict[str, Upload] = {}

    # ------------------------------------------------------------------ outgoing

    def deliver(self, message: Message, payload: bytes | None = None) -> None:
        if self.state is ConnState.CLOSED:
            return
        frame: str | bytes = (codec.encode_text(message) if payload is None
                              else codec.encode_binary(message, payload))
        if not self._send(frame):
            log.warning("dropping %s: its send queue is full (the client does not read)", self.peer)
            self.close(1008, "client too slow: send queue full")

    def close(self, code: int, reason: str) -> None:
        if self.state is not ConnState.CLOSED:
            self.state = ConnState.CLOSED
            self.core.manager.forget(self)
            for sha in [*self._uploads, *self.blobs.pending()]:
                self._drop_upload(sha)
            self._close(code, reason)

    def _error(self, exc: BaseException, reply_to: str | None = None) -> None:
        self.deliver(Error(reply_to=reply_to, **error_fields(exc)))

    # ------------------------------------------------------------------ incoming

    async def handle(self, frame: str | bytes) -> None:
        if self.state is ConnState.CLOSED:
            return
        reply_to: str | None = None
        try:
            if isinstance(frame, bytes):
                if self.state is not ConnState.READY:
                    raise AuthError("expected hello, got a binary frame: send hello with a token first")
                put, payload = codec.parse_client_binary(frame)
                reply_to = put.id
                await self._binary(put, payload)
                return
            message = codec.parse_client_text(frame)
            reply_to = getattr(message, "id", None)
            if self.state is ConnState.AWAITING_HELLO:
                if not isinstance(message, Hello):
                    raise AuthError(f"expected hello, got {message.type}: send hello with a token first")
                self._hello(message)
                return
            await self._dispatch(message)
        except LayerbridgeError as exc:
            self._error(exc, reply_to)
            if self.state is ConnState.AWAITING_HELLO and isinstance(exc, AuthError | UnsupportedProtocol):
                self.close(1008, exc.code)
        except Exception as exc:
            log.exception("error handling a message from %s", self.peer)
            self._error(exc, reply_to)

    def _hello(self, hello: Hello) -> None:
        self.core.limiter.check(self._guesses)
        try:
            client = self.core.tokens.verify(hello.token)
        except AuthError:
            self.core.limiter.failed(self._guesses)
            raise
        common = sorted(set(hello.protocols) & set(SUPPORTED_PROTOCOLS))
        if not common:
            raise UnsupportedProtocol(
                f"protocols={hello.protocols}: this daemon speaks {list(SUPPORTED_PROTOCOLS)}",
                field="protocols")
        self.client, self.token_hash = client, hash_token(hello.token)
        self.state = ConnState.READY
        # the Origin each client sent: UXP's is undocumented, so the first run in Photoshop shows it
        log.info("%s connected as %r (%s, %s), origin %s", self.peer, client.name, hello.client.kind,
                 client.scope, repr(self.origin) if self.origin is not None else "none")
        self.deliver(Welcome(
            reply_to=hello.id, protocol=common[-1],
            server=ClientInfo(name="layerbridge", kind="other", version=__version__),
            session=self.core.session_id(), scope=client.scope, capabilities=CAPABILITIES,
            models=self.core.models(), limits=self.core.limits_message(),
        ))

    async def _binary(self, put: BlobPut, payload: memoryview) -> None:
        if self.core.blobs.has(put.sha256):
            # another connection stored it meanwhile: skip the bytes, still answer the last chunk
            if put.offset + len(payload) == put.total:
                self._drop_upload(put.sha256)
                self.deliver(BlobStored(sha256=put.sha256, size=put.total, reply_to=put.id))
            return
        try:
            # hashing and writing run off the loop, while the next frame arrives
            accepted = await asyncio.to_thread(self._receive, put, payload)
            if self.state is ConnState.CLOSED:
                # closed meanwhile (revoked, too slow): close() could not see this upload yet
                self._drop_upload(put.sha256)
                return
            if not accepted.complete:
                return
            header = accepted.header
            if header.format == "png":
                width, height = image_io.png_size(accepted.head, "blob")
            else:
                assert header.width is not None and header.height is not None  # BlobPut checks
                width, height = header.width, header.height
            image_io.check_size("blob", width, height)
            meta = await asyncio.to_thread(self._uploads.pop(put.sha256).commit, header.format,
                                           width, height)
        except Exception:
            self._drop_upload(put.sha256)
            raise
        self.deliver(BlobStored(sha256=meta.sha256, size=meta.size, reply_to=put.id))

    def _receive(self, put: BlobPut, payload: memoryview) -> Accepted:
        accepted = self.blobs.feed(put, payload)
        if accepted.first:
            if put.format != "png":
                assert put.width is not None and put.height is not None  # BlobPut checks
                image_io.check_size("blob", put.width, put.height)
            elif len(payload) >= HEAD_BYTES:  # refuse a bomb at its first chunk, not its last
                # (a first chunk too short to hold the header is checked when the blob completes)
                image_io.check_size("blob", *image_io.png_size(bytes(payload[:HEAD_BYTES]), "blob"))
            self._uploads[put.sha256] = self.core.blobs.begin(put.sha256)
        self._uploads[put.sha256].write(payload)
        return accepted

    def _drop_upload(self, sha: str) -> None:
        self.blobs.forget(sha)
        upload = self._uploads.pop(sha, None)
        if upload is not None:
            upload.abort()

    async def _dispatch(self, message: ClientMessage) -> None:
        assert self.client is not None
        request_id = message.id if isinstance(message, Request) else None
        if message.type in ADMIN_MESSAGES:
            self._require_admin(message.type)
        reply = await self._answer(message)
        if reply is not None:
            self.deliver(reply.model_copy(update={"reply_to": request_id}))

    async def _answer(self, message: ClientMessage) -> Message | None:  # noqa: C901 - a flat dispatch table
        core, manager = self.core, self.core.manager
        match message:
            case Ping():
                return Pong()
            case Hello():
                raise ProtocolError("hello was already received on this connection")
            case BlobHas(sha256=shas):
                return BlobMissing(sha256=core.blobs.missing(shas))
            case BlobGet(sha256=sha, id=rid):
                meta, data = await asyncio.to_thread(core.blobs.read, sha)
                for header, chunk in blob_frames(meta, data, reply_to=rid):
                    self.deliver(header, chunk)
                return None
            case JobSubmit(params=params, job_id=job_id, priority=priority, id=rid):
                assert self.client is not None
                return manager.submit(params, job_id, self.client.name, priority, self, rid)
            case JobCancel(job_id=job_id):
                manager.cancel(job_id)
                return Ok()
            case JobFetch(job_id=job_id, id=rid):
                job = manager.fetch(job_id, self)
                self.deliver(JobState(reply_to=rid, job=job.summary(manager.position(job_id))))
                for frame, payload in manager.results_frames(job):
                    self.deliver(frame, payload)
                final = manager.final_message(job)
                if final is not None:
                    self.deliver(final)
                return None
            case JobList(limit=limit, watch=watch):
                if watch:
                    self._require_admin("job.list with watch")
                    manager.watch(self)
                jobs = [j.summary(manager.position(j.job_id)) for j in manager.ledger.recent(limit)]
                return JobListReply(jobs=jobs)
            case StatusRequest():
                return core.status()
            case ModelsList():
                return ModelsReply(models=core.models())
            case ModelsAdd(path=path, model_id=model_id, kind=kind, allow_pickle=allow,
                           control_type=control_type, config=config):
                await asyncio.to_thread(core.registry.add, path, model_id=model_id, kind=kind,
                                        allow_pickle=allow, control_type=control_type, config=config)
                return ModelsReply(models=core.models())
            case ModelsRemove(model_id=model_id):
                await asyncio.to_thread(core.registry.remove, model_id)
                return ModelsReply(models=core.models())
            case ClientsList():
                return ClientsReply(clients=[_record(c) for c in core.tokens.list()])
            case ClientsPair(name=name, scope=scope):
                return Paired(name=name, scope=scope, token=core.tokens.pair(name, scope))
            case ClientsRevoke(name=name):
                core.tokens.revoke(name)
                core.revoked()
                return Ok()
            case QueuePause(paused=paused):
                manager.set_paused(paused)
                return Ok()
            case SettingsGet():
                return self._settings_reply()
            case SettingsSet(settings=info, confirm_lan=confirm_lan):
                _save_settings(core, info, confirm_lan)
                return self._settings_reply()
            case ModelsSetDefault(model_id=model_id):
                await asyncio.to_thread(core.registry.set_default, model_id)
                return ModelsReply(models=core.models())
            case ModelsUpdate(model_id=model_id, name=name, trigger_words=words,
                              default_weight=weight):
                await asyncio.to_thread(_update_model, core, model_id, name, words, weight)
                return ModelsReply(models=core.models())
            case ModelsLocate(model_id=model_id):
                entry = core.registry.get(model_id, field="model_id")
                return ModelLocation(model_id=model_id, path=str(entry.path))
            case EngineUnload():
                await core.executor.unload_all()
                return Ok()
        raise ProtocolError(f"type={message.type!r} is not served")

    def _settings_reply(self) -> SettingsReply:
        saved = _settings_info(load_settings(self.core.paths), self.core)
        running = _settings_info(self.core.settings, self.core)
        return SettingsReply(settings=saved, restart_required=saved != running)

    def _require_admin(self, what: str) -> None:
        assert self.client is not None
        if self.client.scope != "admin":
            raise Forbidden(f"{what} needs an admin token (pair with --admin)")

    def still_authorized(self) -> bool:
        if self.client is None or self.token_hash is None:
            return True
        return self.core.tokens.is_valid(self.client.name, self.token_hash)


def _settings_info(settings: Settings, core: DaemonCore) -> SettingsInfo:
    server, engine = settings.server, settings.engine
    return SettingsInfo(host=server.host, port=server.port, allowed_origins=server.allowed_origins,
                        allowed_hosts=server.allowed_hosts, dtype=engine.dtype,
                        memory_budget_mb=engine.memory_budget_mb, data_dir=str(core.paths.root))


def _save_settings(core: DaemonCore, info: SettingsInfo, confirm_lan: bool) -> None:
    if info.host not in LOOPBACK_HOSTS and not confirm_lan:
        raise InvalidInput("host", info.host, "listening beyond loopback exposes the daemon to the "
                           "network (LAN mode): send confirm_lan=true to confirm")
    settings = load_settings(core.paths)
    settings.server = settings.server.model_copy(update={
        "host": info.host, "port": info.port, "allowed_origins": info.allowed_origins,
        "allowed_hosts": info.allowed_hosts})
    settings.engine = settings.engine.model_copy(update={
        "dtype": info.dtype, "memory_budget_mb": info.memory_budget_mb})
    save_settings(core.paths, settings)


def _update_model(core: DaemonCore, model_id: str, name: str | None, words: list[str] | None,
                  weight: float | None) -> None:
    core.registry.update(model_id, name=name, default_weight=weight,
                         trigger_words=None if words is None else _clean(words))


def _clean(words: list[str]) -> list[str]:
    return [w.strip() for w in words if w.strip()]


def _record(c: Client) -> ClientRecord:
    return ClientRecord(name=c.name, scope=c.scope, created_at=c.created_at, last_seen=c.last_seen)

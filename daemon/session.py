"""One client connection: feeds its frames to the sans-I/O `ServerProtocol`, verifies the hello,
and runs each message's handler from the table in `handlers`. Transport-free: frames go out
through `send`, so tests drive it without a socket.

Every failure becomes a typed `error` that answers the request's id; no traceback reaches the
client, and none is logged for what the client caused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from . import __version__
from .auth import Client, hash_token
from .errors import LayerbridgeError, UnsupportedProtocol, without_paths
from .handlers import HANDLERS, receive_chunk
from .handlers.blobs import UploadStream
from .protocol import codec
from .protocol.connection import (
    ChunkReceived,
    HelloReceived,
    Refused,
    RequestReceived,
    ServerProtocol,
    State,
)
from .protocol.messages import (
    SUPPORTED_PROTOCOLS,
    ClientInfo,
    Error,
    Hello,
    JobFailed,
    JobListReply,
    JobState,
    JobSummary,
    Message,
    Welcome,
)
from .protocol.vocab import ClientKind, Scope

if TYPE_CHECKING:
    from .app import DaemonCore

log = logging.getLogger("layerbridge.session")

CAPABILITIES = ["generate", "refine", "inpaint", "expand", "train", "control", "lora", "preview",
                "blob.chunked", "blob.ack", "blob.unnamed", "job.fetch", "job.client_id"]

Send = Callable[[str | bytes], bool]  # False: the client's queue is full
Close = Callable[[int, str], None]

# kept for importers of the earlier name: the connection's states now live in the protocol core
ConnState = State


class Session:
    def __init__(self, core: DaemonCore, peer: str, send: Send, close: Close,
                 origin: str | None = None) -> None:
        self.core = core
        self.peer = peer
        self.origin = origin
        # Token guesses are counted per address and Origin: every local client shares 127.0.0.1,
        # so a page guessing from a sandboxed frame (Origin null) must not lock out the panel
        # and the tray, which send another Origin or none.
        self._guesses = f"{peer} origin={origin or '-'}"
        self._send = send
        self._close = close
        self.protocol = ServerProtocol(core.server_limits)
        self.client: Client = Client("", Scope.CLIENT, 0.0, None)  # set by a verified hello
        self.token_hash: str | None = None
        self._closed = False
        self.upload_streams: dict[str, UploadStream] = {}

    @property
    def state(self) -> State:
        return self.protocol.state

    # ------------------------------------------------------------------ outgoing

    def deliver(self, message: Message, payload: bytes | memoryview | None = None) -> None:
        if self._closed:
            return
        if self.protocol.scope is not Scope.ADMIN:
            message = _for_client(message)
        frame: str | bytes = (codec.encode_text(message) if payload is None
                              else codec.encode_binary(message, payload))
        if not self._send(frame):
            log.warning("dropping %s: its send queue is full (the client does not read)", self.peer)
            self.close(1008, "client too slow: send queue full")

    def close(self, code: int, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        self.protocol.close()
        self.core.manager.forget(self)
        self.core.uploads.abort_all(self)
        self.upload_streams.clear()  # chunks still being written land in aborted uploads
        self.core.closed(self)
        self._close(code, reason)

    # ------------------------------------------------------------------ incoming

    async def handle(self, frame: str | bytes) -> None:
        match self.protocol.receive(frame):
            case None:
                return
            case Refused(error=error, close=code):
                self._refused(error, code)
            case HelloReceived(hello=hello):
                await self._hello(hello)
            case RequestReceived(message=message) as event:
                await self._answer(HANDLERS[type(message)](self, message), event.reply_to)
            case ChunkReceived(put=put) as chunk:
                await self._answer(receive_chunk(self, chunk), put.id)

    async def _answer(self, work: Awaitable[Message | None], reply_to: str | None) -> None:
        try:
            reply = await work
        except LayerbridgeError as exc:
            log.debug("refused a request from %s: %s", self.peer, exc.message)
            self.deliver(self.protocol.error(exc, reply_to))
            return
        except Exception as exc:
            log.exception("error handling a message from %s", self.peer)
            self.deliver(self.protocol.error(exc, reply_to))
            return
        if reply is not None:
            self.deliver(self.protocol.reply(reply, reply_to))

    def _refused(self, error: Error, code: int | None) -> None:
        self.deliver(error)
        if code is not None:
            self.close(code, error.code)

    async def _hello(self, hello: Hello) -> None:
        try:
            client = await self._verify(hello)
        except LayerbridgeError as exc:
            refused = self.protocol.refuse(exc, hello)
            self._refused(refused.error, refused.close)
            return
        if self.protocol.state is State.CLOSED:
            return  # dropped while the token was checked
        common = sorted(set(hello.protocols) & set(SUPPORTED_PROTOCOLS))
        self.client, self.token_hash = client, hash_token(hello.token)
        self.protocol.accept(Scope(client.scope))
        self.core.said_hello(self)
        # the Origin each client sent: UXP's is undocumented, so the first run in Photoshop shows it
        log.info("%s connected as %r (%s, %s), origin %s", self.peer, client.name, hello.client.kind,
                 client.scope, repr(self.origin) if self.origin is not None else "none")
        self.deliver(Welcome(
            reply_to=hello.id, protocol=common[-1],
            server=ClientInfo(name="layerbridge", kind=ClientKind.OTHER, version=__version__),
            session=self.core.session_id(), scope=Scope(client.scope), capabilities=CAPABILITIES,
            models=self.core.models(), limits=self.core.limits_message(),
        ))

    async def _verify(self, hello: Hello) -> Client:
        common = set(hello.protocols) & set(SUPPORTED_PROTOCOLS)
        if not common:
            raise UnsupportedProtocol(
                f"protocols={hello.protocols}: this daemon speaks {list(SUPPORTED_PROTOCOLS)}",
                field="protocols")
        return await self.core.verify_token(hello.token, self._guesses, self.peer, self.origin)

    async def still_authorized(self) -> bool:
        if self.protocol.state is not State.READY or self.token_hash is None:
            return True
        return await asyncio.to_thread(self.core.tokens.is_valid, self.client.name, self.token_hash)


def _for_client(message: Message) -> Message:
    """`message` as a client-scope caller sees it: error texts without the daemon's folders,
    whether sent now or read back from the ledger in a job's summary."""
    if isinstance(message, Error | JobFailed):
        return message.model_copy(update={"message": without_paths(message.message)})
    if isinstance(message, JobState) and message.job.error is not None:
        return message.model_copy(update={"job": _summary_for_client(message.job)})
    if isinstance(message, JobListReply) and any(j.error is not None for j in message.jobs):
        return message.model_copy(update={"jobs": [_summary_for_client(j) for j in message.jobs]})
    return message


def _summary_for_client(job: JobSummary) -> JobSummary:
    if job.error is None:
        return job
    error = job.error.model_copy(update={"message": without_paths(job.error.message)})
    return job.model_copy(update={"error": error})

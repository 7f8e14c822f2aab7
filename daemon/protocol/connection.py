"""The server side of one connection, sans I/O: frames in, events out; messages in, frames out.

In the manner of `websockets`' own `protocol.py`: this holds the connection's state (awaiting
hello → ready → closed), the hello gate, the scope check each message class declares, upload
reassembly and every per-connection limit, and it stamps the reply id on every reply and error.
It never touches a socket, a file or the event loop, so it is tested from bytes alone.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

from ..errors import (
    AuthError,
    Forbidden,
    LayerbridgeError,
    ProtocolError,
    TooLarge,
    error_fields,
)
from . import codec
from .blobs import Accepted, BlobAssembler
from .limits import LIMITS, ServerLimits
from .messages import BlobPut, ClientMessage, Error, Hello, Message, Reply, Request
from .vocab import Scope


class State(Enum):
    AWAITING_HELLO = "awaiting hello"
    READY = "ready"
    CLOSED = "closed"


class IllegalState(RuntimeError):
    pass


# ----------------------------------------------------------------------------- events


@dataclass(frozen=True)
class HelloReceived:
    """Verify `hello.token`, then call `accept(scope)` or `refuse(exc)`."""

    hello: Hello


@dataclass(frozen=True)
class RequestReceived:
    """A validated message the caller's scope allows; answer it with `reply(message, request)`."""

    message: ClientMessage

    @property
    def reply_to(self) -> str | None:
        return self.message.id if isinstance(self.message, Request) else None


@dataclass(frozen=True)
class ChunkReceived:
    """An in-order chunk of an upload: hash it (`accepted.hash`, off the loop) and store it. When
    `accepted.complete`, `accepted.verify()` the hash, check and commit the blob, then send
    `blob.stored`."""

    put: BlobPut
    payload: memoryview
    accepted: Accepted


@dataclass(frozen=True)
class Refused:
    """The frame was refused: send `error` (its reply id is already stamped). When `close` is
    set, close the connection with that code after sending it."""

    error: Error
    close: int | None = None


Event = HelloReceived | RequestReceived | ChunkReceived | Refused

POLICY_VIOLATION = 1008


class ServerProtocol:
    """One connection's protocol state. Not thread-safe: use it from the event loop only."""

    def __init__(self, limits: ServerLimits | None = None) -> None:
        self.limits = limits or ServerLimits()
        self.state = State.AWAITING_HELLO
        self.scope: Scope | None = None
        self.uploads = BlobAssembler(max_pending=self.limits.max_upload_bytes_per_connection,
                                     max_count=self.limits.max_uploads_per_connection)

    # ------------------------------------------------------------------ limits the I/O applies

    @property
    def max_frame_bytes(self) -> int:
        """The largest frame to read now: small until a token is verified (a page without one
        cannot make the daemon buffer a 16 MiB frame)."""
        if self.state is State.READY:
            return LIMITS.max_frame_bytes
        return self.limits.pre_hello_frame_bytes

    # ------------------------------------------------------------------ incoming

    def receive(self, frame: str | bytes | bytearray | memoryview) -> Event | None:
        """One frame from the client as an event (None once closed)."""
        if self.state is State.CLOSED:
            return None
        reply_to: str | None = None
        try:
            size = len(frame.encode()) if isinstance(frame, str) else len(frame)
            if size > self.max_frame_bytes:
                raise TooLarge(f"frame of {size} bytes exceeds {self.max_frame_bytes} "
                               "(send hello first)" if self.state is State.AWAITING_HELLO else "",
                               field="frame")
            if isinstance(frame, str):
                reply_to = codec.peek_id(frame)
                return self._text(frame)
            reply_to = codec.peek_binary_id(frame)
            return self._binary(frame)
        except LayerbridgeError as exc:
            return self._refused(exc, reply_to)

    def _text(self, frame: str) -> Event:
        message = codec.parse_client_text(frame)
        if self.state is State.AWAITING_HELLO:
            if not isinstance(message, Hello):
                raise AuthError(f"expected hello, got {message.type}: send hello with a token first")
            return HelloReceived(message)
        if isinstance(message, Hello):
            raise ProtocolError("hello was already received on this connection")
        self._check_scope(message)
        return RequestReceived(message)

    def _binary(self, frame: bytes | bytearray | memoryview) -> Event:
        if self.state is not State.READY:
            raise AuthError("expected hello, got a binary frame: send hello with a token first")
        put, payload = codec.parse_client_binary(frame)
        return ChunkReceived(put, payload, self.uploads.admit(put, payload))

    def _check_scope(self, message: ClientMessage) -> None:
        needed = type(message).required_scope
        if needed is Scope.ADMIN and self.scope is not Scope.ADMIN:
            raise Forbidden(f"{message.type} needs an admin token (pair with --admin)")

    def require(self, scope: Scope, what: str) -> None:
        """Raise Forbidden unless the connection's token has `scope` (for a scope that depends on
        a field's value, e.g. `job.list` with `watch`)."""
        if scope is Scope.ADMIN and self.scope is not Scope.ADMIN:
            raise Forbidden(f"{what} needs an admin token (pair with --admin)")

    def _refused(self, exc: LayerbridgeError, reply_to: str | None) -> Refused:
        # before hello, an error ends the connection: there is nothing else it may do
        close = POLICY_VIOLATION if self.state is State.AWAITING_HELLO else None
        if close is not None:
            self.state = State.CLOSED
        return Refused(self.error(exc, reply_to), close)

    # ------------------------------------------------------------------ hello

    def accept(self, scope: Scope) -> None:
        """The hello's token was verified: serve messages of `scope` from now on."""
        if self.state is not State.AWAITING_HELLO:
            raise IllegalState(f"expected {State.AWAITING_HELLO.value}, got {self.state.value}")
        self.state, self.scope = State.READY, scope

    def refuse(self, exc: BaseException, hello: Hello) -> Refused:
        """The hello was refused (bad token, locked out, unknown protocol): send, then close."""
        self.state = State.CLOSED
        return Refused(self.error(exc, hello.id), POLICY_VIOLATION)

    # ------------------------------------------------------------------ outgoing

    def error(self, exc: BaseException, reply_to: str | None) -> Error:
        """The wire error for any exception, answering `reply_to`; internals never leak."""
        return Error(reply_to=reply_to, **error_fields(exc))

    def reply(self, message: Message, reply_to: str | None) -> Message:
        """`message` answering the request whose id was `reply_to`."""
        if isinstance(message, Reply) and reply_to is not None:
            return message.model_copy(update={"reply_to": reply_to})
        return message

    def close(self) -> list[str]:
        """Closed: returns the uploads left unfinished (their partial files go)."""
        self.state = State.CLOSED
        pending = self.uploads.pending()
        for key in pending:
            self.uploads.forget(key)
        return pending


class Outbox:
    """Frames waiting for the socket, bounded by bytes: a client that stops reading cannot make
    the daemon hold more than `max_bytes` for it (one frame larger than that still passes alone,
    so a big result is never refused to a client that reads)."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._frames: deque[str | bytes] = deque()
        self.bytes = 0

    def push(self, frame: str | bytes) -> bool:
        """Queue a frame; False (and nothing queued) when it would pass the bound."""
        size = len(frame)
        if self._frames and self.bytes + size > self.max_bytes:
            return False
        self._frames.append(frame)
        self.bytes += size
        return True

    def pop(self) -> str | bytes | None:
        if not self._frames:
            return None
        frame = self._frames.popleft()
        self.bytes -= len(frame)
        return frame

    def __len__(self) -> int:
        return len(self._frames)


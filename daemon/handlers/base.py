"""What a handler may use of the connection that called it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..auth import Client
from ..protocol.connection import ServerProtocol
from ..protocol.messages import Message

if TYPE_CHECKING:
    from ..app import DaemonCore


class Caller(Protocol):
    """The connection a message came from (a `Session`)."""

    core: DaemonCore
    client: Client
    protocol: ServerProtocol
    peer: str

    def deliver(self, message: Message, payload: bytes | memoryview | None = None) -> None:
        """Queue a message (and a binary payload) for this client; never blocks."""


# the message argument is the class the table keys it by; the table cannot say so to mypy
Handler = Callable[[Caller, Any], Awaitable[Message | None]]

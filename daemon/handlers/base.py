"""What a handler may use of the connection that called it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..auth import Client
from ..protocol.connection import ServerProtocol
from ..protocol.messages import Message
from ..protocol.vocab import Scope

if TYPE_CHECKING:
    from ..app import DaemonCore
    from .blobs import UploadStream


class Caller(Protocol):
    """The connection a message came from (a `Session`)."""

    core: DaemonCore
    client: Client
    protocol: ServerProtocol
    peer: str
    upload_streams: dict[str, UploadStream]  # the caller's unfinished uploads, by upload key

    def deliver(self, message: Message, payload: bytes | memoryview | None = None) -> None:
        """Queue a message (and a binary payload) for this client; never blocks."""


def owner(caller: Caller) -> str | None:
    """Whose jobs and blobs the caller sees: its own, or (None) everyone's for an admin."""
    return None if caller.protocol.scope is Scope.ADMIN else caller.client.name


# the message argument is the class the table keys it by; the table cannot say so to mypy
Handler = Callable[[Caller, Any], Awaitable[Message | None]]

"""The WebSocket server: the only module that imports websockets. Thin glue: check the handshake
(Host against DNS rebinding, Origin against cross-site hijacking, the connection cap), then feed
frames to a `Session` and drain its byte-bounded send queue, so a slow client never stalls the
others."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Awaitable, Callable
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from .app import DaemonCore
from .config import LOOPBACK_HOSTS, ServerSettings
from .protocol.connection import Outbox, State
from .session import Session

log = logging.getLogger("layerbridge.server")

HELLO_TIMEOUT_S = 15.0
CLOSE_TIMEOUT_S = 2.0


def host_name(host_header: str) -> str:
    """`localhost:7842` → `localhost`; `[::1]:7842` → `::1`."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_web_origin(origin: str) -> bool:
    """Whether `origin` is one a web page sends (http or https). UXP documents no Origin for its
    WebSocket (none, "null" or a scheme of its own): only web origins can be told apart, so only
    they are checked; the token still gates everyone."""
    return origin.split(":", 1)[0].strip().lower() in ("http", "https")


class HandshakeGuard:
    """Refuses a handshake whose Host is not loopback (or configured) or whose browser Origin is
    not allowed. The token in `hello` is the real gate; these stop browsers from even trying."""

    def __init__(self, settings: ServerSettings, full: Callable[[], bool] = lambda: False) -> None:
        self.hosts = {*LOOPBACK_HOSTS, *(h.lower() for h in settings.allowed_hosts)}
        self.origins = {"null", *settings.allowed_origins}
        self.full = full

    def __call__(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.full():
            log.info("refused a handshake: the connection limit is reached")
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "too many connections\n")
        hosts, origins = request.headers.get_all("Host"), request.headers.get_all("Origin")
        if len(hosts) != 1 or len(origins) > 1:
            return connection.respond(HTTPStatus.BAD_REQUEST, "expected one Host and at most one Origin\n")
        host = hosts[0]
        if host_name(host) not in self.hosts:
            log.warning("refused handshake with Host %r (possible DNS rebinding)", host)
            return connection.respond(HTTPStatus.FORBIDDEN, f"Host {host!r} is not allowed\n")
        origin = origins[0] if origins else None
        if origin is not None and origin not in self.origins and is_web_origin(origin):
            log.warning("refused handshake from Origin %r", origin)
            return connection.respond(HTTPStatus.FORBIDDEN, f"Origin {origin!r} is not allowed\n")
        return None


class WebSocketServer:
    def __init__(self, core: DaemonCore) -> None:
        self.core = core
        self.settings = core.settings.server
        self._server: Server | None = None
        self._closing: set[asyncio.Task[None]] = set()

    async def start(self, host: str | None = None, port: int | None = None,
                    tls: ssl.SSLContext | None = None) -> str:
        """Start listening (over TLS when `tls` is given); returns the URL clients connect to."""
        host = host or self.settings.host
        port = self.settings.port if port is None else port
        self._server = await serve(
            self._handle, host, port,
            process_request=HandshakeGuard(self.settings, self.core.full),
            compression=None,  # image data does not deflate; compression costs 8x throughput
            # small until hello: see ServerProtocol.max_frame_bytes
            max_size=self.core.server_limits.pre_hello_frame_bytes,
            max_queue=4,
            ping_interval=20, ping_timeout=60,
            close_timeout=CLOSE_TIMEOUT_S,
            server_header=None,
            ssl=tls,
        )
        bound = self._server.sockets[0].getsockname()
        shown = f"[{bound[0]}]" if ":" in bound[0] else bound[0]
        return f"{'wss' if tls else 'ws'}://{shown}:{bound[1]}"

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, ws: ServerConnection) -> None:
        peer = str(ws.remote_address[0]) if ws.remote_address else "unknown"
        outbox = Outbox(self.core.server_limits.send_queue_bytes)
        ready = asyncio.Event()

        def send(frame: str | bytes) -> bool:
            if not outbox.push(frame):
                return False
            ready.set()
            return True

        def close(code: int, reason: str) -> None:
            task = asyncio.get_running_loop().create_task(_close(ws, code, reason))
            self._closing.add(task)  # the loop keeps only a weak reference to a task
            task.add_done_callback(self._closing.discard)

        origin = ws.request.headers.get("Origin") if ws.request is not None else None
        session = Session(self.core, peer, send, close, origin=origin)
        self.core.opened(session)
        writer = asyncio.create_task(_write(ws, outbox, ready))
        hello_timer = asyncio.get_running_loop().call_later(
            HELLO_TIMEOUT_S, _hello_timeout, session)
        try:
            async for frame in ws:
                await session.handle(frame)
                # the frame limit follows the state: small before hello, full once ready
                ws.protocol.max_message_size = session.protocol.max_frame_bytes
        except ConnectionClosed:
            pass
        finally:
            hello_timer.cancel()
            session.close(1000, "")
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer


def _hello_timeout(session: Session) -> None:
    if session.state is State.AWAITING_HELLO:
        session.close(1008, "no hello received")


async def _write(ws: ServerConnection, outbox: Outbox, ready: asyncio.Event) -> None:
    """Drain the outbox until the connection closes or the handler cancels it."""
    with contextlib.suppress(ConnectionClosed):
        while True:
            frame = outbox.pop()
            if frame is None:
                ready.clear()
                await ready.wait()
                continue
            await ws.send(frame)


async def _close(ws: ServerConnection, code: int, reason: str) -> None:
    try:
        await asyncio.wait_for(ws.close(code, reason), CLOSE_TIMEOUT_S)
    except (TimeoutError, ConnectionClosed):
        # a client that does not read never completes the closing handshake
        ws.transport.abort()


async def run_daemon(core: DaemonCore, host: str | None, port: int | None,
                     on_ready: Callable[[str], None], until: Awaitable[None],
                     tls: ssl.SSLContext | None = None) -> None:
    """Start the core and the server, announce the URL, serve until `until` completes."""
    await core.start()
    server = WebSocketServer(core)
    try:
        url = await server.start(host, port, tls)
        on_ready(url)
        await until
    finally:
        await server.close()
        await core.stop()

"""The sans-I/O connection core, driven with bytes alone: no socket, no daemon."""

from __future__ import annotations

import hashlib
import json

import pytest
from layerbridge.daemon.handlers import HANDLERS
from layerbridge.daemon.protocol import codec, encode_frame
from layerbridge.daemon.protocol.connection import (
    ChunkReceived,
    HelloReceived,
    Outbox,
    Refused,
    RequestReceived,
    ServerProtocol,
    State,
)
from layerbridge.daemon.protocol.limits import ServerLimits
from layerbridge.daemon.protocol.messages import ClientMessage, Hello, JobSubmit, Request
from layerbridge.daemon.protocol.vocab import ErrorCode, Scope

HELLO = json.dumps({"type": "hello", "id": "h", "protocols": [1], "token": "t",
                    "client": {"name": "test"}})


def ready(scope: Scope = Scope.CLIENT, **limits: int) -> ServerProtocol:
    conn = ServerProtocol(ServerLimits(**limits))  # type: ignore[arg-type]
    assert isinstance(conn.receive(HELLO), HelloReceived)
    conn.accept(scope)
    return conn


def refused(event: object) -> Refused:
    assert isinstance(event, Refused), event
    return event


def submit(rid: str = "7", **params: object) -> str:
    return json.dumps({"type": "job.submit", "id": rid,
                       "params": {"kind": "generate", "model": "demo", **params}})


def put(data: bytes, offset: int = 0, total: int | None = None, rid: str = "u") -> bytes:
    header = {"type": "blob.put", "id": rid, "sha256": hashlib.sha256(data).hexdigest(),
              "offset": offset, "total": total or len(data), "format": "png"}
    return encode_frame(header, data)


def test_hello_is_the_only_message_served_before_a_token_is_verified() -> None:
    conn = ServerProtocol()
    event = refused(conn.receive(json.dumps({"type": "status", "id": "s"})))
    assert (event.error.code, event.error.reply_to, event.close) == ("unauthorized", "s", 1008)
    assert conn.state is State.CLOSED and conn.receive(HELLO) is None


def test_a_binary_frame_before_hello_is_refused_and_closes() -> None:
    event = refused(ServerProtocol().receive(put(b"x")))
    assert event.error.code == "unauthorized" and event.close == 1008


def test_a_verified_hello_makes_the_connection_ready() -> None:
    conn = ServerProtocol()
    event = conn.receive(HELLO)
    assert isinstance(event, HelloReceived) and isinstance(event.hello, Hello)
    conn.accept(Scope.CLIENT)
    assert conn.state is State.READY and conn.scope is Scope.CLIENT


def test_a_second_hello_is_refused_without_closing() -> None:
    event = refused(ready().receive(HELLO))
    assert event.error.code == "bad_message" and event.close is None


def test_an_admin_message_from_a_client_token_is_forbidden_by_its_class() -> None:
    event = refused(ready().receive(json.dumps({"type": "clients.list", "id": "c"})))
    assert (event.error.code, event.error.reply_to, event.close) == ("forbidden", "c", None)


def test_an_admin_token_may_send_admin_messages() -> None:
    event = ready(Scope.ADMIN).receive(json.dumps({"type": "clients.list", "id": "c"}))
    assert isinstance(event, RequestReceived) and event.reply_to == "c"


def test_an_invalid_submit_is_answered_by_its_id() -> None:
    # the id is read before the rest is validated: a client waiting on it is not left hanging
    event = refused(ready().receive(submit(rid="42", steps=100000)))
    assert (event.error.code, event.error.field, event.error.reply_to) == (
        "invalid_input", "params.steps", "42")


def test_an_unknown_type_is_still_answered_by_its_id() -> None:
    event = refused(ready().receive(json.dumps({"type": "job.explode", "id": "9"})))
    assert event.error.reply_to == "9" and event.error.field == "type"


@pytest.mark.parametrize(("params", "field"), [
    ({"seed": "1"}, "params.seed"),
    ({"seed": True}, "params.seed"),
    ({"steps": "20"}, "params.steps"),
    ({"steps": 20.0}, "params.steps"),
    ({"guidance": "7"}, "params.guidance"),
    ({"prompt": 5}, "params.prompt"),
])
def test_wrong_types_are_refused_not_coerced(params: dict[str, object], field: str) -> None:
    event = refused(ready().receive(submit(**params)))
    assert (event.error.code, event.error.field) == ("invalid_input", field)


def test_an_integer_where_a_float_goes_is_accepted() -> None:
    event = ready().receive(submit(guidance=7))
    assert isinstance(event, RequestReceived) and isinstance(event.message, JobSubmit)
    assert event.message.params.guidance == 7.0


def test_an_integer_too_long_to_convert_is_a_bad_message_not_internal() -> None:
    event = refused(ready().receive(submit(rid="big").replace('"demo"', '"demo", "seed": ' + "9" * 5000)))
    assert event.error.code == "bad_message" and event.error.code != ErrorCode.INTERNAL


def test_a_large_frame_before_hello_is_refused_and_closes() -> None:
    conn = ServerProtocol(ServerLimits(pre_hello_frame_bytes=2048))
    assert conn.max_frame_bytes == 2048
    event = refused(conn.receive(json.dumps({"type": "hello", "pad": "x" * 4000})))
    assert event.error.code == "too_large" and event.close == 1008


def test_the_frame_limit_grows_once_ready() -> None:
    conn = ready(pre_hello_frame_bytes=2048)
    assert conn.max_frame_bytes > 1 << 20


def test_unfinished_uploads_per_connection_are_bounded_by_count() -> None:
    conn = ready(max_uploads_per_connection=2)
    for i in range(2):
        assert isinstance(conn.receive(put(bytes([i]) * 10, total=20)), ChunkReceived)
    event = refused(conn.receive(put(b"z" * 10, total=20, rid="third")))
    assert (event.error.code, event.error.reply_to) == ("busy", "third")
    assert event.error.retryable


def test_closing_returns_the_uploads_left_unfinished() -> None:
    conn = ready()
    conn.receive(put(b"a" * 10, total=20))
    assert len(conn.close()) == 1 and conn.uploads.pending_bytes == 0


def test_the_last_chunk_verifies_the_hash_off_the_core() -> None:
    data = b"0123456789"
    event = ready().receive(put(data))
    assert isinstance(event, ChunkReceived) and event.accepted.complete
    event.accepted.hash(event.payload)
    event.accepted.verify()  # no error: the bytes hash to the name


def test_every_client_message_has_a_handler() -> None:
    union = ClientMessage.__origin__.__args__  # type: ignore[attr-defined]
    served = {m for m in union if not m.before_hello}
    assert served == set(HANDLERS)


def test_admin_scope_is_declared_on_the_admin_messages() -> None:
    union = ClientMessage.__origin__.__args__  # type: ignore[attr-defined]
    admin = {m.model_fields["type"].default for m in union if m.required_scope is Scope.ADMIN}
    assert {"clients.pair", "clients.revoke", "settings.set", "models.add"} <= admin
    assert not admin & {"job.submit", "blob.get", "status", "hello", "job.list"}
    assert all(issubclass(m, Request) for m in union)


def test_replies_carry_the_request_id() -> None:
    from layerbridge.daemon.protocol.messages import Pong
    reply = ready().reply(Pong(), "17")
    assert codec.dump(reply) == {"type": "pong", "reply_to": "17"}


def test_the_outbox_is_bounded_by_bytes_not_messages() -> None:
    box = Outbox(max_bytes=100)
    assert box.push(b"x" * 60) and not box.push(b"y" * 60)
    assert box.pop() == b"x" * 60 and box.bytes == 0
    assert box.push(b"z" * 500)  # alone, a frame larger than the bound still passes

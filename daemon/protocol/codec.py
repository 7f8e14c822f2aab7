"""Turn raw frames into typed messages (and back). Errors name the field and the value."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from ..errors import InvalidInput, LayerbridgeError, ProtocolError, TooLarge
from .frames import decode_frame, decode_json, encode_frame, split_frame
from .limits import LIMITS
from .messages import (
    FIELD_IN_MESSAGE,
    BlobPut,
    ClientMessage,
    Message,
    ServerMessage,
)

_client_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
_server_adapter: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)
M = TypeVar("M", bound=BaseModel)


def _client_types() -> frozenset[str]:
    union = ClientMessage.__origin__  # type: ignore[attr-defined]
    return frozenset(m.model_fields["type"].default for m in union.__args__)


CLIENT_TYPES = _client_types()


def validation_error(exc: ValidationError, data: Any) -> InvalidInput:
    """The first error of a pydantic ValidationError as one readable InvalidInput."""
    err = exc.errors(include_url=False)[0]
    loc = [str(p) for p in err["loc"] if not str(p).startswith("function-")]
    # discriminated unions put the tag ('job.submit') first in loc; it is not a field
    if loc and isinstance(data, dict) and loc[0] == data.get("type"):
        loc = loc[1:]
    msg = str(err["msg"]).removeprefix("Value error, ")
    found = FIELD_IN_MESSAGE.search(msg)
    if found:
        # a model validator named the field itself: "@image@ image=None: reason"
        field = ".".join([*loc, found.group(1)])
        msg = FIELD_IN_MESSAGE.sub("", msg)
        prefix = ".".join(loc)
        return InvalidInput.worded(field, msg if not prefix else f"{prefix}.{msg}")
    field = ".".join(loc) or "message"
    value = err.get("input")
    if err["type"] == "extra_forbidden":
        return InvalidInput.worded(field, f"{field}: unknown field")
    if err["type"] == "missing":
        return InvalidInput.worded(field, f"{field}: required field is missing")
    return InvalidInput(field, value, msg)


def peek_id(text: str | bytes) -> str | None:
    """The request id of a text frame, read before (and whatever) the rest fails to validate,
    so the error can answer it. None when the frame has no usable id."""
    return _usable_id(_peek_json(text))


def _peek_json(raw: str | bytes) -> dict[str, Any]:
    # integers are not converted: a number too long to convert must not hide the id
    try:
        value = json.loads(raw, parse_int=len)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def peek_binary_id(frame: bytes | bytearray | memoryview) -> str | None:
    """The upload id in a binary frame's header, read before the rest is validated."""
    try:
        raw, _ = split_frame(frame)
        return _usable_id(_peek_json(raw))
    except LayerbridgeError:
        return None


def _usable_id(data: dict[str, Any]) -> str | None:
    rid = data.get("id")
    return rid if isinstance(rid, str) and 0 < len(rid) <= 64 else None


def _check_type(data: dict[str, Any]) -> None:
    kind = data.get("type")
    if not isinstance(kind, str):
        raise InvalidInput("type", kind, "every message needs a string 'type'")
    if kind not in CLIENT_TYPES:
        raise InvalidInput("type", kind, "unknown message type")
    if kind == "blob.put":
        raise InvalidInput("type", kind, "blob.put travels as a binary frame header")


def parse_client_data(data: dict[str, Any]) -> ClientMessage:
    """A message built in Python (lenient about types: `"5"` for 5). The wire goes through
    `parse_client_text`, which is strict."""
    kind = data.get("type")
    if not isinstance(kind, str):
        raise InvalidInput("type", kind, "every message needs a string 'type'")
    if kind not in CLIENT_TYPES:
        raise InvalidInput("type", kind, "unknown message type")
    if kind == "blob.put":
        raise InvalidInput("type", kind, "blob.put travels as a binary frame header")
    try:
        return _client_adapter.validate_python(data)
    except ValidationError as exc:
        raise validation_error(exc, data) from None


def parse_client_text(text: str | bytes) -> ClientMessage:
    """A text frame as a typed message. Strict: a string is never taken for a number (`"seed":
    "1"`), nor a boolean for an integer (`"seed": true`)."""
    size = len(text.encode() if isinstance(text, str) else text)
    if size > LIMITS.max_text_bytes:
        raise TooLarge(f"text frame of {size} bytes exceeds {LIMITS.max_text_bytes}")
    data = decode_json(text)  # also refuses what the strict parser below would take too far
    _check_type(data)
    try:
        return _client_adapter.validate_json(text, strict=True)
    except ValidationError as exc:
        raise validation_error(exc, data) from None


def parse_client_binary(frame: bytes | bytearray | memoryview) -> tuple[BlobPut, memoryview]:
    raw, payload = split_frame(frame)
    header = decode_json(raw, what="binary frame header")
    if header.get("type") != "blob.put":
        raise InvalidInput("type", header.get("type"), "binary frames from a client must be blob.put")
    try:
        put = BlobPut.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        raise validation_error(exc, header) from None
    if put.offset + len(payload) > put.total:
        raise InvalidInput(
            "offset", put.offset, f"chunk of {len(payload)} bytes runs past total={put.total}"
        )
    if len(payload) == 0:
        raise InvalidInput("payload", 0, "a blob.put chunk must carry bytes")
    return put, payload


def parse_server_data(data: dict[str, Any]) -> ServerMessage:
    try:
        return _server_adapter.validate_python(data)
    except ValidationError as exc:
        raise ProtocolError(f"malformed message from the daemon: {validation_error(exc, data)}") from None


def parse_server_text(text: str | bytes) -> ServerMessage:
    return parse_server_data(decode_json(text))


def parse_server_binary(frame: bytes | bytearray | memoryview) -> tuple[ServerMessage, memoryview]:
    header, payload = decode_frame(frame)
    return parse_server_data(header), payload


def dump(message: Message) -> dict[str, Any]:
    return message.model_dump(mode="json", exclude_none=True)


def encode_text(message: Message) -> str:
    return message.model_dump_json(exclude_none=True)


def encode_binary(message: Message, payload: bytes | bytearray | memoryview) -> bytes:
    return encode_frame(dump(message), payload)

"""Binary frame layout: `u32 big-endian header length | UTF-8 JSON header | payload`.

The header is a message (`blob.put`, `blob.data`, `job.progress`); the payload is raw bytes
(PNG or raw RGBA8/grey8 pixels). Pure functions over bytes: no sockets.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from ..errors import ProtocolError, TooLarge
from .limits import LIMITS

_LEN = struct.Struct(">I")


def encode_frame(header: dict[str, Any], payload: bytes | bytearray | memoryview = b"") -> bytes:
    head = json.dumps(header, separators=(",", ":")).encode()
    return b"".join((_LEN.pack(len(head)), head, payload))


def decode_frame(
    frame: bytes | bytearray | memoryview, max_header: int = LIMITS.max_header_bytes
) -> tuple[dict[str, Any], memoryview]:
    """Split a binary frame into its JSON header (a dict, still unvalidated) and its payload."""
    raw, payload = split_frame(frame, max_header)
    return decode_json(raw, what="binary frame header"), payload


def split_frame(
    frame: bytes | bytearray | memoryview, max_header: int = LIMITS.max_header_bytes
) -> tuple[bytes, memoryview]:
    """Split a binary frame into its raw JSON header bytes and its payload."""
    view = memoryview(frame)
    if len(view) < _LEN.size:
        raise ProtocolError(f"binary frame of {len(view)} bytes is shorter than its 4-byte length prefix")
    (size,) = _LEN.unpack_from(view)
    if size > max_header:
        raise TooLarge(f"binary frame header of {size} bytes exceeds {max_header}", field="header")
    if _LEN.size + size > len(view):
        raise ProtocolError(
            f"binary frame header claims {size} bytes but only {len(view) - _LEN.size} follow"
        )
    return bytes(view[_LEN.size : _LEN.size + size]), view[_LEN.size + size :]


def decode_json(raw: bytes | str, what: str = "text frame") -> dict[str, Any]:
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ProtocolError(f"{what} is not valid UTF-8 (byte {exc.start})") from None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"{what} is not JSON: {exc.msg}") from None
    except RecursionError:
        raise ProtocolError(f"{what} is not JSON: nested too deeply") from None
    except ValueError:  # an integer of more digits than Python converts (sys.int_info)
        raise ProtocolError(f"{what} holds a number too long to be one the protocol uses") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value

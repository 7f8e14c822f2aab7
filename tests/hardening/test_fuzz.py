"""Arbitrary frames against the parser and the live server: every refusal is a typed error, no
traceback or internal error reaches the client, and the daemon keeps answering."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from layerbridge.daemon.errors import LayerbridgeError
from layerbridge.daemon.protocol import codec, encode_frame, parse_client_binary, parse_client_text
from layerbridge.daemon.protocol.codec import CLIENT_TYPES
from layerbridge.daemon.protocol.messages import Error, Pong
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from .conftest import ThreadDaemon

# bench/fuzz.py raises this to fuzz far longer than the normal suite does
SCALE = int(os.environ.get("LAYERBRIDGE_FUZZ_SCALE", "1"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
FIELDS = ["id", "params", "kind", "model", "prompt", "steps", "width", "height", "seed", "batch",
          "image", "mask", "sha256", "offset", "total", "format", "token", "protocols", "client",
          "job_id", "control", "loras", "margins", "strength", "scheduler", "paused", "name"]
messages = st.builds(
    lambda kind, fields: {"type": kind, **fields},
    st.sampled_from(sorted(CLIENT_TYPES)) | st.text(max_size=12),
    st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), json_values, max_size=6),
)
submits = st.builds(
    lambda params: {"type": "job.submit", "params": params},
    st.fixed_dictionaries({"kind": st.sampled_from(["generate", "refine", "inpaint", "expand", "x"])},
                          optional={k: json_values for k in FIELDS if k != "kind"}),
)
text_frames = st.one_of(st.text(max_size=200), messages.map(json.dumps), submits.map(json.dumps))
headers = st.one_of(
    messages,
    st.fixed_dictionaries({"type": st.just("blob.put")}, optional={
        "sha256": st.text("0123456789abcdef", min_size=64, max_size=64), "offset": st.integers(-5, 2**40),
        "total": st.integers(-5, 2**40), "format": st.sampled_from(["png", "rgba8", "grey8", "jpeg"]),
        "width": st.integers(-1, 70000), "height": st.integers(-1, 70000)}),
)
binary_frames = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda h, p: encode_frame(h, p), headers, st.binary(max_size=300)),
    st.builds(lambda n, rest: struct.pack(">I", n) + rest, st.integers(0, 2**32 - 1), st.binary(max_size=50)),
)


@settings(max_examples=300 * SCALE, deadline=None)
@given(text_frames)
def test_parser_turns_any_text_into_a_message_or_a_typed_error(frame: str) -> None:
    try:
        parse_client_text(frame)
    except LayerbridgeError as exc:
        assert exc.code in {"bad_message", "invalid_input", "too_large"}
        assert exc.message


@settings(max_examples=300 * SCALE, deadline=None)
@given(binary_frames)
def test_parser_turns_any_binary_into_a_chunk_or_a_typed_error(frame: bytes) -> None:
    try:
        parse_client_binary(frame)
    except LayerbridgeError as exc:
        assert exc.code in {"bad_message", "invalid_input", "too_large"}


@contextmanager
def session(daemon: ThreadDaemon) -> Iterator[ClientConnection]:
    with connect(daemon.url, compression=None, max_size=None, proxy=None) as ws:
        ws.send(json.dumps({"type": "hello", "protocols": [1], "token": daemon.token,
                            "client": {"name": "fuzz", "kind": "test"}}))
        assert json.loads(ws.recv(10))["type"] == "welcome"
        yield ws


def exchange(ws: ClientConnection, frame: str | bytes) -> bool:
    """Send one frame, then a ping; check every reply until the pong. False: the daemon closed
    this connection (allowed only for the transport-level refusals)."""
    try:
        ws.send(frame)
        ws.send(json.dumps({"type": "ping", "id": "fuzz-ping"}))
        while True:
            raw = ws.recv(10)
            text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
            assert "Traceback" not in text and 'File "' not in text
            reply = codec.parse_server_text(raw) if isinstance(raw, str) else codec.parse_server_binary(raw)[0]
            if isinstance(reply, Error):
                assert reply.code != "internal", f"{frame!r} -> {reply}"
            if isinstance(reply, Pong) and reply.reply_to == "fuzz-ping":
                return True
    except ConnectionClosed as closed:
        assert closed.rcvd is not None and closed.rcvd.code in (1007, 1008, 1009), closed
        return False


@settings(max_examples=150 * SCALE, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(text_frames, binary_frames), min_size=1, max_size=6))
def test_server_survives_arbitrary_frames(thread_daemon: ThreadDaemon, frames: list) -> None:
    pending = list(frames)
    while pending:
        with session(thread_daemon) as ws:
            while pending and exchange(ws, pending.pop(0)):
                pass
    with session(thread_daemon) as fresh:  # and a brand-new client is still served
        assert exchange(fresh, json.dumps({"type": "status", "id": "s"}))

"""The server on a real socket: handshake checks, tokens, and bad input that must not hurt it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import struct
import threading
import time
import zlib
from pathlib import Path

import pytest
from layerbridge.daemon.client import DaemonClient, RemoteError
from layerbridge.daemon.errors import StorageError
from layerbridge.daemon.jobs.blobstore import BlobStore, Upload
from layerbridge.daemon.protocol import decode_frame, encode_frame
from layerbridge.daemon.session import Session
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Frame, Opcode

from .conftest import RunningDaemon, png


def hello(token: str, **extra: object) -> str:
    return json.dumps({"type": "hello", "id": "h", "protocols": [1], "token": token,
                       "client": {"name": "test", "kind": "test"}, **extra})


async def raw(daemon: RunningDaemon, token: str | None = None, **kw: object):  # type: ignore[no-untyped-def]
    ws = await connect(daemon.url, compression=None, proxy=None, max_size=None, **kw)  # type: ignore[arg-type]
    if token is not None:
        await ws.send(hello(token))
        welcome = json.loads(await ws.recv())
        assert welcome["type"] == "welcome", welcome
    return ws


async def reply(ws) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(await asyncio.wait_for(ws.recv(), 10))


async def test_client_with_valid_token_is_welcomed(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        assert client.welcome.protocol == 1
        assert client.welcome.scope == "client"
        demo = next(m for m in client.welcome.models if m.id == "demo")
        assert (demo.kind, demo.native_side, demo.size_multiple) == ("checkpoint", 128, 8)
        assert client.welcome.limits.max_batch >= 1


async def test_client_without_valid_token_is_rejected_and_closed(daemon: RunningDaemon) -> None:
    ws = await raw(daemon)
    await ws.send(hello("lb_not-a-real-token"))
    err = await reply(ws)
    assert (err["type"], err["code"], err["field"]) == ("error", "unauthorized", "token")
    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(ws.recv(), 5)


async def test_any_message_before_hello_is_refused(daemon: RunningDaemon) -> None:
    ws = await raw(daemon)
    await ws.send(json.dumps({"type": "status", "id": "1"}))
    err = await reply(ws)
    assert err["code"] == "unauthorized" and "expected hello" in err["message"]


async def test_unsupported_protocol_version_is_named(daemon: RunningDaemon) -> None:
    ws = await raw(daemon)
    await ws.send(json.dumps(
        {"type": "hello", "protocols": [7], "token": daemon.token, "client": {"name": "x"}}))
    err = await reply(ws)
    assert err["code"] == "unsupported_protocol" and err["field"] == "protocols"


@pytest.mark.parametrize("origin", ["https://evil.example", "http://localhost.evil.example"])
async def test_foreign_browser_origin_is_refused_even_with_token(daemon: RunningDaemon, origin: str) -> None:
    with pytest.raises(InvalidStatus) as info:
        await raw(daemon, daemon.token, origin=origin)
    assert info.value.response.status_code == 403


async def test_null_origin_with_token_is_allowed(daemon: RunningDaemon) -> None:
    ws = await raw(daemon, daemon.token, origin="null")
    await ws.close()


# UXP documents no Origin for its WebSocket: whatever Photoshop sends that is not a web page's
# http(s) origin is let through to the token check.
@pytest.mark.parametrize("origin", [None, "null", "uxp://com.layerbridge.photoshop", "file://", "app://photoshop"])
async def test_a_uxp_panel_is_let_in_whatever_non_web_origin_it_sends(
        daemon: RunningDaemon, origin: str | None) -> None:
    ws = await raw(daemon, daemon.token, **({"origin": origin} if origin else {}))
    await ws.close()


async def test_the_origin_a_client_sent_is_logged_at_hello(
        daemon: RunningDaemon, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="layerbridge")
    ws = await raw(daemon, daemon.token, origin="uxp://com.layerbridge.photoshop")
    await ws.close()
    assert any("origin 'uxp://com.layerbridge.photoshop'" in r.getMessage() for r in caplog.records)


async def test_rebound_host_header_is_refused(daemon: RunningDaemon) -> None:
    # what a browser sends after evil.example was re-pointed at 127.0.0.1 (DNS rebinding)
    port = int(daemon.url.rsplit(":", 1)[1])
    with pytest.raises(InvalidStatus) as info:
        await connect(f"ws://evil.example:{port}", host="127.0.0.1", port=port, proxy=None)
    assert info.value.response.status_code == 403


async def test_a_second_host_header_is_refused(daemon: RunningDaemon) -> None:
    with pytest.raises(InvalidStatus) as info:
        await raw(daemon, daemon.token, additional_headers={"Host": "evil.example"})
    assert info.value.response.status_code == 400


async def test_revoking_a_token_closes_its_live_connection(daemon: RunningDaemon) -> None:
    ws = await raw(daemon, daemon.token)
    daemon.core.tokens.revoke("test-client")  # as `layerbridge pair --revoke` would, from outside
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    assert info.value.rcvd is not None and info.value.rcvd.reason == "token revoked"


async def test_token_guessing_is_rate_limited_per_peer(daemon: RunningDaemon) -> None:
    limit = daemon.core.limiter.limit
    codes = []
    for i in range(limit + 2):
        ws = await raw(daemon)
        await ws.send(hello(f"lb_guess-{i}"))
        codes.append((await reply(ws))["code"])
        await ws.close()
    assert codes[:limit - 1] == ["unauthorized"] * (limit - 1)
    assert codes[limit - 1 :] == ["rate_limited"] * 3


async def test_the_right_token_is_never_refused_by_a_lockout(daemon: RunningDaemon) -> None:
    # the lockout stops guesses; refusing the right token too would let any page that can reach
    # the port lock the real clients out
    for i in range(daemon.core.limiter.limit + 2):
        ws = await raw(daemon)
        await ws.send(hello(f"lb_guess-{i}"))
        await reply(ws)
        await ws.close()
    assert daemon.core.limiter.locked("127.0.0.1 origin=-")
    ws = await raw(daemon, daemon.token)  # welcomed
    await ws.close()


async def test_guessing_from_a_null_origin_frame_does_not_lock_out_other_local_clients(
        daemon: RunningDaemon) -> None:
    # A web page can guess from a sandboxed iframe (Origin null), as the Figma plugin connects;
    # it shares 127.0.0.1 with every plugin, so its lockout must not reach the others.
    for i in range(daemon.core.limiter.limit + 1):
        ws = await raw(daemon, origin="null")
        await ws.send(hello(f"lb_guess-{i}"))
        await reply(ws)
        await ws.close()
    ws = await raw(daemon, origin="null")
    await ws.send(hello("lb_one-more-guess"))
    assert (await reply(ws))["code"] == "rate_limited"
    figma = await raw(daemon, daemon.token, origin="null")  # the right token from the same Origin
    await figma.close()
    panel = await raw(daemon, daemon.token)  # no Origin, as the Photoshop panel and the CLI
    await panel.close()
    assert not daemon.core.limiter.locked("127.0.0.1 origin=-")


async def test_client_scope_cannot_use_admin_messages(daemon: RunningDaemon) -> None:
    ws = await raw(daemon, daemon.token)
    await ws.send(json.dumps({"type": "clients.pair", "id": "1", "name": "sneaky"}))
    err = await reply(ws)
    assert err["code"] == "forbidden" and err["reply_to"] == "1"


async def test_admin_pairs_and_revokes_over_the_protocol(daemon: RunningDaemon) -> None:
    ws = await raw(daemon, daemon.admin_token)
    await ws.send(json.dumps({"type": "clients.pair", "id": "1", "name": "figma-anna"}))
    paired = await reply(ws)
    assert paired["type"] == "clients.paired" and paired["token"].startswith("lb_")
    async with await DaemonClient.connect(daemon.url, paired["token"]):
        pass
    await ws.send(json.dumps({"type": "clients.revoke", "id": "2", "name": "figma-anna"}))
    assert (await reply(ws))["type"] == "ok"
    with pytest.raises(RemoteError) as info:
        await DaemonClient.connect(daemon.url, paired["token"])
    assert info.value.code == "unauthorized"


BAD_TEXT = [
    ("{not json", "bad_message", None),
    ('{"type": "job.explode"}', "invalid_input", "type"),
    ('{"type": "ping", "extra": 1}', "invalid_input", "extra"),
    ('{"type": "job.submit", "params": {"kind": "generate", "model": "no-such-model"}}',
     "unknown_model", "model"),
    ('{"type": "job.submit", "params": {"kind": "generate", "model": "demo", "steps": 9999}}',
     "invalid_input", "params.steps"),
    ('{"type": "job.submit", "params": {"kind": "generate", "model": "demo", "batch": 64}}',
     "invalid_input", "params.batch"),
    ('{"type": "job.submit", "params": {"kind": "generate", "model": "demo", "width": 8192}}',
     "invalid_input", "params.width"),
    ('{"type": "job.submit", "params": {"kind": "refine", "model": "demo", "image": "' + "ab" * 32 + '"}}',
     "unknown_blob", "image"),
    ('{"type": "job.fetch", "job_id": "never-submitted"}', "unknown_job", "job_id"),
]


async def test_each_bad_input_gets_a_named_error_and_the_connection_keeps_serving(
        daemon: RunningDaemon) -> None:
    ws = await raw(daemon, daemon.token)
    for text, code, field in BAD_TEXT:
        await ws.send(text)
        err = await reply(ws)
        assert (err["type"], err["code"], err.get("field")) == ("error", code, field), text
        assert "Traceback" not in err["message"]
    await ws.send(b"\x00\x00\x00\xff{}")  # truncated binary header
    assert (await reply(ws))["code"] == "bad_message"
    await ws.send(json.dumps({"type": "ping", "id": "alive"}))
    assert (await reply(ws)) == {"type": "pong", "reply_to": "alive"}


async def test_non_utf8_text_frame_closes_only_that_connection(daemon: RunningDaemon) -> None:
    ws = await raw(daemon, daemon.token)
    # a text frame whose bytes are not UTF-8 violates RFC 6455: the connection is closed with
    # 1007, and the daemon goes on serving everybody else
    ws.protocol.send_frame(Frame(Opcode.TEXT, b"\xff\xfe\xfd"))
    ws.send_data()
    with pytest.raises(ConnectionClosed) as info:
        await asyncio.wait_for(ws.recv(), 5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1007
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        assert (await asyncio.wait_for(client.status(), 10)).queue.queued == 0


async def test_oversized_frame_closes_with_1009_and_daemon_keeps_serving(daemon: RunningDaemon) -> None:
    ws = await raw(daemon, daemon.token)
    await ws.send(b"\x00" * (daemon.core.limits.max_frame_bytes + 1))
    with pytest.raises(ConnectionClosed) as info:
        await asyncio.wait_for(ws.recv(), 10)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1009
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        await client.status()


def bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header and a tiny IDAT claiming width×height pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\x00" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")


async def test_decompression_bomb_upload_is_refused(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        with pytest.raises(RemoteError) as info:
            await client.upload(bomb_png(60000, 60000))
        assert info.value.code == "invalid_input" and "60000x60000" in info.value.message
        await client.status()


async def test_blob_upload_is_content_addressed(daemon: RunningDaemon) -> None:
    data = png(64, 48)
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        sha = await client.upload(data)
        assert sha == hashlib.sha256(data).hexdigest()
        assert daemon.core.blobs.meta(sha).width == 64
        assert await client.blob(sha) == data
    ws = await raw(daemon, daemon.token)
    await ws.send(json.dumps({"type": "blob.has", "id": "1", "sha256": [sha, "0" * 64]}))
    assert (await reply(ws))["sha256"] == ["0" * 64]


async def test_blob_with_wrong_hash_is_refused(daemon: RunningDaemon) -> None:
    ws = await raw(daemon, daemon.token)
    await ws.send(encode_frame({"type": "blob.put", "sha256": "1" * 64, "offset": 0, "total": 5,
                                "format": "png"}, b"hello"))
    err = await reply(ws)
    assert (err["code"], err["field"]) == ("invalid_input", "sha256")
    assert not daemon.core.blobs.has("1" * 64)


async def test_upload_of_a_blob_stored_meanwhile_is_still_answered(daemon: RunningDaemon) -> None:
    data = png(32, 32)
    sha = hashlib.sha256(data).hexdigest()
    async with await DaemonClient.connect(daemon.url, daemon.token) as other:
        await other.upload(data)  # lands between this client's blob.has and its chunks
    ws = await raw(daemon, daemon.token)
    await ws.send(encode_frame({"type": "blob.put", "id": "u1", "sha256": sha, "offset": 0,
                                "total": len(data), "format": "png"}, data))
    assert await reply(ws) == {"type": "blob.stored", "reply_to": "u1", "sha256": sha, "size": len(data)}


async def test_errors_of_an_upload_name_its_request(daemon: RunningDaemon) -> None:
    ws = await raw(daemon, daemon.token)
    await ws.send(encode_frame({"type": "blob.put", "id": "u2", "sha256": "2" * 64, "offset": 0,
                                "total": 5, "format": "png"}, b"hello"))
    err = await reply(ws)
    assert (err["reply_to"], err["field"]) == ("u2", "sha256")


async def test_a_bomb_is_refused_at_its_first_chunk_and_nothing_is_left_on_disk(daemon: RunningDaemon) -> None:
    bomb = bomb_png(60000, 60000)
    ws = await raw(daemon, daemon.token)
    # declare a large blob: the header alone must be enough to refuse it
    await ws.send(encode_frame({"type": "blob.put", "id": "b", "sha256": "3" * 64, "offset": 0,
                                "total": 10 * 2**20, "format": "png"}, bomb))
    err = await reply(ws)
    assert (err["reply_to"], err["code"]) == ("b", "invalid_input") and "60000x60000" in err["message"]
    assert not [p for p in daemon.core.blobs.root.rglob("*") if p.is_file()]


async def test_a_png_whose_first_chunk_is_shorter_than_its_header_is_stored(daemon: RunningDaemon) -> None:
    data = png(32, 16)
    sha = hashlib.sha256(data).hexdigest()
    ws = await raw(daemon, daemon.token)
    for offset, end in ((0, 10), (10, len(data))):
        await ws.send(encode_frame({"type": "blob.put", "id": "s", "sha256": sha, "offset": offset,
                                    "total": len(data), "format": "png"}, data[offset:end]))
    assert await reply(ws) == {"type": "blob.stored", "reply_to": "s", "sha256": sha, "size": len(data)}
    assert (daemon.core.blobs.meta(sha).width, daemon.core.blobs.meta(sha).height) == (32, 16)
    bomb = bomb_png(60000, 60000)  # the same split still refuses a bomb, at its last chunk
    bomb_sha = hashlib.sha256(bomb).hexdigest()
    for offset, end in ((0, 10), (10, len(bomb))):
        await ws.send(encode_frame({"type": "blob.put", "id": "b", "sha256": bomb_sha, "offset": offset,
                                    "total": len(bomb), "format": "png"}, bomb[offset:end]))
    err = await reply(ws)
    assert (err["reply_to"], err["code"]) == ("b", "invalid_input") and "60000x60000" in err["message"]
    assert not daemon.core.blobs.has(bomb_sha)


async def test_chunks_sent_with_ack_are_each_acknowledged_once_stored(daemon: RunningDaemon) -> None:
    # UXP pacing: a client keeps a bounded window of unacknowledged bytes instead of trusting
    # its socket's bufferedAmount
    data = bytes(range(256)) * 1024  # 256 KiB of grey8, in 64 KiB chunks
    sha, chunk = hashlib.sha256(data).hexdigest(), 64 * 1024
    ws = await connect(daemon.url, compression=None, proxy=None, max_size=None)
    await ws.send(hello(daemon.token))
    welcome = await reply(ws)
    assert "blob.ack" in welcome["capabilities"]
    for offset in range(0, len(data), chunk):
        await ws.send(encode_frame({"type": "blob.put", "id": "w", "sha256": sha, "offset": offset,
                                    "total": len(data), "format": "grey8", "width": 256,
                                    "height": 1024, "ack": True}, data[offset:offset + chunk]))
    replies = [await reply(ws) for _ in range(4)]
    assert replies[:3] == [{"type": "blob.received", "reply_to": "w", "sha256": sha, "received": n}
                           for n in (chunk, 2 * chunk, 3 * chunk)]
    assert replies[3] == {"type": "blob.stored", "reply_to": "w", "sha256": sha, "size": len(data)}
    assert daemon.core.blobs.has(sha)


async def test_uploads_without_sha256_are_named_by_the_daemon_from_their_bytes(daemon: RunningDaemon) -> None:
    # a client that cannot hash fast (UXP has no WebCrypto) sends first; the daemon names the blob
    first, second = bytes(range(256)) * 512, bytes(reversed(range(256))) * 512
    chunk = 64 * 1024
    ws = await connect(daemon.url, compression=None, proxy=None, max_size=None)
    await ws.send(hello(daemon.token))
    assert "blob.unnamed" in (await reply(ws))["capabilities"]
    for offset in range(0, len(first), chunk):  # two uploads interleaved, told apart by id
        for upload, data in (("a", first), ("b", second)):
            await ws.send(encode_frame({"type": "blob.put", "id": upload, "offset": offset,
                                        "total": len(data), "format": "grey8", "width": 256,
                                        "height": 512, "ack": True}, data[offset:offset + chunk]))
    replies = [await reply(ws) for _ in range(4)]
    acks = sorted((r for r in replies if r["type"] == "blob.received"), key=lambda r: r["reply_to"])
    # each upload's worker answers on its own: the two uploads' replies may come in either order
    assert acks == [{"type": "blob.received", "reply_to": u, "received": chunk} for u in ("a", "b")]
    stored = {r["reply_to"]: r for r in replies if r["type"] == "blob.stored"}
    assert stored == {u: {"type": "blob.stored", "reply_to": u, "sha256": hashlib.sha256(d).hexdigest(),
                          "size": len(d)} for u, d in (("a", first), ("b", second))}
    await ws.send(json.dumps({"type": "blob.get", "id": "g", "sha256": stored["b"]["sha256"]}))
    header, payload = decode_frame(await asyncio.wait_for(ws.recv(), 10))
    assert payload == second and header["width"] == 256  # the uploader owns it, shaped as sent
    await ws.close()


async def test_an_upload_without_sha256_needs_an_id(daemon: RunningDaemon) -> None:
    ws = await raw(daemon, daemon.token)
    await ws.send(encode_frame({"type": "blob.put", "offset": 0, "total": 4, "format": "grey8",
                                "width": 2, "height": 2}, b"abcd"))
    err = await reply(ws)
    assert (err["code"], err["field"]) == ("invalid_input", "id")
    await ws.send(json.dumps({"type": "ping", "id": "p"}))
    assert (await reply(ws))["type"] == "pong"  # refused, still served
    await ws.close()


def recorded_put_headers(client: DaemonClient) -> list[dict]:  # type: ignore[type-arg]
    """The headers of the binary frames `client` sends from now on."""
    headers: list[dict] = []  # type: ignore[type-arg]
    send = client.ws.send

    async def recording(frame):  # type: ignore[no-untyped-def]
        if isinstance(frame, bytes):
            headers.append(decode_frame(frame)[0])
        await send(frame)

    client.ws.send = recording  # type: ignore[method-assign]
    return headers


async def test_the_client_sends_new_bytes_unnamed_and_known_bytes_not_at_all(daemon: RunningDaemon) -> None:
    data = bytes(range(256)) * 4096
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        headers = recorded_put_headers(client)
        sha = await client.upload(data, "grey8", 1024, 1024)
        assert sha == hashlib.sha256(data).hexdigest() and daemon.core.blobs.has(sha)
        assert headers and all("sha256" not in h for h in headers)  # named by the daemon
        before = client.payload_bytes_sent
        assert await client.upload(data, "grey8", 1024, 1024) == sha
        assert client.payload_bytes_sent == before  # known: only blob.has went out
    async with await DaemonClient.connect(daemon.url, daemon.token) as fresh:
        # another client process knows nothing of it: it proves it holds the bytes by sending them
        assert await fresh.upload(data, "grey8", 1024, 1024) == sha
        assert fresh.payload_bytes_sent == len(data)


async def test_against_a_daemon_without_unnamed_uploads_the_client_names_the_blob_first(
        daemon: RunningDaemon) -> None:
    data = bytes(range(256)) * 256
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        older = [c for c in client.welcome.capabilities if c != "blob.unnamed"]
        client.welcome = client.welcome.model_copy(update={"capabilities": older})
        headers = recorded_put_headers(client)
        sha = await client.upload(data, "grey8", 256, 256)
        assert headers and all(h["sha256"] == sha == hashlib.sha256(data).hexdigest() for h in headers)


class SlowUpload(Upload):
    """A disk slower than the client: every chunk takes 20 ms to write."""

    def write(self, data: bytes | memoryview) -> None:
        time.sleep(0.02)
        super().write(data)


class SlowStore(BlobStore):
    def begin(self, sha: str | None) -> Upload:
        return SlowUpload(self, sha)


async def test_a_client_faster_than_the_disk_is_held_back_at_the_write_behind_bound(
        daemon: RunningDaemon) -> None:
    from layerbridge.daemon.handlers.blobs import WRITE_BEHIND

    sent: list[str | bytes] = []
    session = Session(daemon.core, "peer", lambda frame: sent.append(frame) or True, lambda code, reason: None)
    await session.handle(hello(daemon.token))
    daemon.core.uploads.store = SlowStore(daemon.core.blobs.root)
    chunk, data = 1 << 20, bytes(range(256)) * (16 << 12)  # 16 MiB
    behind = []
    for offset in range(0, len(data), chunk):
        await session.handle(encode_frame({"type": "blob.put", "id": "u", "offset": offset,
                                           "total": len(data), "format": "grey8", "width": 4096,
                                           "height": 4096}, data[offset:offset + chunk]))
        behind.extend(s.behind for s in session.upload_streams.values())
    # the session read on while chunks were being written, and never ran more than the bound ahead
    assert max(behind) > chunk and max(behind) <= WRITE_BEHIND + chunk
    stored = json.loads(sent[-1])
    assert stored == {"type": "blob.stored", "sha256": hashlib.sha256(data).hexdigest(),
                      "size": len(data), "reply_to": "u"}


class FailingUpload(Upload):
    """A disk that fills up at the upload's third chunk."""

    def write(self, data: bytes | memoryview) -> None:
        if self.size >= 2 * len(data):
            self.abort()
            raise StorageError("cannot store an upload: No space left on device")
        super().write(data)


class FailingStore(BlobStore):
    def begin(self, sha: str | None) -> Upload:
        return FailingUpload(self, sha)


async def test_a_chunk_that_cannot_be_written_drops_the_upload_and_answers_its_id(
        daemon: RunningDaemon) -> None:
    ws = await raw(daemon, daemon.token)
    daemon.core.uploads.store = FailingStore(daemon.core.blobs.root)
    chunk, data = 64 * 1024, bytes(range(256)) * 1024
    for offset in range(0, len(data), chunk):
        await ws.send(encode_frame({"type": "blob.put", "id": "f", "offset": offset,
                                    "total": len(data), "format": "grey8", "width": 256,
                                    "height": 1024}, data[offset:offset + chunk]))
    err = await reply(ws)
    assert (err["type"], err["reply_to"], err["code"]) == ("error", "f", "storage_failed")
    await ws.send(json.dumps({"type": "ping", "id": "p"}))
    later = []
    while (message := await reply(ws))["type"] != "pong":
        later.append(message)
    # no blob.stored; a chunk read after the upload was dropped is refused by the same id
    assert all((m["type"], m["reply_to"]) == ("error", "f") for m in later)
    assert not list(daemon.core.blobs.root.rglob("*.part"))
    assert daemon.core.uploads.count == 0 and not daemon.core.blobs.has(hashlib.sha256(data).hexdigest())
    await ws.close()


async def test_an_upload_whose_worker_breaks_is_answered_not_left_waiting(
        daemon: RunningDaemon, monkeypatch: pytest.MonkeyPatch) -> None:
    from layerbridge.daemon.handlers import blobs

    def broken(self: blobs.UploadStream) -> None:
        raise RuntimeError("worker thread broke")

    monkeypatch.setattr(blobs.UploadStream, "_work", broken)
    sent: list[str | bytes] = []
    session = Session(daemon.core, "peer", lambda frame: sent.append(frame) or True, lambda code, reason: None)
    await session.handle(hello(daemon.token))
    data = bytes(range(256)) * 16
    await asyncio.wait_for(session.handle(encode_frame(
        {"type": "blob.put", "id": "w", "offset": 0, "total": len(data), "format": "grey8",
         "width": 64, "height": 64}, data)), 10)  # the last chunk: waits for its write
    error = json.loads(sent[-1])
    assert (error["type"], error["reply_to"], error["code"]) == ("error", "w", "internal")
    assert daemon.core.uploads.count == 0 and not session.upload_streams


async def test_an_upload_cut_off_midway_leaves_no_partial_file(daemon: RunningDaemon) -> None:
    data = bytes(range(256)) * 4096
    sha = hashlib.sha256(data).hexdigest()
    ws = await raw(daemon, daemon.token)
    await ws.send(encode_frame({"type": "blob.put", "sha256": sha, "offset": 0, "total": len(data),
                                "format": "grey8", "width": 1024, "height": 1024}, data[:1000]))
    await ws.send(json.dumps({"type": "ping", "id": "p"}))
    assert (await reply(ws))["type"] == "pong"
    for _ in range(50):  # chunks are written behind the frames the daemon reads
        if list(daemon.core.blobs.root.rglob("*.part")):
            break
        await asyncio.sleep(0.05)
    assert [p.name for p in daemon.core.blobs.root.rglob("*.part")]  # being written
    await ws.close()
    for _ in range(50):
        if not list(daemon.core.blobs.root.rglob("*.part")):
            break
        await asyncio.sleep(0.05)
    assert not list(daemon.core.blobs.root.rglob("*.part")) and not daemon.core.blobs.has(sha)


async def test_a_request_given_up_by_its_caller_does_not_break_the_client(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        pending = asyncio.ensure_future(client.status())
        await asyncio.sleep(0)  # sent; now the caller gives up before the reply arrives
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await pending
        await asyncio.sleep(0.2)  # the late reply arrives and is dropped
        assert (await asyncio.wait_for(client.status(), 10)).queue.queued == 0


async def test_a_large_blob_comes_back_in_chunks_byte_for_byte(daemon: RunningDaemon) -> None:
    data = bytes(range(256)) * (3 * 4096 + 7)  # ~3 MiB: several download frames
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        sha = await client.upload(data, "grey8", 256, len(data) // 256)
    ws = await raw(daemon, daemon.token)
    await ws.send(json.dumps({"type": "blob.get", "id": "g", "sha256": sha}))
    received, offsets = bytearray(), []
    while len(received) < len(data):
        header, payload = decode_frame(await asyncio.wait_for(ws.recv(), 10))
        assert (header["type"], header["reply_to"], header["total"]) == ("blob.data", "g", len(data))
        offsets.append(header["offset"])
        received += payload
    assert bytes(received) == data and len(offsets) > 1 and offsets == sorted(offsets)


class ClosingUpload(Upload):
    """Closes the session (as a revoked token or a full send queue would) while a chunk of the
    upload is being written off the event loop."""

    def __init__(self, store: BlobStore, sha: str | None, loop: asyncio.AbstractEventLoop,
                 session: Session) -> None:
        super().__init__(store, sha)
        self.loop, self.session = loop, session

    def write(self, data: bytes | memoryview) -> None:
        closed = threading.Event()

        def close() -> None:
            self.session.close(1008, "token revoked")
            closed.set()

        self.loop.call_soon_threadsafe(close)
        assert closed.wait(10)
        super().write(data)


class ClosingStore(BlobStore):
    def __init__(self, root: Path, loop: asyncio.AbstractEventLoop, session: Session) -> None:
        super().__init__(root)
        self.loop, self.session = loop, session

    def begin(self, sha: str | None) -> Upload:
        return ClosingUpload(self, sha, self.loop, self.session)


async def test_a_connection_closed_during_its_first_chunk_leaves_no_partial_file(daemon: RunningDaemon) -> None:
    closes: list[int] = []
    session = Session(daemon.core, "peer", lambda frame: True, lambda code, reason: closes.append(code))
    await session.handle(hello(daemon.token))
    root = daemon.core.blobs.root
    daemon.core.uploads.store = ClosingStore(root, asyncio.get_running_loop(), session)
    data = bytes(range(256)) * 16
    await session.handle(encode_frame({"type": "blob.put", "sha256": hashlib.sha256(data).hexdigest(),
                                       "offset": 0, "total": len(data), "format": "grey8",
                                       "width": 64, "height": 64}, data[:1000]))
    for _ in range(100):  # the chunk is written behind the frames the session reads
        if closes:
            break
        await asyncio.sleep(0.02)
    assert closes == [1008]
    for _ in range(100):  # the write that saw the close removes its file when it ends
        if not list(root.rglob("*.part")):
            break
        await asyncio.sleep(0.02)
    assert not list(root.rglob("*.part"))

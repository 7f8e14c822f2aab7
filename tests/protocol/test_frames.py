import hashlib
import struct

import pytest
from layerbridge.daemon.errors import InvalidInput, ProtocolError, TooLarge
from layerbridge.daemon.protocol import BlobAssembler, decode_frame, encode_frame, parse_client_binary
from layerbridge.daemon.protocol.messages import BlobPut


def put_frame(data: bytes, offset: int = 0, total: int | None = None, sha: str | None = None) -> bytes:
    header = {"type": "blob.put", "sha256": sha or hashlib.sha256(data).hexdigest(),
              "offset": offset, "total": total or len(data), "format": "png"}
    return encode_frame(header, data)


def test_frame_round_trips_header_and_payload() -> None:
    frame = encode_frame({"type": "x", "n": 1}, b"\x00\x01payload")
    header, payload = decode_frame(frame)
    assert header == {"type": "x", "n": 1} and bytes(payload) == b"\x00\x01payload"
    assert frame[:4] == struct.pack(">I", len(b'{"type":"x","n":1}'))


@pytest.mark.parametrize("frame", [b"", b"\x00\x00", struct.pack(">I", 50) + b"{}"])
def test_truncated_frames_are_protocol_errors(frame: bytes) -> None:
    with pytest.raises(ProtocolError):
        decode_frame(frame)


def test_huge_header_length_is_refused_before_reading() -> None:
    with pytest.raises(TooLarge):
        decode_frame(struct.pack(">I", 2**31) + b"{}")


def test_binary_frame_must_be_blob_put() -> None:
    with pytest.raises(InvalidInput, match="blob.put"):
        parse_client_binary(encode_frame({"type": "job.submit"}, b"x"))


def test_raw_format_needs_dimensions() -> None:
    frame = encode_frame({"type": "blob.put", "sha256": "a" * 64, "offset": 0, "total": 4,
                          "format": "rgba8"}, b"abcd")
    with pytest.raises(InvalidInput) as info:
        parse_client_binary(frame)
    assert info.value.field == "width"


def test_chunks_reassemble_and_verify() -> None:
    data = bytes(range(256)) * 100
    sha = hashlib.sha256(data).hexdigest()
    asm = BlobAssembler(max_pending=1 << 20)
    accepted = []
    for off in range(0, len(data), 7000):
        put, payload = parse_client_binary(put_frame(data[off : off + 7000], off, len(data), sha))
        accepted.append(asm.feed(put, payload))
    assert [a.first for a in accepted] == [True] + [False] * (len(accepted) - 1)
    assert [a.complete for a in accepted] == [False] * (len(accepted) - 1) + [True]
    assert accepted[-1].head == data[:24] and asm.pending_bytes == 0


def test_chunks_out_of_order_are_refused() -> None:
    data = b"x" * 100
    sha = hashlib.sha256(data).hexdigest()
    asm = BlobAssembler(max_pending=1 << 20)
    asm.feed(*parse_client_binary(put_frame(data[:50], 0, 100, sha)))
    with pytest.raises(InvalidInput) as info:
        asm.feed(*parse_client_binary(put_frame(data[60:], 60, 100, sha)))
    assert info.value.field == "offset"


def test_bytes_that_do_not_match_their_hash_are_refused() -> None:
    asm = BlobAssembler(max_pending=1 << 20)
    put, payload = parse_client_binary(put_frame(b"hello", sha="0" * 64))
    with pytest.raises(InvalidInput) as info:
        asm.feed(put, payload)
    assert info.value.field == "sha256"


def test_pending_uploads_are_bounded() -> None:
    asm = BlobAssembler(max_pending=1000)
    put = BlobPut(sha256="a" * 64, offset=0, total=5000, format="png")
    with pytest.raises(TooLarge):
        asm.feed(put, b"x" * 10)

"""Order and integrity of chunked blob uploads, and the framing of blob downloads. Pure: it checks
chunks and hashes them, and never holds the bytes: the caller streams each accepted chunk to
storage."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..errors import Busy, InvalidInput, TooLarge
from .limits import LIMITS
from .messages import BlobData, BlobPut
from .vocab import ImageFormat

HEAD_BYTES = 24  # enough of a PNG for its signature and IHDR size


@dataclass
class _Partial:
    header: BlobPut
    received: int = 0
    head: bytes = b""
    hasher: hashlib._Hash = field(default_factory=hashlib.sha256)


@dataclass(frozen=True)
class Accepted:
    """A chunk that may be stored. `complete`: it was the last one (and, from `feed`, the hash
    matched; from `admit`, call `hash` then `verify`)."""

    header: BlobPut
    first: bool
    complete: bool
    head: bytes  # the blob's first bytes (a PNG's header), set when complete
    hasher: hashlib._Hash = field(repr=False, compare=False, default_factory=hashlib.sha256)

    def hash(self, payload: memoryview | bytes) -> None:
        """Add the chunk to the blob's running hash (chunks of one blob in order). Thread-safe
        to call off the event loop: it touches nothing but this blob's hasher."""
        self.hasher.update(payload)

    def verify(self) -> str:
        """On the last chunk: the blob's name, the sha256 of its bytes. Raises InvalidInput when
        the upload was named and the bytes hash to another name."""
        digest = self.hasher.hexdigest()
        if self.header.sha256 is not None and digest != self.header.sha256:
            raise InvalidInput("sha256", self.header.sha256, f"bytes hash to {digest}")
        return digest


class BlobAssembler:
    """Chunks must arrive in order (offset = bytes received so far); a connection may interleave
    several blobs, each keyed by its sha256 or, unnamed, by its id (`BlobPut.upload_key`).
    `max_pending` bounds the total size of the uploads in flight, `max_count` their number."""

    def __init__(self, max_pending: int, max_count: int = 1 << 30) -> None:
        self.max_pending = max_pending
        self.max_count = max_count
        self._partial: dict[str, _Partial] = {}
        self.pending_bytes = 0  # announced totals of the uploads in flight

    def feed(self, put: BlobPut, payload: memoryview | bytes) -> Accepted:
        """Check one chunk and hash it. Raises InvalidInput (and forgets the upload) when the
        chunk is out of order, disagrees with the first, or completes a blob whose bytes do not
        hash to its name."""
        accepted = self.admit(put, payload)
        accepted.hash(payload)
        if accepted.complete:
            accepted.verify()
        return accepted

    def admit(self, put: BlobPut, payload: memoryview | bytes) -> Accepted:
        """Check one chunk's place and the limits, without hashing it (hashing a MiB takes a few
        ms: the caller does it off the event loop with `Accepted.hash`, then `verify`)."""
        key = put.upload_key
        part = self._partial.get(key)
        first = part is None
        if part is None:
            if put.offset != 0:
                raise InvalidInput("offset", put.offset, f"first chunk of upload {key[:12]} must start at 0")
            if len(self._partial) >= self.max_count:
                raise Busy(f"{len(self._partial)} uploads are unfinished on this connection (at "
                           f"most {self.max_count}): finish one first",
                           field="sha256" if put.sha256 is not None else "id")
            if self.pending_bytes + put.total > self.max_pending:
                raise TooLarge(
                    f"blob of {put.total} bytes would exceed {self.max_pending} bytes of pending uploads",
                    field="total",
                )
            part = self._partial[key] = _Partial(put)
            self.pending_bytes += put.total
        elif (put.total, put.format, put.width, put.height) != (
                part.header.total, part.header.format, part.header.width, part.header.height):
            self.forget(key)
            raise InvalidInput("total", put.total, "chunk disagrees with the first chunk of this blob")
        elif put.offset != part.received:
            self.forget(key)
            raise InvalidInput("offset", put.offset, f"expected offset {part.received} (chunks go in order)")
        if len(part.head) < HEAD_BYTES:
            part.head += bytes(payload[: HEAD_BYTES - len(part.head)])
        part.received += len(payload)
        if part.received < put.total:
            return Accepted(part.header, first, False, b"", part.hasher)
        self.forget(key)
        return Accepted(part.header, first, True, part.head, part.hasher)

    def forget(self, key: str) -> None:
        """Drop a partial upload (finished, failed, or its connection closed) by its key."""
        part = self._partial.pop(key, None)
        if part is not None:
            self.pending_bytes -= part.header.total

    def pending(self) -> list[str]:
        return list(self._partial)


# 1 MiB frames: a client decodes one while the next is on the wire, and UXP's socket never
# holds more than a frame's worth (the same size the clients upload with).
DOWNLOAD_CHUNK = 1 << 20


def blob_frames(sha256: str, data: bytes | memoryview, format: ImageFormat | str,
                width: int | None = None, height: int | None = None,
                reply_to: str | None = None) -> list[tuple[BlobData, memoryview]]:
    """The `blob.data` frames (header, payload) that carry a blob to a client."""
    chunk = min(DOWNLOAD_CHUNK, LIMITS.max_chunk_bytes)
    view, size = memoryview(data), len(data)
    return [
        (BlobData(sha256=sha256, offset=off, total=size, format=ImageFormat(format), width=width,
                  height=height, reply_to=reply_to), view[off : off + chunk])
        for off in range(0, max(size, 1), chunk)
    ]

"""Order and integrity of chunked blob uploads. Pure: it checks chunks and hashes them, and
never holds the bytes: the caller streams each accepted chunk to storage."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..errors import InvalidInput, TooLarge
from .messages import BlobPut

HEAD_BYTES = 24  # enough of a PNG for its signature and IHDR size


@dataclass
class _Partial:
    header: BlobPut
    received: int = 0
    head: bytes = b""
    hasher: hashlib._Hash = field(default_factory=hashlib.sha256)


@dataclass(frozen=True)
class Accepted:
    """A chunk that may be stored. `complete`: it was the last one and the hash matched."""

    header: BlobPut
    first: bool
    complete: bool
    head: bytes  # the blob's first bytes (a PNG's header), set when complete


class BlobAssembler:
    """Chunks must arrive in order (offset = bytes received so far); a connection may interleave
    several blobs. `max_pending` bounds the total size of the uploads in flight."""

    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        self._partial: dict[str, _Partial] = {}

    @property
    def pending_bytes(self) -> int:
        return sum(p.header.total for p in self._partial.values())

    def feed(self, put: BlobPut, payload: memoryview | bytes) -> Accepted:
        """Check one chunk and hash it. Raises InvalidInput (and forgets the upload) when the
        chunk is out of order, disagrees with the first, or completes a blob whose bytes do not
        hash to its name."""
        part = self._partial.get(put.sha256)
        first = part is None
        if part is None:
            if put.offset != 0:
                raise InvalidInput("offset", put.offset, f"first chunk of blob {put.sha256[:12]} must start at 0")
            if self.pending_bytes + put.total > self.max_pending:
                raise TooLarge(
                    f"blob of {put.total} bytes would exceed {self.max_pending} bytes of pending uploads",
                    field="total",
                )
            part = self._partial[put.sha256] = _Partial(put)
        elif put.total != part.header.total or put.format != part.header.format:
            self._partial.pop(put.sha256)
            raise InvalidInput("total", put.total, "chunk disagrees with the first chunk of this blob")
        elif put.offset != part.received:
            self._partial.pop(put.sha256)
            raise InvalidInput("offset", put.offset, f"expected offset {part.received} (chunks go in order)")
        if len(part.head) < HEAD_BYTES:
            part.head += bytes(payload[: HEAD_BYTES - len(part.head)])
        part.hasher.update(payload)
        part.received += len(payload)
        if part.received < put.total:
            return Accepted(part.header, first, False, b"")
        del self._partial[put.sha256]
        digest = part.hasher.hexdigest()
        if digest != put.sha256:
            raise InvalidInput("sha256", put.sha256, f"bytes hash to {digest}")
        return Accepted(part.header, first, True, part.head)

    def forget(self, sha256: str) -> None:
        """Drop a partial upload (failed, or its blob arrived by another connection)."""
        self._partial.pop(sha256, None)

    def pending(self) -> list[str]:
        return list(self._partial)

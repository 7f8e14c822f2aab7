"""Reassembly of chunked blob uploads, checked against their sha256. Pure: bytes in, bytes out."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from ..errors import InvalidInput, TooLarge
from .messages import BlobPut


@dataclass
class _Partial:
    header: BlobPut
    buffer: bytearray
    received: int = 0
    hasher: "hashlib._Hash" = field(default_factory=hashlib.sha256)


@dataclass(frozen=True)
class CompleteBlob:
    header: BlobPut
    data: bytes


class BlobAssembler:
    """Chunks must arrive in order (offset = bytes received so far); a connection may interleave
    several blobs. `max_pending` bounds the bytes buffered per connection."""

    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        self._partial: dict[str, _Partial] = {}

    @property
    def pending_bytes(self) -> int:
        return sum(p.header.total for p in self._partial.values())

    def feed(self, put: BlobPut, payload: memoryview | bytes) -> CompleteBlob | None:
        part = self._partial.get(put.sha256)
        if part is None:
            if put.offset != 0:
                raise InvalidInput("offset", put.offset, f"first chunk of blob {put.sha256[:12]} must start at 0")
            if self.pending_bytes + put.total > self.max_pending:
                raise TooLarge(
                    f"blob of {put.total} bytes would exceed {self.max_pending} bytes of pending uploads",
                    field="total",
                )
            part = _Partial(put, bytearray(put.total))
            self._partial[put.sha256] = part
        elif put.total != part.header.total or put.format != part.header.format:
            self._partial.pop(put.sha256)
            raise InvalidInput("total", put.total, "chunk disagrees with the first chunk of this blob")
        elif put.offset != part.received:
            self._partial.pop(put.sha256)
            raise InvalidInput("offset", put.offset, f"expected offset {part.received} (chunks go in order)")
        end = part.received + len(payload)
        part.buffer[part.received : end] = payload
        part.hasher.update(payload)
        part.received = end
        if end < put.total:
            return None
        del self._partial[put.sha256]
        digest = part.hasher.hexdigest()
        if digest != put.sha256:
            raise InvalidInput("sha256", put.sha256, f"bytes hash to {digest}")
        return CompleteBlob(part.header, bytes(part.buffer))

    def forget(self, sha256: str) -> None:
        """Drop a partial upload (its blob arrived by another connection)."""
        self._partial.pop(sha256, None)

    def discard(self) -> None:
        self._partial.clear()

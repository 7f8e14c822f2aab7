"""Unfinished uploads of every connection, bounded in all by count and by announced bytes, so
many connections together cannot exhaust the disk's descriptors or space: a partial upload is a
temporary file that is open only while a chunk is written to it."""

from __future__ import annotations

import threading

from ..errors import Busy, TooLarge
from ..protocol.messages import BlobPut
from ..protocol.vocab import ImageFormat
from .blobstore import BlobMeta, BlobStore, Upload


class Uploads:
    def __init__(self, store: BlobStore, max_count: int, max_bytes: int) -> None:
        self.store = store
        self.max_count = max_count
        self.max_bytes = max_bytes
        self._open: dict[tuple[int, str], tuple[Upload, int]] = {}
        self._bytes = 0
        self._lock = threading.Lock()  # begin/abort on the loop, commit in a worker thread

    @property
    def count(self) -> int:
        return len(self._open)

    @property
    def pending_bytes(self) -> int:
        return self._bytes

    def begin(self, owner: object, put: BlobPut) -> None:
        """Start an upload for `owner` (a connection); Busy or TooLarge beyond the daemon-wide
        bounds. Creates no file yet: the first `write` does."""
        with self._lock:
            if len(self._open) >= self.max_count:
                raise Busy(f"{len(self._open)} uploads are unfinished on the daemon (at most "
                           f"{self.max_count}): retry in a moment",
                           field="sha256" if put.sha256 is not None else "id")
            if self._bytes + put.total > self.max_bytes:
                raise TooLarge(f"blob of {put.total} bytes would exceed the {self.max_bytes} bytes "
                               "of unfinished uploads the daemon holds", field="total")
            key = (id(owner), put.upload_key)
            self._drop(key)
            self._open[key] = (self.store.begin(put.sha256), put.total)
            self._bytes += put.total

    def write(self, owner: object, key: str, data: memoryview | bytes) -> None:
        """Append a chunk to the upload `key` (blocking: call it off the event loop)."""
        entry = self._open.get((id(owner), key))
        if entry is not None:
            entry[0].write(data)

    def commit(self, owner: object, key: str, sha: str, format: ImageFormat, width: int | None,
               height: int | None) -> BlobMeta:
        """Store the finished upload `key` as the blob `sha` (blocking: call it off the event
        loop)."""
        with self._lock:
            entry = self._open.pop((id(owner), key), None)
            if entry is not None:
                self._bytes -= entry[1]
        if entry is None:
            raise Busy(f"upload of {sha[:12]} was dropped meanwhile (connection closed)", field="sha256")
        return entry[0].commit(sha, format, width, height)

    def abort(self, owner: object, key: str) -> None:
        with self._lock:
            self._drop((id(owner), key))

    def abort_all(self, owner: object) -> None:
        with self._lock:
            for key in [k for k in self._open if k[0] == id(owner)]:
                self._drop(key)

    def _drop(self, key: tuple[int, str]) -> None:
        entry = self._open.pop(key, None)
        if entry is not None:
            self._bytes -= entry[1]
            entry[0].abort()

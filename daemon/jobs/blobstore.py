"""Content-addressed blob storage on disk: uploads and results, addressed by sha256.

A blob is `<root>/<sha[:2]>/<sha>` plus `<sha>.json` with its format and size; files are written
to a temporary name and renamed, so a crash never leaves a half blob under its address.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import StorageError, UnknownBlob
from ..protocol.vocab import ImageFormat


@dataclass(frozen=True)
class BlobMeta:
    sha256: str
    size: int
    format: ImageFormat
    width: int | None = None
    height: int | None = None


# an unfinished upload's file untouched this long was left by a daemon that stopped mid-upload
STALE_UPLOAD_S = 3600


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._drop_stale_uploads()

    def _drop_stale_uploads(self) -> None:
        """Remove the partial files of uploads a stopped daemon left behind (each live upload
        appends to its file at every chunk, so its mtime is recent)."""
        before = time.time() - STALE_UPLOAD_S
        for part in [*self.root.glob(".upload.*.part"), *self.root.glob("*/.*.part")]:
            try:
                if part.stat().st_mtime < before:
                    part.unlink()
            except OSError:
                continue

    def _path(self, sha: str) -> Path:
        return self.root / sha[:2] / sha

    def has(self, sha: str) -> bool:
        return self._path(sha).with_suffix(".json").exists()

    def missing(self, shas: list[str]) -> list[str]:
        return [s for s in dict.fromkeys(shas) if not self.has(s)]

    def put(self, data: bytes, format: ImageFormat, width: int | None = None,
            height: int | None = None, sha: str | None = None) -> BlobMeta:
        """Store bytes (their sha256 is computed unless the caller already checked it)."""
        sha = sha or hashlib.sha256(data).hexdigest()
        meta = BlobMeta(sha, len(data), format, width, height)
        if self.has(sha):
            return self.meta(sha)
        path = self._path(sha)
        try:
            path.parent.mkdir(exist_ok=True)
            _write_atomic(path, data)
            _write_atomic(path.with_suffix(".json"), json.dumps(meta.__dict__).encode())
        except OSError as exc:
            raise StorageError(f"cannot store blob {sha[:12]}: {exc.strerror or exc}") from None
        return meta

    def usage(self) -> tuple[int, int]:
        """How many blobs, and their bytes."""
        count = size = 0
        for meta in self.root.glob("*/*.json"):
            data = meta.with_suffix("")
            try:
                size += data.stat().st_size
            except OSError:
                continue
            count += 1
        return count, size

    def sweep(self, keep: set[str], before: float) -> tuple[int, int]:
        """Delete the blobs not in `keep` written before `before` (a client uploads again what
        it finds missing); returns how many and their bytes."""
        count = size = 0
        for meta in self.root.glob("*/*.json"):
            data = meta.with_suffix("")
            if data.name in keep:
                continue
            try:
                stat = data.stat()
                if stat.st_mtime >= before:
                    continue  # an upload for a job being submitted now
                data.unlink()
                meta.unlink(missing_ok=True)
            except OSError:
                continue
            count, size = count + 1, size + stat.st_size
        return count, size

    def begin(self, sha: str | None) -> Upload:
        """A blob written chunk by chunk as it arrives; it appears under its address only when
        committed. `sha` None: an unnamed upload, named by its bytes' hash at commit."""
        return Upload(self, sha)

    def meta(self, sha: str, field: str = "sha256") -> BlobMeta:
        try:
            return BlobMeta(**json.loads(self._path(sha).with_suffix(".json").read_bytes()))
        except FileNotFoundError:
            raise UnknownBlob(sha, field) from None

    def read(self, sha: str, field: str = "sha256") -> tuple[BlobMeta, bytes]:
        meta = self.meta(sha, field)
        try:
            return meta, self._path(sha).read_bytes()
        except FileNotFoundError:
            raise UnknownBlob(sha, field) from None


class Upload:
    """A blob being received: chunks go to a temporary file, opened only while a chunk is
    appended (a connection may hold many unfinished uploads, but never their descriptors);
    `commit` names it, `abort` drops it."""

    def __init__(self, store: BlobStore, sha: str | None) -> None:
        self.store, self.sha = store, sha
        self._tmp = store.root / f".upload.{sha[:12] if sha else 'unnamed'}.{os.getpid()}.{id(self)}.part"
        self.size = 0
        self._aborted = False

    def write(self, data: bytes | memoryview) -> None:
        if self._aborted:
            return  # dropped meanwhile (connection closed): the chunk has nowhere to go
        try:
            with open(self._tmp, "ab") as out:
                out.write(data)
        except OSError as exc:
            self.abort()
            raise StorageError(f"cannot store an upload: {exc.strerror or exc}") from None
        if self._aborted:  # aborted while this chunk was written: its file must not stay
            self._tmp.unlink(missing_ok=True)
        self.size += len(data)

    def commit(self, sha: str, format: ImageFormat, width: int | None, height: int | None) -> BlobMeta:
        """Store the bytes under `sha`, their hash (checked by the caller)."""
        meta = BlobMeta(sha, self.size, format, width, height)
        try:
            if self._aborted:
                raise FileNotFoundError("upload was aborted")
            if not self.store.has(sha):
                path = self.store._path(sha)
                path.parent.mkdir(exist_ok=True)
                self._tmp.replace(path)
                _write_atomic(path.with_suffix(".json"), json.dumps(meta.__dict__).encode())
        except OSError as exc:
            raise StorageError(f"cannot store blob {sha[:12]}: {exc.strerror or exc}") from None
        finally:
            self._tmp.unlink(missing_ok=True)
        return meta

    def abort(self) -> None:
        self._aborted = True
        self._tmp.unlink(missing_ok=True)


def _write_atomic(path: Path, data: bytes) -> None:
    """Write then rename. The temporary name is unique per call: two connections that finish the
    same blob at once (or a result equal to an upload) each write their own file."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)

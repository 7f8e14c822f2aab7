"""Content-addressed blob storage on disk: uploads and results, addressed by sha256.

A blob is `<root>/<sha[:2]>/<sha>` plus `<sha>.json` with its format and size; files are written
to a temporary name and renamed, so a crash never leaves a half blob under its address.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import StorageError, UnknownBlob
from ..protocol.messages import ImageFormat


@dataclass(frozen=True)
class BlobMeta:
    sha256: str
    size: int
    format: ImageFormat
    width: int | None = None
    height: int | None = None


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

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


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as out:
            out.write(data)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)

"""The blob store's writes: whole files under their address, however writers interleave."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest
from layerbridge.daemon.jobs import blobstore
from layerbridge.daemon.protocol.vocab import ImageFormat


def test_two_writers_of_one_file_at_once_both_succeed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Another thread writes the same file between this writer's write and its rename: the
    # moment two connections commit the same blob. Neither may clobber the other's temp file.
    target = tmp_path / "ab.json"
    rename = Path.replace
    interleaved: list[bool] = []

    def replace(self: Path, dst: Path) -> Path:
        if not interleaved:
            interleaved.append(True)
            blobstore._write_atomic(target, b'{"writer": 2}')
        return rename(self, dst)

    monkeypatch.setattr(Path, "replace", replace)
    blobstore._write_atomic(target, b'{"writer": 1}')
    assert interleaved and target.read_bytes() == b'{"writer": 1}'
    assert [p.name for p in tmp_path.iterdir()] == ["ab.json"]  # no temp file left behind


def test_an_unnamed_upload_is_stored_under_the_name_its_bytes_hash_to(tmp_path: Path) -> None:
    store = blobstore.BlobStore(tmp_path)
    upload = store.begin(None)
    upload.write(b"abcd")
    upload.write(b"efgh")
    sha = hashlib.sha256(b"abcdefgh").hexdigest()
    meta = upload.commit(sha, ImageFormat.GREY8, 4, 2)
    assert (meta.sha256, meta.size) == (sha, 8) and store.read(sha)[1] == b"abcdefgh"
    assert not list(tmp_path.rglob("*.part"))


def test_partial_uploads_a_stopped_daemon_left_are_removed_at_start(tmp_path: Path) -> None:
    store = blobstore.BlobStore(tmp_path)
    old, live = store.begin(None), store.begin("ab" * 32)
    old.write(b"left by a daemon killed mid-upload")
    (tmp_path / "ab").mkdir()
    shard = tmp_path / "ab" / ".abab.1234.5678.part"  # the name earlier versions used
    shard.write_bytes(b"old")
    live.write(b"being written now")
    stale = time.time() - blobstore.STALE_UPLOAD_S - 60
    for path in (old._tmp, shard):
        os.utime(path, (stale, stale))
    blobstore.BlobStore(tmp_path)  # the next start
    assert not old._tmp.exists() and not shard.exists()
    assert live._tmp.exists()  # recent: an upload in flight is never touched

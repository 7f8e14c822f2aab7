"""The blob store's writes: whole files under their address, however writers interleave."""

from __future__ import annotations

from pathlib import Path

import pytest
from layerbridge.daemon.jobs import blobstore


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

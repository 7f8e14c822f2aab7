"""The data dir is private to its user: 0700 folders, 0600 files, fixed when found looser."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from layerbridge.daemon.auth import TokenStore, cli_token, stored_cli_token
from layerbridge.daemon.config import Paths
from layerbridge.daemon.permissions import secure_data_dir, secure_tree

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX modes")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def loose_data_dir(root: Path) -> Paths:
    """A data dir as an older version (umask 022) left it."""
    paths = Paths(root).ensure()
    TokenStore(paths.ledger).close()
    (paths.blobs / "ab").mkdir()
    (paths.blobs / "ab" / "abcdef.png").write_bytes(b"canvas")
    paths.settings.write_text("{}")
    (root / "cli-token").write_text("lb_secret\n")
    for p in [root, *root.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return paths


def test_a_loose_data_dir_is_made_private_and_the_log_says_what(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "data"
    paths = loose_data_dir(root)
    with caplog.at_level(logging.WARNING, logger="layerbridge.permissions"):
        fixed = secure_data_dir(root)
    assert fixed == len([root, *root.rglob("*")])
    for p in [root, *root.rglob("*")]:
        assert mode(p) == (0o700 if p.is_dir() else 0o600), p
    assert mode(paths.ledger) == 0o600
    assert "readable by other users" in caplog.text and f"made {fixed} entries private" in caplog.text
    caplog.clear()
    assert secure_data_dir(root) == 0 and not caplog.text  # nothing left to fix, nothing said


def test_a_symlink_out_of_the_data_dir_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "shared.png"
    outside.write_bytes(b"x")
    outside.chmod(0o644)
    root = tmp_path / "data"
    Paths(root).ensure()
    (root / "blobs" / "link.png").symlink_to(outside)
    secure_tree(root)
    assert mode(outside) == 0o644


def test_a_new_data_dir_is_private(tmp_path: Path) -> None:
    paths = Paths(tmp_path / "fresh").ensure()
    assert all(mode(p) == 0o700 for p in (paths.root, paths.blobs, paths.models, paths.logs))


def test_an_existing_cli_token_file_0644_is_made_0600_when_read(tmp_path: Path, no_keyring) -> None:  # type: ignore[no-untyped-def]
    paths = Paths(tmp_path).ensure()
    token = cli_token(paths)
    file = tmp_path / "cli-token"
    file.chmod(0o644)
    assert stored_cli_token(paths) == token
    assert mode(file) == 0o600


def test_a_cli_token_file_rewritten_over_a_0644_one_is_0600(tmp_path: Path, no_keyring) -> None:  # type: ignore[no-untyped-def]
    paths = Paths(tmp_path).ensure()
    file = tmp_path / "cli-token"
    file.write_text("lb_revoked-long-ago\n")
    file.chmod(0o644)
    token = cli_token(paths)  # the old token is refused: a new one replaces it in the same file
    assert file.read_text().strip() == token
    assert mode(file) == 0o600

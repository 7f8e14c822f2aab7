"""The data dir is private to its user: folders 0700, files 0600 (prompts, canvases, results,
tokens and the TLS key live there). Fixes what an older version or a copy left looser.

POSIX modes only: on Windows the user profile's ACLs already keep other users out, and
`os.chmod` there only toggles read-only. Imports nothing heavy.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("layerbridge.permissions")

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
SUPPORTED = os.name == "posix"


def tighten(path: Path) -> bool:
    """Drop the group and other bits of one file or folder; True when it was looser. A symlink
    is left alone (chmod would follow it out of the data dir)."""
    if not SUPPORTED:
        return False
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode) or not st.st_mode & 0o077:
        return False
    os.chmod(path, stat.S_IMODE(st.st_mode) & 0o700)
    return True


def secure_tree(root: Path) -> list[Path]:
    """Make `root` and everything under it private; returns what was fixed. Does not follow
    symlinks. Call before serving: it walks every blob and model file."""
    fixed: list[Path] = []
    if not SUPPORTED or not root.is_dir():
        return fixed
    if tighten(root):
        fixed.append(root)
    for folder, dirs, files in os.walk(root, followlinks=False):
        base = Path(folder)
        for name in (*dirs, *files):
            path = base / name
            try:
                if tighten(path):
                    fixed.append(path)
            except OSError as exc:  # a file owned by someone else: say so, keep going
                log.warning("cannot make %s private: %s", path, exc.strerror or exc)
    return fixed


def secure_data_dir(root: Path) -> int:
    """`secure_tree` with the log line a user reads: how many entries were fixed, a few named."""
    fixed = secure_tree(root)
    if fixed:
        shown = ", ".join(str(p.relative_to(root)) or "." for p in fixed[:5])
        more = f" and {len(fixed) - 5} more" if len(fixed) > 5 else ""
        log.warning("the data dir %s was readable by other users: made %d entries private "
                    "(folders 0700, files 0600): %s%s", root, len(fixed), shown, more)
    return len(fixed)


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Files and folders created inside are readable only by this user (umask 077)."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)

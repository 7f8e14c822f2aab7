"""Pairing tokens: created by `pair`, stored by the daemon only as sha256 hashes (SQLite, shared
with the running daemon so pairing and revoking take effect at once), and the CLI's own admin
token kept in the OS keyring (or a user-only file where no keyring exists)."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import sqlite3
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path

from .config import Paths
from .errors import AuthError, Conflict, InvalidInput, NotFound, RateLimited
from .permissions import tighten
from .protocol.vocab import Scope

log = logging.getLogger("layerbridge.auth")

TOKEN_PREFIX = "lb_"
KEYRING_SERVICE = "layerbridge"
CLI_CLIENT = "cli"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS clients (
    name TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL CHECK (scope IN ('client', 'admin')),
    created_at REAL NOT NULL,
    last_seen REAL
);
"""


@dataclass(frozen=True)
class Client:
    name: str
    scope: Scope
    created_at: float
    last_seen: float | None


def hash_token(token: str) -> str:
    # Tokens carry 256 random bits: a plain hash is enough, no salt or KDF needed.
    return hashlib.sha256(token.encode()).hexdigest()


def connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.execute("PRAGMA busy_timeout=10000")
    return db


class TokenStore:
    def __init__(self, ledger_path: Path) -> None:
        self._db = connect(ledger_path)
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def pair(self, name: str, scope: Scope | str = Scope.CLIENT, *, replace: bool = False) -> str:
        """Create a client and return its token; the token is never stored and cannot be shown again."""
        if not name or len(name) > 64 or not all(c.isalnum() or c in "._-" for c in name):
            raise InvalidInput("name", name, "use 1-64 letters, digits, '.', '_' or '-'")
        if scope not in tuple(Scope):
            raise InvalidInput("scope", scope, f"expected one of {', '.join(Scope)}")
        scope = Scope(scope)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._db:  # one transaction: a replaced client never ends up with no token at all
            self._db.execute("BEGIN IMMEDIATE")
            if replace:
                self._db.execute("DELETE FROM clients WHERE name = ?", (name,))
            try:
                self._db.execute(
                    "INSERT INTO clients (name, token_hash, scope, created_at) VALUES (?, ?, ?, ?)",
                    (name, hash_token(token), scope, time.time()),
                )
            except sqlite3.IntegrityError:
                raise Conflict(f"name={name!r}: a client with this name is already paired "
                               "(revoke it first)", field="name") from None
        return token

    def revoke(self, name: str) -> None:
        with self._db:
            cur = self._db.execute("DELETE FROM clients WHERE name = ?", (name,))
        if cur.rowcount == 0:
            raise NotFound(f"name={name!r}: no such paired client", field="name")

    def list(self) -> list[Client]:
        rows = self._db.execute(
            "SELECT name, scope, created_at, last_seen FROM clients ORDER BY created_at"
        ).fetchall()
        return [Client(row[0], Scope(row[1]), row[2], row[3]) for row in rows]

    def verify(self, token: str) -> Client:
        """The client a token belongs to, or AuthError. Reads the database on every call, so a
        `pair --revoke` in another process is seen by the next check."""
        row = self._db.execute(
            "SELECT name, scope, created_at, last_seen FROM clients WHERE token_hash = ?",
            (hash_token(token),),
        ).fetchone()
        if row is None:
            raise AuthError("token refused: pair this client with `layerbridge pair --name NAME`",
                            field="token")
        now = time.time()
        self._db.execute("UPDATE clients SET last_seen = ? WHERE name = ?", (now, row[0]))
        return Client(row[0], Scope(row[1]), row[2], now)

    def is_valid(self, name: str, token_hash: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM clients WHERE name = ? AND token_hash = ?", (name, token_hash)
        ).fetchone()
        return row is not None


class FailureLimiter:
    """Refuses a peer after `limit` failed token checks within `window` seconds (token guessing)."""

    def __init__(self, limit: int = 10, window: float = 60.0) -> None:
        self.limit = limit
        self.window = window
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def _recent(self, peer: str, now: float) -> deque[float]:
        times = self._failures[peer]
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def locked(self, peer: str) -> bool:
        """Whether `peer` made `limit` wrong guesses within the window."""
        times = self._recent(peer, time.monotonic())
        if not times:
            self._failures.pop(peer, None)
        return len(times) >= self.limit

    def wait(self, peer: str) -> float:
        """Seconds until `peer` may guess again."""
        times = self._failures.get(peer)
        return self.window - (time.monotonic() - times[0]) if times else 0.0

    def check(self, peer: str) -> None:
        times = self._recent(peer, time.monotonic())
        if len(times) >= self.limit:
            wait = self.window - (time.monotonic() - times[0])
            raise RateLimited(f"too many refused tokens from {peer}; try again in {wait:.0f} s")
        if not times:
            self._failures.pop(peer, None)

    def failed(self, peer: str) -> None:
        self._recent(peer, time.monotonic()).append(time.monotonic())


# --------------------------------------------------------------------------- the CLI's own token


def _keyring_user(paths: Paths) -> str:
    return f"admin@{paths.root}"


def _token_file(paths: Paths) -> Path:
    return paths.root / "cli-token"


def _keyring_get(paths: Paths) -> str | None:
    try:
        import keyring

        return keyring.get_password(KEYRING_SERVICE, _keyring_user(paths))
    except Exception:  # no keyring, or a broken backend, must not stop the CLI; the file fallback follows
        return None


def _keyring_set(paths: Paths, token: str) -> bool:
    try:
        import keyring

        keyring.set_password(KEYRING_SERVICE, _keyring_user(paths), token)
        return True
    except Exception:
        return False


def stored_cli_token(paths: Paths) -> str | None:
    token = _keyring_get(paths)
    if token:
        return token
    file = _token_file(paths)
    if not file.exists():
        return None
    if tighten(file):  # left readable by others (an older version, a copy): it is an admin token
        log.warning("%s was readable by other users: made it 0600", file)
    return file.read_text().strip()


def cli_token(paths: Paths) -> str:
    """The local CLI's admin token: from the keyring (or the fallback file), created on first use."""
    paths.ensure()
    store = TokenStore(paths.ledger)
    try:
        token = stored_cli_token(paths)
        if token:
            try:
                store.verify(token)
                return token
            except AuthError:
                pass  # revoked or from an older data dir: make a new one
        token = store.pair(CLI_CLIENT, Scope.ADMIN, replace=True)
    finally:
        store.close()
    if not _keyring_set(paths, token):
        file = _token_file(paths)
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        if os.name == "posix":
            os.fchmod(fd, 0o600)  # O_CREAT's mode applies only to a new file
        with os.fdopen(fd, "w") as out:
            out.write(token + "\n")
        log.warning("no OS keyring available: the CLI's admin token is kept in %s (readable "
                    "only by you)", file)
    return token

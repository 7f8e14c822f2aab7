import sqlite3
import stat

import pytest
from layerbridge.daemon.auth import FailureLimiter, TokenStore, cli_token, hash_token, stored_cli_token
from layerbridge.daemon.config import Paths
from layerbridge.daemon.errors import AuthError, Conflict, InvalidInput, RateLimited


def test_tokens_are_stored_only_as_hashes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = Paths(tmp_path).ensure()
    store = TokenStore(paths.ledger)
    token = store.pair("photoshop-anna")
    db = sqlite3.connect(paths.ledger)
    rows = db.execute("SELECT * FROM clients").fetchall()
    assert [r[1] for r in rows] == [hash_token(token)]
    assert not any(token in str(v) for r in rows for v in r)
    assert store.verify(token).name == "photoshop-anna"


def test_pairing_and_revoking_in_one_process_is_seen_by_another(tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = Paths(tmp_path).ensure()
    daemon_side, cli_side = TokenStore(paths.ledger), TokenStore(paths.ledger)
    token = cli_side.pair("figma", "client")
    assert daemon_side.verify(token).scope == "client"
    cli_side.revoke("figma")
    with pytest.raises(AuthError):
        daemon_side.verify(token)


def test_names_are_checked_and_unique(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = TokenStore(Paths(tmp_path).ensure().ledger)
    with pytest.raises(InvalidInput) as info:
        store.pair("../../etc")
    assert info.value.field == "name"
    store.pair("a")
    with pytest.raises(Conflict):
        store.pair("a")


def test_limiter_refuses_after_the_limit_and_only_that_peer() -> None:
    limiter = FailureLimiter(limit=3, window=60)
    for _ in range(3):
        limiter.check("10.0.0.1")
        limiter.failed("10.0.0.1")
    with pytest.raises(RateLimited):
        limiter.check("10.0.0.1")
    limiter.check("10.0.0.2")


def test_cli_token_lives_in_the_keyring_and_is_reused(tmp_path, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    paths = Paths(tmp_path).ensure()
    token = cli_token(paths)
    assert list(memory_keyring.store.values()) == [token]
    assert not (tmp_path / "cli-token").exists()
    assert cli_token(paths) == token
    assert TokenStore(paths.ledger).verify(token).scope == "admin"


def test_without_a_keyring_the_token_file_is_private(tmp_path, no_keyring, caplog) -> None:  # type: ignore[no-untyped-def]
    paths = Paths(tmp_path).ensure()
    token = cli_token(paths)
    file = tmp_path / "cli-token"
    assert file.read_text().strip() == token == stored_cli_token(paths)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert "no OS keyring" in caplog.text


def test_a_revoked_cli_token_is_replaced(tmp_path, no_keyring) -> None:  # type: ignore[no-untyped-def]
    paths = Paths(tmp_path).ensure()
    first = cli_token(paths)
    TokenStore(paths.ledger).revoke("cli")
    second = cli_token(paths)
    assert second != first
    assert TokenStore(paths.ledger).verify(second).name == "cli"


def test_re_pairing_that_fails_keeps_the_old_token(tmp_path) -> None:  # type: ignore[no-untyped-def]
    paths = Paths(tmp_path).ensure()
    store = TokenStore(paths.ledger)
    old = store.pair("tray", "admin")
    db = sqlite3.connect(paths.ledger)
    db.execute("CREATE TRIGGER full BEFORE INSERT ON clients BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    db.commit()
    with pytest.raises((Conflict, sqlite3.DatabaseError)):
        store.pair("tray", "admin", replace=True)
    assert store.verify(old).name == "tray"

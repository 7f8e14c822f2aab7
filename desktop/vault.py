"""The tray's admin tokens, kept in the OS keyring and never in a settings file.

Where no keyring exists (headless Linux without Secret Service), a token lives in memory for the
session only: for the local daemon the tray mints a fresh one at each start (it can, it owns the
data dir); for a remote daemon the user pastes it again. `explanation` says so in the UI."""

from __future__ import annotations

import logging

from layerbridge.daemon.auth import TokenStore
from layerbridge.daemon.config import Paths
from layerbridge.daemon.errors import AuthError

log = logging.getLogger("layerbridge.desktop.vault")

SERVICE = "layerbridge-tray"
TRAY_CLIENT = "tray"

NO_KEYRING = (
    "No OS keyring is available (on Linux: install and unlock a Secret Service such as GNOME "
    "Keyring or KWallet). The tray keeps its admin token in memory only: for the local daemon it "
    "pairs itself again at each start; a remote daemon's token must be pasted again after a "
    "restart. Nothing is written to disk."
)


class TokenVault:
    def __init__(self) -> None:
        self._memory: dict[str, str] = {}

    def available(self) -> bool:
        """Whether a real keyring backend is in use (not the fail or null backend)."""
        try:
            import keyring

            backend = keyring.get_keyring()
        except Exception:  # noqa: BLE001 - a broken keyring install is "no keyring"
            return False
        name = f"{type(backend).__module__}.{type(backend).__name__}"
        return not (name.startswith("keyring.backends.fail") or name.endswith("null.Keyring")
                    or getattr(backend, "priority", 1) <= 0)

    @property
    def explanation(self) -> str:
        return "" if self.available() else NO_KEYRING

    def get(self, account: str) -> str | None:
        if account in self._memory:
            return self._memory[account]
        try:
            import keyring

            return keyring.get_password(SERVICE, account)
        except Exception:  # noqa: BLE001 - no keyring: nothing stored
            return None

    def set(self, account: str, token: str) -> bool:
        """Store a token; False when only the in-memory fallback holds it."""
        self._memory[account] = token
        if not self.available():
            return False
        try:
            import keyring

            keyring.set_password(SERVICE, account, token)
            return True
        except Exception as exc:  # noqa: BLE001
            log.warning("keyring refused the token (%s): kept in memory only", exc)
            return False

    def delete(self, account: str) -> None:
        self._memory.pop(account, None)
        try:
            import keyring

            keyring.delete_password(SERVICE, account)
        except Exception:  # noqa: BLE001 - absent or no keyring
            pass


def local_account(paths: Paths) -> str:
    return f"local:{paths.root}"


def remote_account(url: str) -> str:
    return f"remote:{url}"


def local_admin_token(paths: Paths, vault: TokenVault) -> str:
    """The tray's admin token for the daemon on this machine's data dir: the stored one while it
    is valid, else a newly paired `tray` admin client (replacing an older one)."""
    paths.ensure()
    store = TokenStore(paths.ledger)
    try:
        token = vault.get(local_account(paths))
        if token:
            try:
                store.verify(token)
                return token
            except AuthError:
                pass  # revoked, or the data dir was reset
        token = store.pair(TRAY_CLIENT, "admin", replace=True)
    finally:
        store.close()
    vault.set(local_account(paths), token)
    return token

"""The last daemon settings that started: kept when the local daemon comes up, put back when a
saved change stops it from starting again (a port another program holds, a value an older
daemon accepted). Files only; no Qt."""

from __future__ import annotations

import contextlib
from pathlib import Path

from layerbridge.daemon.config import Paths

STARTED = "settings.started.json"  # beside settings.json: what the daemon last started with
REFUSED = "settings.refused.json"  # the settings it did not start with, kept for the user
DEFAULTS = b"{}\n"  # no settings.json: every default (Settings() validates "{}")


class SettingsGuard:
    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    @property
    def started_file(self) -> Path:
        return self.paths.root / STARTED

    @property
    def refused_file(self) -> Path:
        return self.paths.root / REFUSED

    def _current(self) -> bytes | None:
        try:
            return self.paths.settings.read_bytes()
        except OSError:
            return None

    def remember_started(self) -> None:
        """The daemon is up: what settings.json holds now is known to work."""
        with contextlib.suppress(OSError):
            self.started_file.write_bytes(self._current() or DEFAULTS)

    def restore(self) -> bool:
        """Put back the settings the daemon last started with when the saved ones differ;
        returns whether it did (the refused ones are kept in settings.refused.json)."""
        current = self._current()
        try:
            started = self.started_file.read_bytes()
        except OSError:
            return False  # never seen it start: nothing known to be good
        if current is None or current == started:
            return False  # the settings are not what changed
        try:
            self.refused_file.write_bytes(current)
            tmp = self.paths.settings.with_suffix(".restore")
            tmp.write_bytes(started)
            tmp.replace(self.paths.settings)
        except OSError:
            return False
        return True

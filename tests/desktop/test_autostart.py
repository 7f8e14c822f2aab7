"""The login entry starts the tray on the data dir in use, also one chosen by LAYERBRIDGE_HOME."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from layerbridge.desktop import autostart


def test_the_login_entry_keeps_layerbridge_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(autostart.sys, "platform", "linux")
    monkeypatch.setenv("LAYERBRIDGE_HOME", str(tmp_path / "studio"))
    autostart.set_enabled(True)
    entry = autostart._xdg_file().read_text()
    exec_line = next(line for line in entry.splitlines() if line.startswith("Exec="))
    args = shlex.split(exec_line.removeprefix("Exec="))
    assert args[-3:] == ["--data-dir", str(tmp_path / "studio"), "tray"]
    autostart.set_enabled(True, str(tmp_path / "chosen"))  # the tray's own data dir wins
    assert str(tmp_path / "chosen") in autostart._xdg_file().read_text()
    autostart.set_enabled(False)
    assert not autostart.is_enabled()

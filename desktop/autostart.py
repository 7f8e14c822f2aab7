"""Start the tray at login: an XDG autostart entry (Linux), a LaunchAgent (macOS) or the
registry's Run key (Windows). Each writes one small file or value and removes it again."""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from pathlib import Path
from xml.sax.saxutils import escape

ENTRY = "layerbridge-tray"


def command(data_dir: str | None = None) -> list[str]:
    """What login runs: this interpreter's tray, on the data dir in use now. A login session
    does not have the shell's environment, so LAYERBRIDGE_HOME becomes an explicit --data-dir."""
    folder = data_dir or os.environ.get("LAYERBRIDGE_HOME")
    where = ["--data-dir", str(Path(folder).expanduser().resolve())] if folder else []
    return [sys.executable, "-m", "layerbridge.daemon.cli", *where, "tray"]


def _xdg_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autostart" / f"{ENTRY}.desktop"


def _launch_agent() -> Path:
    return Path.home() / "Library" / "LaunchAgents" / "org.layerbridge.tray.plist"


def is_enabled() -> bool:
    if sys.platform == "win32":  # pragma: no cover - Windows only
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER,
                                r"Software\Microsoft\Windows\CurrentVersion\Run") as key:
                winreg.QueryValueEx(key, ENTRY)
                return True
        except OSError:
            return False
    path = _launch_agent() if sys.platform == "darwin" else _xdg_file()
    return path.exists()


def set_enabled(enabled: bool, data_dir: str | None = None) -> None:
    if sys.platform == "win32":  # pragma: no cover - Windows only
        import subprocess
        import winreg

        with winreg.OpenKey(winreg.HKEY_CURRENT_USER,
                            r"Software\Microsoft\Windows\CurrentVersion\Run", 0,
                            winreg.KEY_SET_VALUE) as key:
            if enabled:
                winreg.SetValueEx(key, ENTRY, 0, winreg.REG_SZ, subprocess.list2cmdline(command(data_dir)))
            else:
                with contextlib.suppress(OSError):
                    winreg.DeleteValue(key, ENTRY)
        return
    path = _launch_agent() if sys.platform == "darwin" else _xdg_file()
    if not enabled:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if sys.platform == "darwin":
        args = "".join(f"<string>{escape(a)}</string>" for a in command(data_dir))
        path.write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>'
            "<key>Label</key><string>org.layerbridge.tray</string>"
            f"<key>ProgramArguments</key><array>{args}</array>"
            "<key>RunAtLoad</key><true/></dict></plist>\n")
    else:
        path.write_text("[Desktop Entry]\nType=Application\nName=Layerbridge\n"
                        f"Comment=Local diffusion daemon for Photoshop and Figma\n"
                        f"Exec={shlex.join(command(data_dir))}\nX-GNOME-Autostart-enabled=true\n")

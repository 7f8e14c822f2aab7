"""`layerbridge tray`: the Qt application on a qasync loop. Builds the TrayCore, the tray icon
and (on demand) the manager window, starts the local daemon, and stops it on quit.
Imports nothing heavy: torch and diffusers stay in the daemon's process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from .about import AboutDialog
from .config import TrayConfig, load_config, save_config
from .core import TrayCore
from .manager import ManagerWindow
from .tray import TrayIcon
from .vault import remote_account
from .widgets import confirm

log = logging.getLogger("layerbridge.desktop")


class TrayApp:
    """The running app: core + tray icon + manager window (created when first opened)."""

    def __init__(self, core: TrayCore, *, show_manager: bool = False) -> None:
        self.core = core
        self.tray = TrayIcon(core)
        self.window: ManagerWindow | None = None
        self.quitting = asyncio.Event()
        self.tray.openManager.connect(self.open_manager)
        self.tray.pairRequested.connect(self._pair)
        self.tray.quitRequested.connect(self.ask_quit)
        self.tray.aboutRequested.connect(self.about)
        self.tray.show()
        first = not core.config.welcomed
        if show_manager or first or not QSystemTrayIcon.isSystemTrayAvailable():
            # no tray on this desktop: the window is the way in; a first launch: say what it is
            window = self.open_manager()
            if first:
                window.tabs.setCurrentWidget(window.home)
                core.settings.set_welcomed()

    def open_manager(self) -> ManagerWindow:
        if self.window is None:
            self.window = ManagerWindow(self.core)
        self.window.show()
        self.window.raise_()
        self.window.activateWindow()
        return self.window

    def _pair(self) -> None:
        window = self.open_manager()
        window.tabs.setCurrentWidget(window.clients)
        window.clients.ask_pair()

    def ask_quit(self) -> bool:
        """Quit from the menu: asks first when quitting would stop work on the local daemon."""
        busy = self.core.active_jobs() if self.core.is_local else 0
        if busy and not confirm(
                None, "Quit Layerbridge",
                f"{busy} job{'s are' if busy != 1 else ' is'} queued or running on this "
                "computer's daemon. Quitting stops it: the running job is lost, queued jobs "
                "resume at the next start. Quit anyway?"):
            return False
        self.quit()
        return True

    def quit(self) -> None:
        self.quitting.set()

    def about(self) -> None:
        AboutDialog(self.core, self.window).open()

    async def run(self) -> None:
        self.core.start()
        await self.quitting.wait()
        await self.core.shutdown()
        if self.core.process is not None:
            self.core.process.wait_stopped(15_000)
            self.core.process.close_log()


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="layerbridge tray")
    p.add_argument("--data-dir", help="the local daemon's data dir")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--remote", metavar="URL", help="manage a remote daemon (ws://host:port)")
    where.add_argument("--local", action="store_true",
                       help="manage this computer's daemon (again, after --remote)")
    p.add_argument("--tls-fingerprint", metavar="SHA256",
                   help="with --remote wss://...: trust the daemon whose certificate has this "
                        "SHA-256 fingerprint (`layerbridge pair` prints it); saved with the remote")
    p.add_argument("--no-start", action="store_true", help="do not start the local daemon")
    p.add_argument("--show", action="store_true", help="open the manager window at once")
    p.add_argument("--port", type=int, help="start the local daemon on this port")
    return p.parse_args(argv)


def configure(args: argparse.Namespace, config: TrayConfig) -> TrayConfig:
    """The saved preferences with the command line's changes. Raises InvalidInput (naming the
    flag) for a fingerprint that is malformed, or given without a wss:// remote."""
    update: dict[str, object] = {}
    if args.data_dir:
        update["data_dir"] = args.data_dir
    pin = remote_pin(args, config)
    if args.remote:
        update |= {"mode": "remote", "remote_url": args.remote}
        if pin is not None or args.remote != config.remote_url:
            update["remote_fingerprint"] = pin  # another daemon's pin is never carried over
    elif getattr(args, "local", False):
        update["mode"] = "local"  # the remote URL stays saved for the next switch back
    elif pin is not None:
        update["remote_fingerprint"] = pin  # a new pin for the saved remote
    if args.no_start:
        update["start_daemon"] = False
    return config.model_copy(update=update)


def remote_pin(args: argparse.Namespace, config: TrayConfig) -> str | None:
    """`--tls-fingerprint` in its canonical form (as `layerbridge pair` prints it), checked
    against the remote it pins; None when not given."""
    text = getattr(args, "tls_fingerprint", None)
    if text is None:
        return None
    from layerbridge.daemon.errors import InvalidInput
    from layerbridge.daemon.tls import parse_fingerprint

    url = args.remote or (config.remote_url if config.mode == "remote" else "")
    if getattr(args, "local", False) or not url:
        raise InvalidInput("tls-fingerprint", text, "pins a remote daemon: give --remote wss://HOST:PORT too")
    if not url.lower().startswith("wss://"):
        raise InvalidInput("tls-fingerprint", text, f"needs a wss:// URL; --remote is {url!r}, "
                           "which is not encrypted")
    try:
        return parse_fingerprint(text)
    except InvalidInput as exc:
        raise InvalidInput("tls-fingerprint", text, exc.message.split(": ", 1)[-1]) from None


def run(args: argparse.Namespace) -> int:
    import qasync

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = configure(args, load_config())  # a bad flag is refused before any window opens
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Layerbridge")
    app.setQuitOnLastWindowClosed(False)
    if (args.data_dir or args.remote or getattr(args, "local", False)
            or getattr(args, "tls_fingerprint", None)):
        save_config(config)
    core = TrayCore(config, port=args.port)
    if not core.vault.available():
        log.warning("%s", core.vault.explanation)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    needs_token = (core.config.mode == "remote"
                   and not core.vault.get(remote_account(core.config.remote_url)))
    tray = TrayApp(core, show_manager=args.show or needs_token)
    if needs_token and tray.window is not None:
        tray.window.tabs.setCurrentWidget(tray.window.settings)
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, tray.quit)
    with loop:
        loop.run_until_complete(tray.run())
    return 0


def main(argv: list[str] | None = None) -> int:
    from layerbridge.daemon.errors import LayerbridgeError

    try:
        return run(parse(sys.argv[1:] if argv is None else argv))
    except LayerbridgeError as exc:  # as `layerbridge tray` says it: one line, no traceback
        print(f"layerbridge: {exc.code}: {exc.message}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""The daemon's log, bounded against whoever can make it write: files rotate by size, a message
repeated faster than a few times a minute is collapsed into a count, and one record's text is
capped. Standard `logging` only; imports nothing heavy.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

LOG_FILE = "daemon.log"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@dataclass(frozen=True)
class LogLimits:
    max_bytes: int = 10 * 2**20  # per file; with the backups, at most 60 MiB on disk
    backups: int = 5
    burst: int = 20  # records per message key per interval before the rest are counted
    interval_s: float = 60.0
    max_message_chars: int = 4000  # a client can put long values in a message


class RateLimitFilter(logging.Filter):
    """Lets through `burst` records per key (logger, level, message template) per interval and
    counts the rest; the first record of that key after the interval says how many were dropped.
    A flood of refused handshakes thus costs a few lines a minute, whatever the peer sends.

    The key is the template (`record.msg`), not the formatted text, so varying arguments (peers,
    header values) do not open new keys; the number of keys kept is capped all the same."""

    MAX_KEYS = 1024

    def __init__(self, burst: int = 20, interval_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.burst = burst
        self.interval_s = interval_s
        self.clock = clock
        # key -> [window start, records passed in the window, records suppressed in the window]
        self._windows: OrderedDict[tuple[str, int, str], list[float]] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        # one record meets this filter once per handler: decide once
        decided = getattr(record, "_layerbridge_passed", None)
        if decided is None:
            decided = self._decide(record)
            record._layerbridge_passed = decided
        return bool(decided)

    def _decide(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        window = self._windows.get(key)
        if window is None or now - window[0] >= self.interval_s:
            suppressed = int(window[2]) if window is not None else 0
            self._windows[key] = [now, 1, 0]
            self._windows.move_to_end(key)
            while len(self._windows) > self.MAX_KEYS:
                self._windows.popitem(last=False)
            if suppressed:
                elapsed = now - window[0] if window is not None else 0.0
                record.msg = f"{record.msg} [{suppressed} more like this suppressed in the last {elapsed:.0f} s]"
            return True
        if window[1] < self.burst:
            window[1] += 1
            return True
        window[2] += 1
        return False


class BoundedFormatter(logging.Formatter):
    """Caps a record's message (arguments included); tracebacks are left whole, since only the
    daemon's own failures log one."""

    def __init__(self, fmt: str, max_chars: int) -> None:
        super().__init__(fmt)
        self.max_chars = max_chars

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        message = record.message
        if len(message) > self.max_chars:
            keep = self.max_chars // 2
            record.message = f"{message[:keep]} [... {len(message) - 2 * keep} chars ...] {message[-keep:]}"
        return super().formatMessage(record)


def setup_logging(log_dir: Path, limits: LogLimits = LogLimits(), stream: TextIO | None = None,
                  level: int = logging.INFO) -> logging.handlers.RotatingFileHandler:
    """Send the root logger to a size-rotated file in `log_dir` and to `stream` (stderr), both
    behind one rate limit. Returns the file handler (the tray reads the same file)."""
    log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    formatter = BoundedFormatter(FORMAT, limits.max_message_chars)
    limiter = RateLimitFilter(limits.burst, limits.interval_s)
    file = logging.handlers.RotatingFileHandler(
        log_dir / LOG_FILE, maxBytes=limits.max_bytes, backupCount=limits.backups, encoding="utf-8")
    console = logging.StreamHandler(stream or sys.stderr)
    for handler in (file, console):
        handler.setFormatter(formatter)
        handler.addFilter(limiter)  # one limiter: the console and the file agree on what was said
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    root.addHandler(file)
    root.addHandler(console)
    root.setLevel(level)
    logging.getLogger("websockets").setLevel(logging.WARNING)
    return file

"""The daemon's log stays bounded whatever a client makes it write: rate limit, rotation, caps."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from layerbridge.daemon.logs import LOG_FILE, LogLimits, RateLimitFilter, setup_logging


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger as the test found it, restored after (setup_logging replaces handlers)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield root
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


def collecting_logger(name: str, limiter: RateLimitFilter) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(limiter)
    log = logging.getLogger(name)
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
    return log, out


def test_a_flood_of_one_warning_is_collapsed_into_a_count() -> None:
    clock = Clock()
    log, out = collecting_logger("test.flood", RateLimitFilter(burst=5, interval_s=60, clock=clock))
    for i in range(10_000):  # the peer changes at every line: the template is what repeats
        log.warning("refused handshake with Host %r", f"evil-{i}.example")
    assert out.getvalue().count("\n") == 5
    clock.now = 61.0
    log.warning("refused handshake with Host %r", "evil-last.example")
    lines = out.getvalue().splitlines()
    assert len(lines) == 6
    assert "evil-last.example" in lines[-1] and "9995 more like this suppressed in the last 61 s" in lines[-1]


def test_other_messages_pass_while_one_is_limited() -> None:
    log, out = collecting_logger("test.mixed", RateLimitFilter(burst=2, interval_s=60, clock=Clock()))
    for _ in range(100):
        log.warning("noise %d", 1)
    log.error("the daemon's own failure")
    log.info("token refused from %s", "10.0.0.9")
    assert out.getvalue().splitlines()[-2:] == ["the daemon's own failure", "token refused from 10.0.0.9"]


def test_keys_kept_by_the_limiter_are_capped() -> None:
    limiter = RateLimitFilter(burst=1, interval_s=60, clock=Clock())
    log, _ = collecting_logger("test.keys", limiter)
    for i in range(RateLimitFilter.MAX_KEYS * 3):
        log.warning(f"a message built with an f-string {i}")  # noqa: G004 (what careless code does)
    assert len(limiter._windows) == RateLimitFilter.MAX_KEYS


def test_the_daemon_log_rotates_at_its_size_limit(tmp_path: Path, root_logger: logging.Logger) -> None:
    limits = LogLimits(max_bytes=20_000, backups=2, burst=10_000)
    setup_logging(tmp_path, limits, stream=io.StringIO())
    log = logging.getLogger("layerbridge.test")
    for i in range(2_000):  # ~200 kB of distinct lines, far over 3 x 20 kB
        log.info("job %05d done in %s", i, "x" * 40)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [LOG_FILE, f"{LOG_FILE}.1", f"{LOG_FILE}.2"]
    assert all((tmp_path / name).stat().st_size <= limits.max_bytes for name in files)
    assert "job 01999" in (tmp_path / LOG_FILE).read_text()  # the newest is kept


def test_a_flood_through_the_daemon_setup_leaves_a_small_file(tmp_path: Path, root_logger: logging.Logger) -> None:
    console = io.StringIO()
    setup_logging(tmp_path, LogLimits(burst=10), stream=console)
    log = logging.getLogger("layerbridge.server")
    for i in range(50_000):
        log.warning("refused handshake from Origin %r", f"https://attacker-{i}.example")
    size = (tmp_path / LOG_FILE).stat().st_size
    assert size < 2_000, size
    assert console.getvalue().count("\n") == 10  # the console sees what the file sees


def test_one_huge_message_is_capped(tmp_path: Path, root_logger: logging.Logger) -> None:
    setup_logging(tmp_path, LogLimits(max_message_chars=1000), stream=io.StringIO())
    logging.getLogger("layerbridge.server").warning("refused Host %r", "h" * 1_000_000)
    text = (tmp_path / LOG_FILE).read_text()
    assert len(text) < 1200 and "chars ...]" in text

"""Reading the daemon's console output: levels, filters, and the line a crash notice quotes."""

from __future__ import annotations

from layerbridge.desktop.logview import classify, passes
from layerbridge.desktop.process import last_error_line

CRASH = [
    "[tray] starting: python -m layerbridge.daemon.cli serve",
    "2026-12-01 11:00:00,000 INFO layerbridge.server: loading settings",
    "Traceback (most recent call last):",
    '  File "server.py", line 10, in run',
    "OSError: [Errno 98] address already in use",
    "[tray] the daemon exited with code 1",
]


def test_a_crash_notice_quotes_the_daemons_own_error_not_the_trays_note() -> None:
    assert last_error_line(CRASH) == "OSError: [Errno 98] address already in use"
    assert last_error_line(["[tray] starting", "layerbridge: invalid_input: settings: bad host",
                            "[tray] the daemon crashed"]) == "layerbridge: invalid_input: settings: bad host"
    assert last_error_line(["[tray] the daemon crashed"]) == ""


def test_a_tracebacks_lines_take_the_level_of_its_start_and_the_filter_keeps_them() -> None:
    lines = classify(CRASH)
    assert [line.level for line in lines] == ["INFO", "INFO", "ERROR", "ERROR", "ERROR", "WARNING"]
    errors = [line.text for line in lines if passes(line, "ERROR")]
    assert errors == CRASH[2:5]
    assert [line.text for line in lines if passes(line, "DEBUG", "errno")] == [CRASH[4]]

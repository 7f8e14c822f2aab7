"""The daemon's console output as log records: each line's level (a traceback's lines take the
level of the line that began it), and a filter by level and text. No widgets."""

from __future__ import annotations

import re
from dataclasses import dataclass

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_LEVEL = re.compile(r"\b(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b")
_CONTINUES = re.compile(r"^(\s|Traceback |During handling|The above exception)")


@dataclass(frozen=True)
class LogLine:
    text: str
    level: str


def classify(lines: list[str]) -> list[LogLine]:
    out: list[LogLine] = []
    for text in lines:
        out.append(LogLine(text, level_of(text, out[-1].level if out else "INFO")))
    return out


def level_of(text: str, previous: str = "INFO") -> str:
    """The line's level: the logging level it names; a traceback's lines (indented, or the
    exception line after them) continue the line before; the tray's own notes are INFO."""
    if text.startswith("[tray] "):
        return "WARNING" if ("crashed" in text or "exited" in text or "restored" in text) else "INFO"
    match = _LEVEL.search(text[:80])
    if match:
        return match.group(1)
    if text.startswith("Traceback "):
        return "ERROR"
    if _CONTINUES.match(text) or previous in ("ERROR", "CRITICAL"):
        return previous
    return "INFO"


def passes(line: LogLine, least: str, text: str = "") -> bool:
    """At least level `least`, and containing `text` (case-insensitive) when given."""
    if LEVELS.index(line.level) < LEVELS.index(least):
        return False
    return not text or text.lower() in line.text.lower()

"""inpaint and expand (placeholder until the editing engine lands)."""

from __future__ import annotations

from typing import Any

from ..errors import Unsupported


def inpaint(s: Any, nets: list[Any]) -> list[Any]:
    raise Unsupported("inpaint is not implemented yet")


def expand(s: Any, nets: list[Any]) -> list[Any]:
    raise Unsupported("expand is not implemented yet")

"""The GPU tab's checks before saving."""

from __future__ import annotations


def test_a_memory_budget_has_real_bounds() -> None:
    from layerbridge.desktop.tab_gpu import budget_problem

    assert budget_problem(0, 8 << 30) is None  # automatic
    assert "at least 256 MiB" in (budget_problem(100, 8 << 30) or "")
    assert "more than the device's 8192 MiB" in (budget_problem(999_999, 8 << 30) or "")
    assert budget_problem(4096, 8 << 30) is None
    assert budget_problem(999_999, 0) is None  # device not known yet: the daemon checks

"""What the icon says: a paused queue is not busy; a failed job's error stays in its cell."""

from __future__ import annotations

from layerbridge.daemon.protocol.messages import QueueInfo, StatusReply
from layerbridge.desktop.connection import LinkState
from layerbridge.desktop.jobs import JobRow
from layerbridge.desktop.process import ProcessState
from layerbridge.desktop.traystate import Look, compute


def _status(queued: int, running: int, paused: bool) -> StatusReply:
    return StatusReply(version="1", loaded=[], clients=1,
                       queue=QueueInfo(queued=queued, running=running, paused=paused))


def test_a_paused_queue_with_jobs_waiting_looks_paused_not_busy() -> None:
    held = compute(ProcessState.RUNNING, LinkState.CONNECTED, _status(2, 0, True))
    assert (held.look, held.tooltip) == (Look.PAUSED, "Layerbridge: paused (2 waiting)")
    finishing = compute(ProcessState.RUNNING, LinkState.CONNECTED, _status(2, 1, True))
    assert finishing.look is Look.BUSY and "queue paused" in finishing.tooltip


def test_a_long_job_error_is_cut_in_the_cell_and_whole_in_the_tooltip() -> None:
    from layerbridge.desktop.jobs import JOB_COLUMNS

    error = "CUDA out of memory. Tried to allocate 2.00 GiB " * 5
    row = JobRow(job_id="j1", state="failed", error=error)
    state = next(c for c in JOB_COLUMNS if c.title == "State")
    assert len(state.text(row)) < 80 and state.text(row).startswith("failed: CUDA out of memory")
    assert state.tooltip is not None and state.tooltip(row) == error


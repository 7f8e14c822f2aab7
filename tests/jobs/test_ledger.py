import sqlite3

import pytest
from layerbridge.daemon.jobs.ledger import Ledger
from layerbridge.daemon.jobs.state import IllegalTransition, JobState, check_transition
from layerbridge.daemon.protocol.messages import ErrorBody, JobParams, Region, ResultInfo

PARAMS = JobParams(kind="generate", model="demo", prompt="a cat", seed=5)


def test_illegal_transitions_name_both_states() -> None:
    with pytest.raises(IllegalTransition, match="done can go to nothing"):
        check_transition(JobState.DONE, JobState.RUNNING)
    check_transition(JobState.RUNNING, JobState.QUEUED)  # a restart puts it back


def test_ledger_survives_reopening_with_results(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = Ledger(tmp_path / "l.db")
    job = ledger.insert("j1", "anna", "interactive", PARAMS, 5)
    ledger.transition(job, JobState.RUNNING)
    result = ResultInfo(index=0, blob="a" * 64, width=64, height=64,
                        region=Region(x=0, y=0, width=64, height=64), seed=5, params=PARAMS)
    ledger.finish(job, [result])
    ledger.close()
    again = Ledger(tmp_path / "l.db").get("j1")
    assert again is not None and again.state is JobState.DONE and again.results == [result]
    assert again.attempts == 1


def test_unfinished_jobs_come_back_in_order(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = Ledger(tmp_path / "l.db")
    for i in range(3):
        ledger.insert(f"j{i}", "anna", "interactive", PARAMS, i)
    failed = ledger.get("j1")
    assert failed is not None
    ledger.transition(failed, JobState.FAILED, ErrorBody(code="x", message="y"))
    assert [j.job_id for j in Ledger(tmp_path / "l.db").unfinished()] == ["j0", "j2"]


def test_results_are_not_recorded_when_the_done_state_cannot_be(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ledger = Ledger(tmp_path / "l.db")
    job = ledger.insert("j1", "anna", "interactive", PARAMS, 5)
    ledger.transition(job, JobState.RUNNING)
    # the state update fails after the results were written (disk full, a busy database)
    other = sqlite3.connect(tmp_path / "l.db")
    other.execute("CREATE TRIGGER no_done BEFORE UPDATE OF state ON jobs WHEN NEW.state = 'done' "
                  "BEGIN SELECT RAISE(ABORT, 'cannot write'); END")
    other.commit()
    other.close()
    result = ResultInfo(index=0, blob="a" * 64, width=64, height=64,
                        region=Region(x=0, y=0, width=64, height=64), seed=5, params=PARAMS)
    with pytest.raises(sqlite3.IntegrityError):
        ledger.finish(job, [result])
    again = ledger.get("j1")
    assert again is not None and again.state is JobState.RUNNING and again.results == []

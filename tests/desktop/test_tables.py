"""Tables: columns follow the rows that arrive (not the empty table's titles), and one long
value is cut with its whole text in the tooltip instead of pushing the others off screen."""

from __future__ import annotations

import dataclasses

from layerbridge.desktop.jobs import JOB_COLUMNS, JobRow
from layerbridge.desktop.tablemodel import RecordTableModel
from layerbridge.desktop.widgets import MAX_COLUMN, table
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.desktop.conftest import until


async def test_columns_grow_to_rows_that_arrive_and_a_long_error_stays_in_its_column() -> None:
    QApplication.instance() or QApplication([])
    model: RecordTableModel[JobRow] = RecordTableModel(JOB_COLUMNS, key=lambda r: r.job_id)
    view = table(model, stretch=0)
    view.resize(900, 300)
    view.show()
    header = view.horizontalHeader()
    client = [c.title for c in JOB_COLUMNS].index("Client")
    empty_width = header.sectionSize(client)
    # the first event of a job: no client yet; the job list fills it a moment later
    model.upsert(JobRow(job_id="j1", state="queued"))
    model.upsert(dataclasses.replace(model.get("j1"), client="photoshop-anna-studio-3",  # type: ignore[arg-type]
                                     seed=4_294_967_295))
    await until(lambda: header.sectionSize(client) > empty_width)
    assert header.sectionSize(client) >= view.sizeHintForColumn(client)

    error = "the model ran out of memory while decoding the image; lower the size " * 4
    model.upsert(JobRow(job_id="j2", state="failed", error=error, client="figma"))
    state = [c.title for c in JOB_COLUMNS].index("State")
    await until(lambda: header.sectionSize(state) > 60)
    assert header.sectionSize(state) <= MAX_COLUMN
    assert sum(header.sectionSize(c) for c in range(1, len(JOB_COLUMNS))) < view.width()
    index = model.index(model.row_of("j2") or 0, state)
    assert index.data(Qt.ItemDataRole.ToolTipRole) == error
    assert view.textElideMode() == Qt.TextElideMode.ElideRight
    view.close()

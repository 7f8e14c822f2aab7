"""Training a LoRA from the tray, on real widgets against a real daemon and the tiny demo model:
a folder read, a few steps with the loss curve and samples, the LoRA in the LoRA list with its
trigger word; a long run stopped, followed from a second window, resumed with the same seed."""

from __future__ import annotations

from pathlib import Path

from layerbridge.desktop.catalog import CatalogController
from layerbridge.desktop.connection import DaemonConnection
from layerbridge.desktop.tab_adapters import AdaptersTab
from layerbridge.desktop.tab_train import TrainTab
from layerbridge.desktop.training import TrainController

from tests.desktop.conftest import until
from tests.desktop.test_tab_train import images, read


async def test_a_tiny_lora_trained_through_the_tab_lands_in_the_lora_list(
        qtbot, shared_connection: DaemonConnection, shared_daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    catalog = CatalogController(shared_connection)
    await catalog.refresh()
    training = TrainController(shared_connection, catalog)
    tab = TrainTab(training)
    loras = AdaptersTab(catalog)
    for owned in (catalog, training):
        owned.setParent(tab)  # deleted with the tab, never by the collector in a later test
    qtbot.addWidget(loras)
    qtbot.addWidget(tab)
    assert tab.model.currentData() == "demo"
    folder = images(tmp_path / "red set", 2)
    (folder / "shot-1.txt").write_text("a striped {trigger} poster")
    await read(tab, folder)
    assert tab.name.text() == "red-set"
    tab.name.setText("brand-red")
    tab.trigger.setText("lbbrand")
    tab.steps.setValue(4)
    tab.rank.setValue(4)
    tab.resolution.setValue(64)
    tab.sample_every.setValue(2)
    tab.start.click()
    await until(lambda: training.run is not None and not training.run.active, timeout=240)
    run = training.run
    assert run is not None and run.state == "done", run
    assert [step for step, _ in run.losses] == [1, 2, 3, 4]  # every step's loss reached the curve
    assert tab.chart.points == list(run.losses) and tab.chart.steps == 4
    assert tab.progress.value() == tab.progress.maximum() == 4
    await until(lambda: catalog.adapters.get("brand-red") is not None)
    lora = catalog.adapters.get("brand-red")
    assert lora is not None and lora.kind == "lora" and lora.trigger_words == ["lbbrand"]
    assert loras.view.model().rowCount() >= 1
    await until(lambda: "brand-red" in catalog.thumbnails)  # the last sample: the LoRA's preview
    assert tab.sample.pixmap() is not None and not tab.sample.pixmap().isNull()
    await until(lambda: tab.status.text() == "trained brand-red: it is in the LoRA list now")

    # the same images again: nothing uploaded; a long run stopped, followed by a second window
    # of the tray, resumed
    tab.name.setText("brand-long")
    tab.steps.setValue(5000)
    tab.sample_every.setValue(0)
    tab.start.click()
    await until(lambda: "0 of 2 images uploaded" in tab.status.text())
    await until(lambda: training.run is not None and training.run.step >= 1, timeout=120)
    first = training.run
    assert first is not None and first.job_id != run.job_id and tab.stop.isEnabled()
    other = DaemonConnection(poll_ms=200, parent=tab)
    watcher = TrainController(other, CatalogController(other, parent=tab), parent=tab)
    other.open(shared_daemon.url, shared_daemon.token("t-second-tray"))
    await until(lambda: watcher.run is not None and watcher.run.job_id == first.job_id)
    await until(lambda: watcher.run is not None and watcher.run.state == "running"
                and bool(watcher.run.losses))
    tab.stop_training(confirmed=True)
    await until(lambda: training.run is not None and training.run.state == "cancelled", timeout=60)
    assert tab.progress_label.text().startswith("brand-long: stopped at step ")
    assert tab.resume.isEnabled() and tab.start.isEnabled() and not tab.stop.isEnabled()
    await until(lambda: watcher.run is not None and watcher.run.state == "cancelled")
    tab.resume.click()
    await until(lambda: training.run is not None and training.run.job_id != first.job_id
                and training.run.step >= 1, timeout=120)
    again = training.run
    assert again is not None and again.params.seed == first.seed  # the same draws again
    assert again.params.train == first.params.train
    assert tab.status.text() == "training brand-long again from step 0, same seed"
    tab.stop_training(confirmed=True)
    await until(lambda: training.run is not None and training.run.state == "cancelled", timeout=60)
    assert catalog.adapters.get("brand-long") is None  # a stopped job registers nothing
    await other.close()

"""The Train tab on real widgets: a folder read with each image's caption, the bad inputs refused
in one line naming the form's field, the loss curve, the tab in the window. (Training through it
against a real daemon: test_story_train.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from layerbridge.daemon.protocol.messages import JobParams
from layerbridge.daemon.protocol.training import TrainSpec
from layerbridge.desktop.catalog import CatalogController
from layerbridge.desktop.connection import DaemonConnection
from layerbridge.desktop.losschart import LossChart, smoothed
from layerbridge.desktop.tab_train import TrainTab, progress_text, suggested_name
from layerbridge.desktop.training import TrainController, TrainRun, final_caption
from PIL import Image

from tests.desktop.conftest import until


def images(folder: Path, n: int = 3) -> Path:
    folder.mkdir(exist_ok=True)
    for i in range(n):
        image = Image.new("RGB", (64, 64), (200, 40, 30))
        image.paste((20, 20, 20), (0, 8 + 10 * i, 64, 14 + 10 * i))
        image.save(folder / f"shot-{i}.png")
    return folder


def offline_tab(qtbot) -> TrainTab:  # type: ignore[no-untyped-def]
    connection = DaemonConnection()  # never opened: reading a folder needs no daemon
    catalog = CatalogController(connection)
    training = TrainController(connection, catalog)
    tab = TrainTab(training)
    for owned in (connection, catalog, training):
        owned.setParent(tab)  # deleted with the tab, never by the collector in a later test
    qtbot.addWidget(tab)
    return tab


async def read(tab: TrainTab, folder: Path) -> str:
    """Point the tab at `folder` and wait for its verdict on the status line."""
    tab.folder.setText(str(folder))
    tab.read_folder()
    await until(lambda: not tab.status.text().startswith("reading"))
    return tab.status.text()


def is_error(tab: TrainTab) -> bool:
    return "#c62828" in tab.status.styleSheet()


async def test_a_folder_shows_each_image_with_the_caption_it_trains_with(qtbot, tmp_path: Path  # type: ignore[no-untyped-def]
                                                                         ) -> None:
    tab = offline_tab(qtbot)
    folder = images(tmp_path / "Brand Shots")
    Image.new("RGB", (80, 40), (30, 160, 60)).save(folder / "green.jpg")
    (folder / "green.txt").write_text("a green {trigger} tile\n")
    (folder / "shot-1.txt").write_text("a striped poster")
    tab.trigger.setText("lbbrand")
    assert await read(tab, folder) == "4 images, 2 with a caption file (.txt)"
    assert not is_error(tab) and tab.name.text() == "brand-shots"
    rows = [tab.list.item(i).text() for i in range(tab.list.count())]
    assert rows == ["green.jpg\na green lbbrand tile", "shot-0.png\nlbbrand",
                    "shot-1.png\nlbbrand, a striped poster", "shot-2.png\nlbbrand"]
    assert not tab.list.item(0).icon().isNull()
    assert tab.list.item(0).toolTip() == "caption from green.txt"
    tab.template.setText("{trigger} product photo")  # the template captions the others, live
    assert tab.list.item(1).text() == "shot-0.png\nlbbrand product photo"
    assert tab.list.item(2).text() == "shot-1.png\nlbbrand, a striped poster"


@pytest.mark.parametrize("case", ["missing", "empty", "corrupt", "not-an-image", "orphan caption"])
async def test_a_bad_folder_is_refused_in_one_line_naming_the_file(qtbot, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                                   case: str) -> None:
    tab = offline_tab(qtbot)
    folder = images(tmp_path / "set")
    if case == "missing":
        folder, named = tmp_path / "nowhere", "Folder: images="
    elif case == "empty":
        folder = tmp_path / "empty"
        folder.mkdir()
        (folder / "notes.txt").write_text("a red square")
        named = "no images in it"
    elif case == "corrupt":
        Image.new("RGB", (64, 64), (1, 2, 3)).save(folder / "photo.jpg", quality=95)
        jpeg = (folder / "photo.jpg").read_bytes()
        (folder / "photo.jpg").write_bytes(jpeg[: len(jpeg) // 2])
        named = "photo.jpg"
    elif case == "not-an-image":
        (folder / "fake.webp").write_bytes(b"not an image at all")
        named = "fake.webp"
    else:
        (folder / "shot-9.txt").write_text("left over")
        named = "shot-9.txt"
    line = await read(tab, folder)
    assert is_error(tab) and "\n" not in line and named in line, line
    if case in ("corrupt", "not-an-image"):
        assert line.startswith("Folder: images=") and "cannot read it as an image" in line
    if case == "orphan caption":
        assert line.startswith("Captions: caption-ext=") and "matches no image" in line
    tab.start_training()  # nothing read: nothing to train on, said by the folder's name
    assert is_error(tab) and tab.status.text() == "Folder: choose a folder of images first"


@pytest.mark.parametrize(("field", "value", "named"), [
    ("trigger", "red, blue", "Trigger word: trigger='red, blue'"),
    ("trigger", "", "Trigger word: trigger="),
    ("name", "no spaces", "Name: name='no spaces'"),
    ("resolution", 100, "Resolution: resolution=100: must be a multiple of 8"),
])
async def test_bad_settings_are_refused_by_the_forms_field(qtbot, tmp_path: Path, field: str,  # type: ignore[no-untyped-def]
                                                          value: object, named: str) -> None:
    tab = offline_tab(qtbot)
    await read(tab, images(tmp_path / "set"))
    tab.trigger.setText("lbbrand")
    if field == "resolution":
        tab.resolution.setValue(int(value))  # type: ignore[call-overload]
    else:
        getattr(tab, field).setText(value)
    tab.start_training()
    assert is_error(tab) and tab.status.text().startswith(named), tab.status.text()


async def test_a_caption_too_long_names_its_image_and_no_model_is_named(qtbot, tmp_path: Path  # type: ignore[no-untyped-def]
                                                                         ) -> None:
    tab = offline_tab(qtbot)
    folder = images(tmp_path / "set")
    (folder / "shot-2.txt").write_text("x" * 1001)
    await read(tab, folder)
    tab.trigger.setText("lbbrand")
    tab.start_training()
    assert tab.status.text().startswith("Caption of shot-2.png: ")
    (folder / "shot-2.txt").write_text("fine")
    tab.caption_ext.setText("txt")  # another key: read again
    await read(tab, folder)
    tab.start_training()  # no catalogue: no checkpoint to train on
    await until(lambda: is_error(tab))
    assert tab.status.text() == "Base model: there is no checkpoint to train on"


def test_captions_get_the_trigger_word_as_the_daemon_puts_it() -> None:
    assert final_caption("{trigger} on a table", "lbb") == "lbb on a table"
    assert final_caption("a lbb mascot", "lbb") == "a lbb mascot"
    assert final_caption("a mascot", "lbb") == "lbb, a mascot"
    assert final_caption("", "lbb") == "lbb"
    spec = TrainSpec(name="x", trigger="lbb", images=["a" * 64], captions=["a mascot"])
    assert final_caption("a mascot", "lbb") == spec.caption_of(0)  # one rule, the protocol's


def test_progress_reads_as_a_sentence_and_names_suggest_an_id() -> None:
    params = JobParams(kind="train", model="demo",
                       train=TrainSpec(name="brand", trigger="lbb", images=["a" * 64], steps=10))
    run = TrainRun("j", params, state="running", step=4, steps=10, loss=0.12345, eta_s=75)
    assert progress_text(run) == "brand: step 4 of 10 · loss 0.1235 · 1:15 left"
    assert progress_text(TrainRun("j", params, state="cancelled", step=4, steps=10)) == (
        "brand: stopped at step 4 of 10")
    making = TrainRun("j", params, state="running", step=2, steps=8, phase="class_images")
    assert progress_text(making) == "brand: making class images, 2 of 8"
    assert suggested_name("  Brand Shots (2024) ") == "brand-shots-2024"


def test_the_loss_curve_draws_the_losses_and_their_average(qtbot) -> None:  # type: ignore[no-untyped-def]
    assert smoothed([1.0]) == [1.0]  # debiased: the first point is itself, not 0.1
    average = smoothed([1.0, 0.0, 0.0, 0.0])
    assert average[0] > average[1] > average[2] > average[3] > 0
    chart = LossChart()
    qtbot.addWidget(chart)
    chart.resize(400, 200)
    points = [(s, 1.0 / s) for s in range(1, 21)]
    chart.set_points(points, 40)
    left, right = chart.to_pixel(1, 1.0), chart.to_pixel(20, 0.05)
    assert left.y() < right.y()  # the highest loss at the top
    assert right.x() == pytest.approx(chart.plot_rect().center().x(), abs=1)  # step 20 of 40
    shot = chart.grab().toImage()
    blue = [shot.pixelColor(x, y) for x in range(shot.width()) for y in range(shot.height())]
    assert any(c.blue() > 200 and c.red() < 120 for c in blue)  # the line was drawn
    chart.clear()
    cleared = chart.grab().toImage()
    assert not any(cleared.pixelColor(x, y).blue() > 200 and cleared.pixelColor(x, y).red() < 120
                   for x in range(0, cleared.width(), 2) for y in range(0, cleared.height(), 2))


async def test_the_manager_window_has_a_train_tab_beside_the_lora_list(qtbot) -> None:  # type: ignore[no-untyped-def]
    from layerbridge.desktop.config import TrayConfig
    from layerbridge.desktop.core import TrayCore
    from layerbridge.desktop.manager import ManagerWindow

    core = TrayCore(TrayConfig(mode="remote", welcomed=True))  # nothing started
    window = ManagerWindow(core)
    qtbot.addWidget(window)
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles.index("Train") == titles.index("LoRAs && embeddings") + 1
    assert window.train.training is core.training and core.training.catalog is core.catalog
    await core.shutdown()


async def test_a_name_already_registered_is_refused_before_anything_is_sent(  # type: ignore[no-untyped-def]
        qtbot, tmp_path: Path) -> None:
    from layerbridge.daemon.protocol.messages import ModelInfo

    tab = offline_tab(qtbot)
    tab.catalog.apply([ModelInfo(id="demo", name="Demo", arch="sd15", default=True),
                       ModelInfo(id="demo-inpaint", name="Demo inpaint", arch="sd15-inpaint"),
                       ModelInfo(id="brand", name="brand", arch="sd15", kind="lora")])
    assert [tab.model.itemData(i) for i in range(tab.model.count())] == ["demo"]  # no inpaint base
    await read(tab, images(tmp_path / "set"))
    tab.trigger.setText("lbbrand")
    tab.name.setText("brand")
    tab.start_training()
    await until(lambda: is_error(tab))
    assert tab.status.text() == ("Name: name='brand': a model with this id is registered already: "
                                 "choose another name or remove that one")

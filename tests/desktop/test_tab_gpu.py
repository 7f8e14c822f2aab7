"""The GPU tab's checks before saving."""

from __future__ import annotations


def test_a_memory_budget_has_real_bounds() -> None:
    from layerbridge.desktop.tab_gpu import budget_problem

    assert budget_problem(0, 8 << 30) is None  # automatic
    assert "at least 256 MiB" in (budget_problem(100, 8 << 30) or "")
    assert "more than the device's 8192 MiB" in (budget_problem(999_999, 8 << 30) or "")
    assert budget_problem(4096, 8 << 30) is None
    assert budget_problem(999_999, 0) is None  # device not known yet: the daemon checks


def test_each_gpu_of_several_can_be_chosen_by_its_index(qtbot) -> None:  # type: ignore[no-untyped-def]
    from layerbridge.daemon.protocol.messages import SettingsInfo
    from layerbridge.desktop.connection import DaemonConnection
    from layerbridge.desktop.gpu import GpuController, GpuView
    from layerbridge.desktop.tab_gpu import GpuTab

    tab = GpuTab(GpuController(DaemonConnection()))  # not connected: the tab shows what it is given
    qtbot.addWidget(tab)
    choices = lambda: [tab.device_choice.itemData(i) for i in range(tab.device_choice.count())]  # noqa: E731
    tab.show_view(GpuView(gpu_count=1))
    assert "cuda:0" not in choices()  # one GPU: "cuda" already names it
    tab.show_view(GpuView(gpu_count=3))
    assert [c for c in choices() if str(c).startswith("cuda:")] == ["cuda:0", "cuda:1", "cuda:2"]
    tab.show_settings(SettingsInfo(device="cuda:5"), False)  # saved on another boot with more GPUs
    assert tab.device_choice.currentData() == "cuda:5"


async def test_each_loaded_model_has_its_own_unload_that_keeps_the_others(
        shared_connection, qtbot) -> None:  # type: ignore[no-untyped-def]
    import hashlib
    import io

    from layerbridge.daemon.protocol.messages import ControlSpec, JobParams
    from layerbridge.desktop.gpu import GpuController
    from layerbridge.desktop.tab_gpu import GpuTab
    from PIL import Image

    from tests.desktop.conftest import until

    gpu = GpuController(shared_connection)
    tab = GpuTab(gpu)
    qtbot.addWidget(tab)
    edges = io.BytesIO()
    Image.new("RGB", (64, 64), (250, 250, 250)).save(edges, format="PNG")
    await shared_connection.upload(edges.getvalue())
    sha = hashlib.sha256(edges.getvalue()).hexdigest()
    await shared_connection.run(JobParams(kind="generate", model="demo", steps=1, width=64,
                                          height=64, control=[ControlSpec(type="canny", image=sha)]))
    await shared_connection.refresh_status()
    await until(lambda: set(tab.rows) == {"demo", "demo-cn-canny"})
    tab.rows["demo-cn-canny"].button.click()
    await until(lambda: list(tab.rows) == ["demo"])
    assert tab.status.text() == "unloaded demo-cn-canny"
    assert gpu.view.loaded == ("demo",)
    # a model gone by the time its row is pressed: named, and the list shows what is loaded now
    tab.unload_one("demo-cn-canny")
    await until(lambda: "is not loaded" in tab.status.text())
    assert "model_id='demo-cn-canny'" in tab.status.text() and list(tab.rows) == ["demo"]
    tab.rows["demo"].button.click()
    await until(lambda: not tab.rows)
    assert tab.loaded.item(0).text() == "(nothing loaded)" and not tab.unload.isEnabled()

"""The Clients, Jobs, GPU and Settings tabs' models against a real daemon."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from layerbridge.daemon.client import DaemonClient, RemoteError
from layerbridge.daemon.config import load_settings
from layerbridge.daemon.protocol.messages import JobParams
from layerbridge.desktop.clients import ClientsController
from layerbridge.desktop.config import TrayConfig
from layerbridge.desktop.connection import DaemonConnection, LinkState
from layerbridge.desktop.gpu import GpuController
from layerbridge.desktop.jobs import JobsController
from layerbridge.desktop.settings_ctl import LanNotConfirmed, SettingsController
from PIL import Image

from tests.desktop.conftest import Recorder, SharedDaemon, until


async def test_pair_shows_a_working_token_once_and_revoke_removes_it(
        shared_connection: DaemonConnection, shared_daemon: SharedDaemon) -> None:
    clients = ClientsController(shared_connection)
    await clients.refresh()
    token = await clients.pair("photoshop-anna")
    assert token.startswith("lb_")
    row = clients.table.row_of("photoshop-anna")
    assert row is not None
    assert [clients.table.index(row, c).data() for c in (0, 1, 4)] == [
        "photoshop-anna", "client", "never"]
    async with await DaemonClient.connect(shared_daemon.url, token, name="ps") as ps:
        assert ps.welcome.scope == "client"
    await clients.refresh()
    assert clients.table.index(row, 4).data() == "just now"
    removed = Recorder(clients.table.rowsRemoved)
    await clients.revoke("photoshop-anna")
    assert clients.table.row_of("photoshop-anna") is None and len(removed.calls) == 1
    with pytest.raises(RemoteError):
        await DaemonClient.connect(shared_daemon.url, token)


async def test_the_token_is_returned_even_when_the_list_refresh_after_pairing_fails(
        shared_connection: DaemonConnection, shared_daemon: SharedDaemon,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The daemon keeps only a hash: a token not shown now is lost for good.
    clients = ClientsController(shared_connection)

    async def refresh_fails() -> None:
        raise ConnectionError("connection dropped")

    monkeypatch.setattr(clients, "refresh", refresh_fails)
    token = await clients.pair("figma-ben")
    async with await DaemonClient.connect(shared_daemon.url, token, name="figma") as figma:
        assert figma.welcome.scope == "client"


async def test_a_job_goes_through_with_progress_and_a_thumbnail(
        shared_connection: DaemonConnection, shared_daemon: SharedDaemon, tmp_path: Path) -> None:
    jobs = JobsController(shared_connection, tmp_path / "results")
    progress = Recorder(jobs.progressed)
    finished = Recorder(jobs.jobFinished)
    # another client (a plugin) submits: the tray sees it through watch
    async with await DaemonClient.connect(shared_daemon.url, shared_daemon.token("plugin"),
                                          name="figma", kind="figma") as plugin:
        job = await plugin.submit(JobParams(kind="generate", model="demo", prompt="a red kite",
                                            steps=4, width=64, height=64, seed=7))
        await job.wait()
    await until(lambda: (r := jobs.table.get(job.job_id)) is not None and r.state == "done"
                and r.client != "")
    row = jobs.table.get(job.job_id)
    assert row is not None
    assert (row.prompt, row.model, row.seed, row.kind) == ("a red kite", "demo", 7, "generate")
    assert [c[1:] for c in progress.calls if c[0] == job.job_id][-1] == (4, 4)
    assert finished.calls.count((job.job_id, "done")) == 1
    assert row.duration.endswith(" s") and len(row.results) == 1
    await until(lambda: job.job_id in jobs.thumbnails)
    index = jobs.table.index(jobs.table.row_of(job.job_id) or 0, 0)
    assert index.data(1) is not None  # decoration: the thumbnail

    new_id = await jobs.rerun(job.job_id)
    await until(lambda: (r := jobs.table.get(new_id)) is not None and r.state == "done")
    again = jobs.table.get(new_id)
    assert again is not None and again.seed == 7 and again.prompt == "a red kite"
    folder = await jobs.save_results(job.job_id)
    assert [p.suffix for p in folder.iterdir()] == [".png"]


async def test_a_plugins_raw_rgba8_result_gets_a_thumbnail_and_saves_as_a_png(
        shared_connection: DaemonConnection, shared_daemon: SharedDaemon, tmp_path: Path) -> None:
    jobs = JobsController(shared_connection, tmp_path / "results")
    async with await DaemonClient.connect(shared_daemon.url, shared_daemon.token("plugin"),
                                          name="photoshop", kind="photoshop") as plugin:
        job = await plugin.submit(JobParams(kind="generate", model="demo", steps=2, width=64,
                                            height=64, seed=5, result_format="rgba8"))
        await job.wait()
    [(info, raw)] = job.results
    assert info.format == "rgba8"
    await until(lambda: job.job_id in jobs.thumbnails)
    folder = await jobs.save_results(job.job_id)
    [saved] = folder.iterdir()
    with Image.open(saved) as image:
        assert image.format == "PNG" and image.convert("RGBA").tobytes() == raw


async def test_cancel_a_queued_job_and_see_a_failure(shared_connection: DaemonConnection,
                                                     tmp_path: Path) -> None:
    jobs = JobsController(shared_connection, tmp_path)
    failures = Recorder(jobs.jobFailed)
    first = await shared_connection.submit(JobParams(kind="generate", model="demo", steps=30,
                                                     width=256, height=256))
    second = await shared_connection.submit(JobParams(kind="generate", model="demo", steps=2,
                                                      width=64, height=64))
    await jobs.cancel(second)
    await jobs.cancel(first)
    await until(lambda: all((r := jobs.table.get(j)) is not None and r.state == "cancelled"
                            for j in (first, second)))
    await jobs.refresh()  # the job list carries every job's parameters, results or not
    again = await jobs.rerun(second)
    await until(lambda: (r := jobs.table.get(again)) is not None and r.state == "done")
    bad = await shared_connection.submit(JobParams(kind="generate", model="demo", steps=2,
                                                   width=64, height=64,
                                                   loras=[{"id": "demo", "weight": 1.0}]))  # type: ignore[list-item]
    await until(lambda: (r := jobs.table.get(bad)) is not None and r.state == "failed")
    assert failures.calls and failures.calls[0][0] == bad


async def test_gpu_view_follows_status_and_unload_all(shared_connection: DaemonConnection
                                                      ) -> None:
    gpu = GpuController(shared_connection)
    await shared_connection.run(JobParams(kind="generate", model="demo", steps=1, width=64,
                                          height=64))
    await shared_connection.refresh_status()
    await until(lambda: "demo" in gpu.view.loaded)
    assert gpu.view.device and gpu.view.kind == "cpu"
    views = Recorder(gpu.changed)
    await asyncio.sleep(0.5)  # several polls of an unchanged status
    assert views.calls == []
    await gpu.unload_all()
    assert gpu.view.loaded == ()
    assert len(views.calls) == 1
    settings = await gpu.load_settings()
    assert settings.dtype == "auto"
    assert await gpu.save_engine(dtype="fp32", memory_budget_mb=2048)
    assert gpu.restart_required and gpu.settings is not None
    assert gpu.settings.memory_budget_mb == 2048
    await gpu.save_engine(dtype="auto", memory_budget_mb=None)


async def test_settings_lan_mode_needs_confirmation_and_origins(
        shared_connection: DaemonConnection, shared_daemon: SharedDaemon, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAYERBRIDGE_TRAY_CONFIG", str(tmp_path / "tray.json"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    ctl = SettingsController(shared_connection, TrayConfig())
    info = await ctl.load()
    assert info.host == "127.0.0.1" and info.data_dir == str(shared_daemon.paths.root)
    with pytest.raises(LanNotConfirmed):
        await ctl.save(host="0.0.0.0", port=7900, allowed_origins=["https://www.figma.com"])
    assert await ctl.save(host="0.0.0.0", port=7900, allowed_origins=["https://www.figma.com", ""],
                          allowed_hosts=["gpu.studio.lan"], confirm_lan=True)
    saved = load_settings(shared_daemon.paths).server
    assert (saved.host, saved.port, saved.allowed_origins) == (
        "0.0.0.0", 7900, ["https://www.figma.com"])
    await ctl.save(host="127.0.0.1", port=0, allowed_origins=[], allowed_hosts=[])
    ctl.set_autostart(True)
    entry = tmp_path / "xdg" / "autostart" / "layerbridge-tray.desktop"
    assert "layerbridge.daemon.cli tray" in entry.read_text()
    assert '"autostart": true' in (tmp_path / "tray.json").read_text()
    ctl.set_autostart(False)
    assert not entry.exists()


async def test_a_connection_to_a_stopped_daemon_keeps_retrying(tmp_path: Path) -> None:
    conn = DaemonConnection(retry_s=(0.05, 0.1))
    states = Recorder(conn.stateChanged)
    conn.open("ws://127.0.0.1:9", "lb_nope")
    await asyncio.sleep(0.5)
    assert not conn.is_connected and "connecting" in [c[0] for c in states.calls]
    assert "cannot reach" in conn.last_error
    await conn.close()
    assert conn.state is LinkState.DISCONNECTED and states.calls[-1] == ("disconnected",)


async def test_the_gpu_and_settings_tabs_saves_keep_each_others_fields(
        shared_connection: DaemonConnection, shared_daemon: SharedDaemon) -> None:
    # Both tabs save the one settings record: neither may put back what the other just changed.
    gpu = GpuController(shared_connection)
    network = SettingsController(shared_connection, TrayConfig())
    before = await network.load()  # the Settings tab shows what the daemon has
    try:
        await gpu.save_engine(dtype="fp32", memory_budget_mb=2048)
        await network.save(host="0.0.0.0", port=7901, allowed_origins=[],
                           allowed_hosts=["gpu.studio.lan"], confirm_lan=True)
        saved = load_settings(shared_daemon.paths)
        assert (saved.engine.dtype, saved.engine.memory_budget_mb) == ("fp32", 2048)
        # on a daemon already in LAN mode, saving precision keeps the host it was confirmed for
        await gpu.save_engine(dtype="fp16", memory_budget_mb=None)
        saved = load_settings(shared_daemon.paths)
        assert (saved.server.host, saved.server.port, saved.engine.dtype) == ("0.0.0.0", 7901, "fp16")
    finally:
        await network.save(host=before.host, port=before.port,
                           allowed_origins=before.allowed_origins, allowed_hosts=before.allowed_hosts)
        await gpu.save_engine(dtype=before.dtype, memory_budget_mb=before.memory_budget_mb)

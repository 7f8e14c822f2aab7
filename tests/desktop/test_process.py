"""The local daemon as a child process: start, stop, crash and restart with backoff."""

from __future__ import annotations

import os
import signal

from layerbridge.daemon.config import Paths
from layerbridge.desktop.connection import DaemonConnection
from layerbridge.desktop.process import Backoff, DaemonProcess, ProcessState

from tests.desktop.conftest import FAST, Recorder, admin_token, until, wait_for


async def test_start_prints_the_url_and_stop_stops_it(paths: Paths) -> None:
    process = DaemonProcess(paths.root, port=0, backoff=FAST)
    states = Recorder(process.stateChanged)
    process.start()
    (url,) = await wait_for(process.ready, timeout=60)
    assert url.startswith("ws://127.0.0.1:") and process.state is ProcessState.RUNNING
    process.stop()
    await until(lambda: process.state is ProcessState.STOPPED)
    assert [c[0] for c in states.calls] == ["starting", "running", "stopping", "stopped"]
    assert any("Layerbridge listening on" in line for line in process.log)
    assert process.log_file.read_text().count("listening on") == 1


async def test_a_crashed_daemon_is_restarted_and_the_connection_comes_back(
        local_daemon: DaemonProcess, connection: DaemonConnection, paths: Paths) -> None:
    restarts = Recorder(local_daemon.restartScheduled)
    pid = local_daemon.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    await wait_for(connection.disconnected, timeout=10)
    (url,) = await wait_for(local_daemon.ready, timeout=60)
    assert restarts.calls == [(1, FAST.first_s)]
    assert local_daemon.pid() not in (None, pid)
    connection.open(url, admin_token(paths, "tray-test-2"))  # port 0: the URL changed
    await wait_for(connection.connected, timeout=20)
    assert connection.is_connected


async def test_it_gives_up_after_too_many_crashes(paths: Paths) -> None:
    # a studio certificate that is not there: serve exits at once (a bad value elsewhere in the
    # settings would only take its default)
    (paths.root / "settings.json").write_text('{"server": {"tls_cert": "/nonexistent/studio.pem"}}')
    process = DaemonProcess(paths.root, port=0, backoff=Backoff(first_s=0.05, max_crashes=3))
    failed = Recorder(process.crashed)
    process.start()
    await until(lambda: process.state is ProcessState.FAILED, timeout=60)
    assert len(failed.calls) == 3 and failed.calls[0][0] != 0
    assert "tls_cert" in process.log_file.read_text()
    process.stop()
    assert process.state is ProcessState.STOPPED


def test_backoff_doubles_up_to_its_cap() -> None:
    b = Backoff(first_s=1, max_s=5)
    assert [b.delay(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 5, 5]


async def test_stop_during_a_restart_keeps_the_daemon_stopped(paths: Paths) -> None:
    process = DaemonProcess(paths.root, port=0, backoff=FAST)
    states = Recorder(process.stateChanged)
    process.start()
    await wait_for(process.ready, timeout=60)
    process.restart()  # stopping, then it would start again...
    process.stop()  # ...but the user stopped it meanwhile
    try:
        await until(lambda: ("stopped",) in states.calls, timeout=30)
        assert process.state is ProcessState.STOPPED
        assert states.calls[-1] == ("stopped",)
    finally:
        process.stop(force=True)
        process.wait_stopped()

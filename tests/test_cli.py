"""The CLI end to end, as a user runs it: a daemon subprocess, pair, generate, refine, kill -9."""

from __future__ import annotations

import hashlib
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

LB = [sys.executable, "-m", "layerbridge.daemon.cli"]


def size_of(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


def lb(data: Path, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*LB, "--data-dir", str(data), *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}): {proc.stderr}")
    return proc


class Daemon:
    def __init__(self, data: Path, *, max_files: int | None = None) -> None:
        self.data = data
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.max_files = max_files  # RLIMIT_NOFILE of the daemon's process, as `ulimit -n` sets

    def _limits(self) -> None:
        if self.max_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.max_files, self.max_files))

    def start(self) -> Daemon:
        self.proc = subprocess.Popen([*LB, "--data-dir", str(self.data), "serve", "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     preexec_fn=self._limits)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if match := re.match(r"Layerbridge listening on (ws://\S+)", line):
                self.url = match.group(1)
                return self
            if not line and self.proc.poll() is not None:
                break
        raise AssertionError("daemon did not start")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(30)
        if self.proc.stdout:
            self.proc.stdout.close()
        return code


@pytest.fixture
def data(tmp_path: Path, demo_models: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(demo_models, root)
    return root


@pytest.fixture
def daemon(data: Path) -> Iterator[Daemon]:
    d = Daemon(data).start()
    yield d
    if d.proc and d.proc.poll() is None:
        d.stop()


def client(daemon: Daemon, token: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return lb(daemon.data, "client", "--url", daemon.url, "--token", token, *args, check=check)


def test_pair_generate_refine_as_a_user_would(daemon: Daemon, tmp_path: Path) -> None:
    token = lb(daemon.data, "pair", "--name", "script").stdout.strip().splitlines()[-1]
    assert token.startswith("lb_")
    common = ["--model", "demo", "--prompt", "a lighthouse", "--steps", "3"]
    outs = {}
    for name, seed in (("a", "11"), ("b", "11"), ("c", "12")):
        out = tmp_path / f"{name}.png"
        client(daemon, token, "generate", *common, "--size", "96x64", "--seed", seed, "--out", str(out))
        outs[name] = out.read_bytes()
        assert size_of(out) == (96, 64)
    assert outs["a"] == outs["b"] != outs["c"]

    refined = tmp_path / "r.png"
    client(daemon, token, "refine", *common, "--image", str(tmp_path / "a.png"), "--strength", "0.5",
           "--seed", "3", "--batch", "2", "--out", str(refined))
    for i in (0, 1):
        assert size_of(tmp_path / f"r-{i}.png") == (96, 64)
    assert (tmp_path / "r-0.png").read_bytes() != (tmp_path / "r-1.png").read_bytes()


def test_client_failures_exit_non_zero_with_one_line(daemon: Daemon, tmp_path: Path) -> None:
    out = str(tmp_path / "x.png")
    refused = client(daemon, "lb_wrong", "status", check=False)
    unknown = client(daemon, lb(daemon.data, "pair", "--name", "u").stdout.split()[-1],
                     "generate", "--model", "nope", "--size", "64x64", "--out", out, check=False)
    down = lb(daemon.data, "client", "--url", "ws://127.0.0.1:9", "--token", "x", "status", check=False)
    for proc, code in ((refused, "unauthorized"), (unknown, "unknown_model"), (down, "not_running")):
        assert proc.returncode == 1
        lines = proc.stderr.strip().splitlines()
        assert lines[-1].startswith(f"layerbridge: {code}:"), proc.stderr
        assert "Traceback" not in proc.stderr


def test_revoked_client_is_refused_at_once(daemon: Daemon) -> None:
    token = lb(daemon.data, "pair", "--name", "temp").stdout.split()[-1]
    assert client(daemon, token, "status").returncode == 0
    lb(daemon.data, "pair", "--revoke", "temp")
    assert "temp" not in lb(daemon.data, "pair", "--list").stdout
    assert client(daemon, token, "status", check=False).returncode == 1


def test_client_status_does_not_import_torch(daemon: Daemon) -> None:
    token = lb(daemon.data, "pair", "--name", "light").stdout.split()[-1]
    probe = (
        "import sys; from layerbridge.daemon.cli import main; "
        f"rc = main(['--data-dir', {str(daemon.data)!r}, 'client', '--url', {daemon.url!r}, "
        f"'--token', {token!r}, 'status']); "
        "heavy = [m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules]; "
        "print('HEAVY', heavy); sys.exit(rc)"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stdout


def test_kill_9_with_jobs_queued_loses_none(daemon: Daemon, tmp_path: Path) -> None:
    token = lb(daemon.data, "pair", "--name", "k").stdout.split()[-1]
    ids = [f"crash-{i}" for i in range(3)]
    procs = [subprocess.Popen([*LB, "--data-dir", str(daemon.data), "client", "--url", daemon.url,
                               "--token", token, "generate", "--model", "demo", "--size", "64x64",
                               "--steps", "30", "--seed", str(i), "--job-id", job_id,
                               "--out", str(tmp_path / f"{job_id}.png")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for i, job_id in enumerate(ids)]
    ledger = daemon.data / "ledger.sqlite3"

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill while all three are accepted and one is running
        with sqlite3.connect(ledger) as db:
            states = [s for (s,) in db.execute("SELECT state FROM jobs")]
        if len(states) == 3 and "running" in states:
            break
        time.sleep(0.05)
    daemon.stop(signal.SIGKILL)
    for p in procs:
        p.wait(30)
    with sqlite3.connect(ledger) as db:
        states = dict(db.execute("SELECT job_id, state FROM jobs").fetchall())
    assert set(states) == set(ids)  # all three were accepted before the kill

    daemon.start()
    for job_id in ids:
        out = tmp_path / f"after-{job_id}.png"
        client(daemon, token, "fetch", job_id, "--out", str(out))
        assert size_of(out) == (64, 64)
    with sqlite3.connect(ledger) as db:
        rows = db.execute("SELECT job_id, state FROM jobs ORDER BY seq").fetchall()
    assert sorted(rows) == [(job_id, "done") for job_id in ids]


def test_protocol_schema_is_printed_as_json() -> None:
    proc = subprocess.run([*LB, "protocol", "schema"], capture_output=True, text=True, timeout=60)
    schema = json.loads(proc.stdout)
    assert "ClientMessage" in schema["$defs"] and "ServerMessage" in schema["$defs"]
    assert hashlib.sha256(proc.stdout.encode()).hexdigest() == hashlib.sha256(
        (Path(__file__).parents[1] / "plugins/common/protocol.schema.json").read_bytes()).hexdigest()


def test_inpaint_and_expand_write_the_composite_and_the_placed_patch(daemon: Daemon, tmp_path: Path) -> None:
    token = lb(daemon.data, "pair", "--name", "editor").stdout.split()[-1]
    photo, mask = tmp_path / "photo.png", tmp_path / "mask.png"
    Image.new("RGB", (160, 128), (30, 90, 160)).save(photo)
    selection = Image.new("L", (160, 128), 0)
    selection.paste(255, (64, 40, 112, 88))
    selection.save(mask)
    common = ["--model", "demo", "--prompt", "a lantern", "--steps", "3", "--seed", "5"]

    client(daemon, token, "inpaint", *common, "--image", str(photo), "--mask", str(mask),
           "--control", f"canny:{photo}:0.5", "--lora", "demo-lora:0.7",
           "--out", str(tmp_path / "filled.png"), "--patch-out", str(tmp_path / "patch.png"))
    with Image.open(tmp_path / "patch.png") as patch:
        region = json.loads(patch.text["layerbridge:region"])
        assert patch.mode == "RGBA" and patch.size == (region["width"], region["height"])
    # the patch covers the selection, inside the canvas
    assert region["x"] <= 64 and region["y"] <= 40
    assert region["x"] + region["width"] >= 112 and region["y"] + region["height"] >= 88
    with Image.open(tmp_path / "filled.png") as filled, Image.open(photo) as original:
        assert filled.size == original.size
        assert filled.convert("RGB").getpixel((2, 2)) == original.getpixel((2, 2))  # outside: kept

    client(daemon, token, "expand", *common, "--image", str(photo), "--left", "32", "--bottom", "16",
           "--out", str(tmp_path / "wide.png"))
    assert size_of(tmp_path / "wide.png") == (160 + 32, 128 + 16)

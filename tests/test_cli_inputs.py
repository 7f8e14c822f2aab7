"""`layerbridge client` job flags and files: parsed as written, bad ones refused in one line naming
the flag and the value, an interrupted job reported as still running."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest
from layerbridge.daemon.cli_client import _grey_png, _split_control, _split_lora, composite
from layerbridge.daemon.client import DaemonClient, RemoteError
from layerbridge.daemon.errors import InvalidInput
from layerbridge.daemon.protocol.codec import validation_error
from layerbridge.daemon.protocol.messages import JobParams, Region, ResultInfo
from PIL import Image
from pydantic import ValidationError

from .conftest import RunningDaemon

LB = [sys.executable, "-m", "layerbridge.daemon.cli"]


async def cli(daemon: RunningDaemon, *args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *LB, "--data-dir", str(daemon.paths.root), "client", "--url", daemon.url, "--token", daemon.token,
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    return int(proc.returncode or 0), err.decode()


def assert_one_line_error(rc: int, stderr: str, *words: str) -> None:
    assert rc == 1, stderr
    assert "Traceback" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("layerbridge: invalid_input:"), stderr
    for word in words:
        assert word in last, stderr


def test_control_keeps_a_windows_drive_letter_in_its_path() -> None:
    assert _split_control(r"canny:C:\maps\edge.png", 0) == ("canny", r"C:\maps\edge.png", 1.0)
    assert _split_control(r"canny:C:\maps\edge.png:0.5", 0) == ("canny", r"C:\maps\edge.png", 0.5)
    assert _split_control("canny:C:/maps/edge.png:0.5", 0) == ("canny", "C:/maps/edge.png", 0.5)
    assert _split_control("canny:edge.png:0.25", 1) == ("canny", "edge.png", 0.25)
    assert _split_control("canny:edge.png", 1) == ("canny", "edge.png", 1.0)
    with pytest.raises(InvalidInput, match=r"control\.2\.strength='strong'"):
        _split_control("canny:edge.png:strong", 2)
    with pytest.raises(InvalidInput, match=r"control\.0="):
        _split_control("edge.png", 0)


def test_a_lora_weight_out_of_range_is_one_line_naming_it() -> None:
    fields = {"kind": "generate", "model": "demo", "loras": [_split_lora("demo-lora:9", 0)]}
    with pytest.raises(ValidationError) as invalid:
        JobParams.model_validate(fields)
    caught = validation_error(invalid.value, fields)  # what the client reports
    assert "\n" not in str(caught)
    assert caught.field == "loras.0.weight" and "9" in str(caught)
    with pytest.raises(InvalidInput, match=r"loras\.1='demo-lora:heavy'"):
        _split_lora("demo-lora:heavy", 1)


def test_a_mask_with_alpha_is_sent_as_grey_times_alpha(tmp_path: Path) -> None:
    mask = Image.new("RGBA", (3, 1), (255, 255, 255, 0))
    mask.putpixel((1, 0), (255, 255, 255, 255))
    for mode in ("RGBA", "LA", "P"):
        path = tmp_path / f"mask-{mode}.png"
        (mask.quantize() if mode == "P" else mask.convert(mode)).save(path)
        with Image.open(io.BytesIO(_grey_png(path, "mask"))) as sent:
            assert sent.mode == "L" and np.asarray(sent).tolist() == [[0, 255, 0]], mode
    deep = tmp_path / "mask16.png"
    Image.fromarray(np.array([[0, 32896, 65535]], dtype=np.uint16)).save(deep)
    with Image.open(io.BytesIO(_grey_png(deep, "mask"))) as sent:
        assert np.asarray(sent).tolist() == [[0, 128, 255]]


async def test_missing_or_unreadable_inputs_are_one_line_naming_the_flag(daemon: RunningDaemon,
                                                                         tmp_path: Path) -> None:
    photo, mask, text = tmp_path / "photo.png", tmp_path / "mask.png", tmp_path / "notes.png"
    Image.new("RGB", (64, 64), (10, 20, 30)).save(photo)
    Image.new("L", (64, 64), 255).save(mask)
    text.write_text("not an image")
    missing = str(tmp_path / "nope.png")
    common = ["--model", "demo", "--steps", "1"]
    out = ["--out", str(tmp_path / "o.png")]
    cases = [
        (["refine", "--image", missing, *out], ["image", "nope.png"]),
        (["inpaint", "--image", str(photo), "--mask", missing, *out], ["mask", "nope.png"]),
        (["inpaint", "--image", str(photo), "--mask", str(text), *out], ["mask", "notes.png"]),
        (["refine", "--image", str(photo), "--control", f"canny:{missing}", *out], ["control.0", "nope.png"]),
        (["generate", "--size", "64x64", "--out", str(tmp_path / "no-dir" / "o.png")], ["out", "no-dir"]),
        (["inpaint", "--image", str(photo), "--mask", str(mask), *out,
          "--patch-out", str(tmp_path / "no-dir" / "p.png")], ["patch-out", "no-dir"]),
    ]
    for args, words in cases:
        rc, err = await cli(daemon, *args, *common)
        assert_one_line_error(rc, err, *words)
    with sqlite3.connect(daemon.paths.ledger) as db:  # refused before anything was submitted
        assert db.execute("SELECT count(*) FROM jobs").fetchone() == (0,)


async def test_fetch_of_a_cancelled_job_exits_non_zero(daemon: RunningDaemon, tmp_path: Path) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        job = await client.submit(JobParams(kind="generate", model="demo", steps=150, width=128, height=128),
                                  job_id="to-cancel")
        await client.cancel(job.job_id)
        with pytest.raises(RemoteError):
            await job.wait()
    rc, err = await cli(daemon, "fetch", "to-cancel", "--out", str(tmp_path / "f.png"))
    assert rc == 1, err
    assert err.strip().splitlines()[-1].startswith("layerbridge: cancelled:"), err


@pytest.mark.skipif(os.name == "nt", reason="sends SIGINT")
async def test_ctrl_c_during_a_job_says_the_job_keeps_running(daemon: RunningDaemon, tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        *LB, "--data-dir", str(daemon.paths.root), "client", "--url", daemon.url, "--token", daemon.token,
        "generate", "--model", "demo", "--size", "256x256", "--steps", "150", "--job-id", "long-one",
        "--out", str(tmp_path / "l.png"), stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        # as from a terminal: a suite started in the background (`make test &`) passes SIGINT
        # on ignored, and a program that starts with it ignored keeps ignoring it
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stderr is not None
    line = await asyncio.wait_for(proc.stderr.readline(), 60)
    assert line.startswith(b"job long-one"), line
    proc.send_signal(signal.SIGINT)
    rest = (await asyncio.wait_for(proc.stderr.read(), 60)).decode()
    assert await proc.wait() == 130
    assert "Traceback" not in rest
    assert "long-one" in rest and "cancel" in rest, rest
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        await client.cancel("long-one")  # it was still there to cancel


def test_a_16_bit_grey_input_keeps_its_tones_around_the_patch() -> None:
    source = io.BytesIO()
    Image.fromarray(np.full((8, 8), 32896, dtype=np.uint16)).save(source, format="PNG")
    patch = io.BytesIO()
    Image.new("RGBA", (2, 2), (255, 0, 0, 255)).save(patch, format="PNG")
    info = ResultInfo(index=0, blob="0" * 64, format="png", width=2, height=2,
                      region=Region(x=3, y=4, width=2, height=2), seed=1,
                      params=JobParams(kind="inpaint", model="demo", image="0" * 64, mask="1" * 64, seed=1))
    with Image.open(io.BytesIO(composite(source.getvalue(), patch.getvalue(), info))) as out:
        assert out.getpixel((0, 0)) == (128, 128, 128, 255)
        assert out.getpixel((3, 4)) == (255, 0, 0, 255)

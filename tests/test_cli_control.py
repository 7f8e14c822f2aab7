"""`--control` names a map type, a ControlNet id, or TYPE@ID; what it cannot be is refused in one
line naming the flag and the value, and every accepted form reaches the daemon as written."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from layerbridge.daemon.cli_client import _control_target
from layerbridge.daemon.engine.registry import Registry
from layerbridge.daemon.errors import InvalidInput
from layerbridge.daemon.protocol.messages import ModelInfo
from PIL import Image

from .conftest import RunningDaemon
from .test_cli_inputs import assert_one_line_error, cli

MODELS = [
    ModelInfo(id="demo", name="demo", arch="sd15"),
    ModelInfo(id="my-depth", name="d", arch="sd15", kind="controlnet", control_type="depth"),
    ModelInfo(id="union-xl", name="u", kind="controlnet", arch="sdxl", control_type="union"),
    ModelInfo(id="style", name="s", arch="sd15", kind="lora"),
]


def test_a_type_a_controlnet_id_and_type_at_id_are_each_understood() -> None:
    assert _control_target("openpose", 0, "openpose:p.png", MODELS) == ("openpose", None)
    assert _control_target("my-depth", 0, "my-depth:d.png", MODELS) == ("depth", "my-depth")
    assert _control_target("segmentation@union-xl", 1, "x", MODELS) == ("segmentation", "union-xl")


@pytest.mark.parametrize(
    ("head", "words"),
    [
        ("dept", ["control.0", "dept:map.png", "neither a control type nor a ControlNet", "my-depth"]),
        ("style", ["control.0", "style:map.png", "neither"]),
        ("union-xl", ["control.0", "union-xl:map.png", "depth@union-xl"]),
        ("bogus@union-xl", ["control.0.type", "bogus", "TYPE is one of"]),
        ("depth@nope", ["control.0", "nope", "neither"]),
    ],
)
def test_what_control_cannot_be_is_refused_naming_the_value(head: str, words: list[str]) -> None:
    with pytest.raises(InvalidInput) as err:
        _control_target(head, 0, f"{head}:map.png", MODELS)
    assert "--control" in err.value.message
    for word in words:
        assert word in err.value.message


async def test_bad_control_values_are_one_line_errors_before_a_job_is_submitted(
    daemon: RunningDaemon, tmp_path: Path
) -> None:
    photo = tmp_path / "photo.png"
    Image.new("RGB", (64, 64), (10, 20, 30)).save(photo)
    out = ["--out", str(tmp_path / "o.png"), "--model", "demo", "--steps", "1", "--size", "64x64"]
    for value, words in [
        (f"depth-map:{photo}", ["control.0", "depth-map", "neither"]),
        (f"canny:{photo}:9", ["control.0.strength", "9"]),
        (f"canny:{photo}:strong", ["control.0.strength", "strong"]),
        (str(photo), ["control.0", "--control takes"]),
    ]:
        rc, err = await cli(daemon, "generate", "--control", value, *out)
        assert_one_line_error(rc, err, *words)
    with sqlite3.connect(daemon.paths.ledger) as db:
        assert db.execute("SELECT count(*) FROM jobs").fetchone() == (0,)


async def test_a_depth_control_by_type_or_by_id_runs(daemon: RunningDaemon, tmp_path: Path) -> None:
    reg = Registry(daemon.paths)
    reg.add(reg.locate("demo-cn-canny"), model_id="my-depth", control_type="depth")
    photo = tmp_path / "map.png"
    Image.new("RGB", (64, 64), (90, 90, 90)).save(photo)
    common = ["--model", "demo", "--steps", "1", "--size", "64x64", "--seed", "3"]
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    rc, err = await cli(daemon, "generate", "--control", f"depth:{photo}:0.8", "--out", str(a), *common)
    assert rc == 0, err
    rc, err = await cli(daemon, "generate", "--control", f"my-depth:{photo}:0.8", "--out", str(b), *common)
    assert rc == 0, err
    assert a.read_bytes() == b.read_bytes()

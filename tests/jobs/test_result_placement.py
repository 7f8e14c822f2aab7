"""A fill cut from a larger document: the job names its canvas, the daemon checks it and returns
where each result lands on it; and results sent raw (rgba8) to a client on the same machine."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import pytest
from layerbridge.daemon.client import DaemonClient
from layerbridge.daemon.protocol.messages import JobParams
from PIL import Image
from websockets.asyncio.client import connect

from ..conftest import RunningDaemon, png


def grey(width: int, height: int, box: tuple[int, int, int, int]) -> bytes:
    mask = Image.new("L", (width, height), 0)
    mask.paste(255, box)
    out = io.BytesIO()
    mask.save(out, format="PNG")
    return out.getvalue()


async def fill(client: DaemonClient, **kw: Any) -> JobParams:
    image = await client.upload(png(96, 80))
    mask = await client.upload(grey(96, 80, (30, 20, 70, 60)))
    fields: dict[str, Any] = dict(kind="inpaint", model="demo", image=image, mask=mask, steps=2,
                                  seed=3)
    fields.update(kw)
    return JobParams.model_validate(fields)


async def test_a_fill_with_its_canvas_says_where_the_result_lands_on_it(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        job = await client.submit(await fill(client, canvas={"width": 3000, "height": 2000,
                                                             "x": 1200, "y": 900}))
        await job.wait()
    [(info, _)] = job.results
    assert info.placement is not None
    assert (info.placement.x, info.placement.y) == (info.region.x + 1200, info.region.y + 900)
    assert (info.placement.width, info.placement.height) == (info.region.width, info.region.height)


async def test_a_fill_without_a_canvas_has_no_placement(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        job = await client.submit(await fill(client))
        await job.wait()
    assert job.results[0][0].placement is None


async def refused(daemon: RunningDaemon, params: dict[str, Any]) -> dict[str, Any]:
    """The error a raw job.submit of `params` gets (the Python client would refuse it first)."""
    async with connect(daemon.url, compression=None, proxy=None) as ws:
        await ws.send(json.dumps({"type": "hello", "id": "h", "protocols": [1],
                                  "token": daemon.token, "client": {"name": "t"}}))
        assert json.loads(await ws.recv())["type"] == "welcome"
        await ws.send(json.dumps({"type": "job.submit", "id": "s", "params": params}))
        while True:
            frame = await asyncio.wait_for(ws.recv(), 10)
            if isinstance(frame, str) and json.loads(frame).get("reply_to") == "s":
                reply: dict[str, Any] = json.loads(frame)
                assert reply["type"] == "error"
                return reply


@pytest.mark.parametrize(("canvas", "field", "value"), [
    ({"width": 1000, "height": 800, "x": 950, "y": 0}, "canvas.x", "950"),  # 950 + 96 > 1000
    ({"width": 1000, "height": 800, "x": 0, "y": 760}, "canvas.y", "760"),
    ({"width": 1000, "height": 800, "x": -4, "y": 0}, "params.canvas.x", "-4"),
    ({"width": 1000, "height": 800, "x": 1000, "y": 0}, "params.canvas.x", "1000"),
    ({"width": 400_000, "height": 800}, "params.canvas.width", "400000"),
])
async def test_a_canvas_that_cannot_hold_the_image_is_refused_by_name(
        daemon: RunningDaemon, canvas: dict[str, int], field: str, value: str) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        params = (await fill(client)).model_dump(mode="json", exclude_none=True)
    error = await refused(daemon, params | {"canvas": canvas})
    assert (error["code"], error["field"]) == ("invalid_input", field)
    assert value in error["message"]


async def test_a_generate_takes_no_canvas(daemon: RunningDaemon) -> None:
    error = await refused(daemon, dict(kind="generate", model="demo", width=64, height=64,
                                       steps=2, canvas={"width": 100, "height": 100}))
    assert (error["code"], error["field"]) == ("invalid_input", "params.canvas")


async def test_rgba8_results_are_the_pixels_of_the_png_ones(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        as_png = await client.submit(await fill(client))
        await as_png.wait()
        raw = await client.submit(await fill(client, result_format="rgba8"))
        await raw.wait()
        [(info, data)] = raw.results
        fetched = await client.blob(info.blob)
    [(png_info, png_data)] = as_png.results
    assert (png_info.format, info.format) == ("png", "rgba8")
    assert len(data) == info.width * info.height * 4 and fetched == data
    decoded = Image.open(io.BytesIO(png_data)).convert("RGBA")
    assert decoded.size == (info.width, info.height) and decoded.tobytes() == data
    assert info.params.result_format == "rgba8"

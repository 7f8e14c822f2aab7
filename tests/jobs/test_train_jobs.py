"""`train` jobs through a real daemon: progress with loss and ETA, a registered LoRA, interactive
jobs first between two steps, cancel, bad inputs by field, and a resume after kill -9."""

from __future__ import annotations

import asyncio
import io
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from layerbridge.daemon.auth import TokenStore
from layerbridge.daemon.client import DaemonClient, JobEvent, RemoteError
from layerbridge.daemon.config import Paths
from layerbridge.daemon.protocol.messages import (
    JobParams,
    JobProgress,
    JobStarted,
    ModelsList,
    ModelsReply,
)
from layerbridge.daemon.protocol.training import TrainSpec
from layerbridge.daemon.protocol.vocab import JobKind
from PIL import Image
from safetensors.torch import load_file

from ..conftest import RunningDaemon


def square(colour: tuple[int, int, int], stripe: int) -> bytes:
    image = Image.new("RGB", (64, 64), colour)
    image.paste((20, 20, 20), (0, stripe, 64, stripe + 6))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def upload_set(client: DaemonClient, n: int = 3) -> list[str]:
    return [await client.upload(square((200, 40, 30), 10 + 8 * i), "png", 64, 64) for i in range(n)]


def train(images: list[str], *, unchecked: bool = False, **spec: Any) -> JobParams:
    """A train job; `unchecked`: built without validation, as a client in another language
    might send it, so that the daemon is the one to refuse it."""
    fields: dict[str, Any] = dict(name="brand-red", trigger="lbbrand", images=images, steps=3,
                                  rank=4, learning_rate=1e-3, resolution=64, checkpoint_every=2)
    if unchecked:
        return JobParams.model_construct(kind=JobKind.TRAIN, model="demo", seed=5,
                                         train=TrainSpec.model_construct(**fields | spec))
    return JobParams(kind="train", model="demo", seed=5, train=TrainSpec(**fields | spec))


async def test_a_train_job_reports_loss_and_eta_and_registers_its_lora(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        images = await upload_set(client)
        events: list[JobEvent] = []
        job = await (await client.submit(train(images, sample_every=2))).wait(events.append)
        progress = [e.message for e in events if isinstance(e.message, JobProgress)]
        assert [p.step for p in progress] == [1, 2, 3]
        assert all(p.loss is not None and p.loss > 0 and p.eta_s is not None for p in progress)
        assert progress[-1].eta_s == 0
        assert [p.preview for p in progress] == [None, "png", "png"]  # samples, as previews
        (result, png), = job.results
        assert Image.open(io.BytesIO(png)).size == (64, 64)
        models = await client.request(ModelsList())
        assert isinstance(models, ModelsReply)
        lora = next(m for m in models.models if m.id == "brand-red")
        assert lora.kind == "lora" and lora.trigger_words == ["lbbrand"]
        sent = client.payload_bytes_sent
        assert await upload_set(client) == images and client.payload_bytes_sent == sent


async def test_an_interactive_job_goes_first_after_at_most_one_training_step(
    daemon: RunningDaemon,
) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        images = await upload_set(client)
        steps: list[int] = []
        started = asyncio.Event()

        def on_train(event: JobEvent) -> None:
            if isinstance(event.message, JobProgress):
                steps.append(event.message.step)
                started.set()

        training = await client.submit(train(images, name="long", steps=60))
        waiting = asyncio.ensure_future(training.wait(on_train))
        await asyncio.wait_for(started.wait(), 120)
        generate = JobParams(kind="generate", model="demo", prompt="a red cat", steps=2,
                             width=64, height=64, seed=1)
        at_submit = len(steps)
        quick = await client.submit(generate, priority="interactive")
        first: list[int] = []
        await quick.wait(lambda e: first.append(len(steps)) if isinstance(e.message, JobStarted)
                         else None)
        assert first and first[0] - at_submit <= 1  # at most the step that was running
        assert max(steps) < 60  # the train job was still going
        await client.cancel(training.job_id)
        with pytest.raises(RemoteError) as err:
            await waiting
        assert err.value.code == "cancelled"
    assert not (daemon.paths.root / "training" / training.job_id).exists()


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (dict(captions=["one"]), "params.train.captions"),
        (dict(trigger="a, b"), "params.train.trigger"),
        (dict(steps=0), "params.train.steps"),
        (dict(rank=1000), "params.train.rank"),
        (dict(steps=10**6), "params.train.steps"),
        (dict(resolution=100), "params.train.resolution"),
        (dict(name="demo"), "name"),
    ],
)
async def test_bad_train_jobs_are_refused_by_field(
    daemon: RunningDaemon, spec: dict[str, Any], field: str
) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        images = await upload_set(client)
        with pytest.raises(RemoteError) as err:
            await (await client.submit(train(images, unchecked=True, **spec))).wait()
        assert err.value.field == field, err.value
        assert "Traceback" not in err.value.message


async def test_a_train_job_on_images_never_uploaded_names_the_image(daemon: RunningDaemon) -> None:
    async with await DaemonClient.connect(daemon.url, daemon.token) as client:
        images = await upload_set(client, 1)
        with pytest.raises(RemoteError) as err:
            await client.submit(train([*images, "0" * 64]))
        assert err.value.field == "train.images.1"


# ---------------------------------------------------------------------- kill -9 and restart


class Serve:
    def __init__(self, data: Path) -> None:
        self.data = data
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> Serve:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "layerbridge.daemon.cli", "--data-dir", str(self.data), "serve",
             "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if match := re.match(r"Layerbridge listening on (ws://\S+)", line):
                self.url = match.group(1)
                return self
        raise AssertionError("daemon did not start")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(30)
        self.proc.stdout.close()


async def test_a_train_job_killed_with_the_daemon_resumes_from_its_checkpoint(paths: Paths) -> None:
    store = TokenStore(paths.ledger)
    token = store.pair("trainer", "client")
    store.close()
    daemon = Serve(paths.root).start()
    checkpoint = paths.root / "training" / "resumed" / "checkpoint" / "state.json"
    try:
        async with await DaemonClient.connect(daemon.url, token) as client:
            images = await upload_set(client)
            await client.submit(train(images, name="after-kill", steps=12), job_id="resumed")
            deadline = time.monotonic() + 120
            while not checkpoint.exists() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        assert checkpoint.exists()
        daemon.stop(signal.SIGKILL)
        saved = int(re.search(r'"step": (\d+)', checkpoint.read_text()).group(1))  # type: ignore[union-attr]
        assert 2 <= saved < 12
        daemon.start()
        async with await DaemonClient.connect(daemon.url, token) as client:
            job, _ = await client.fetch("resumed")
            steps: list[int] = []
            await job.wait(lambda e: steps.append(e.message.step)
                           if isinstance(e.message, JobProgress) else None)
            assert steps and steps[-1] == 12
            assert steps[0] > 1  # it went on from the checkpoint, not from the first step
            models = await client.request(ModelsList())
            assert isinstance(models, ModelsReply)
            assert "after-kill" in [m.id for m in models.models]
            # the same job run straight through (same seed, images, settings) ends with the
            # very same weights as the one killed part-way and resumed
            await (await client.submit(train(images, name="straight", steps=12))).wait()
    finally:
        daemon.stop()
    trained = paths.models / "trained"
    resumed, straight = (load_file(str(trained / f"{n}.safetensors")) for n in ("after-kill", "straight"))
    assert resumed.keys() == straight.keys() and resumed
    assert all(torch.equal(resumed[k], straight[k]) for k in resumed)

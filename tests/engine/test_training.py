"""LoRA training on the tiny demo models: the loss falls, the result loads and changes output,
a job killed part-way resumes to the very same weights, bad inputs are named."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from layerbridge.daemon.config import Paths
from layerbridge.daemon.engine.engine import DiffusersEngine
from layerbridge.daemon.engine.pipelines import load_checkpoint
from layerbridge.daemon.engine.registry import Registry
from layerbridge.daemon.engine.training import (
    StepReport,
    TrainConfig,
    Trainer,
    TrainingRunner,
    TrainRequest,
    file_hash,
)
from layerbridge.daemon.engine.training_data import Dataset, Example
from layerbridge.daemon.errors import Cancelled, InvalidInput, UnknownModel
from layerbridge.daemon.protocol.messages import LoraSpec
from PIL import Image
from safetensors import safe_open

from .helpers import params, run

CPU = torch.device("cpu")


def red_set(n: int = 4) -> list[Example]:
    """`n` red squares with a darker stripe: one colour and one pattern to learn."""
    out = []
    for i in range(n):
        arr = np.zeros((64, 64 + 16 * (i % 2), 3), np.uint8)
        arr[...] = (210, 40, 30)
        arr[20 + i : 28 + i] = (90, 10, 10)
        out.append(Example(Image.fromarray(arr, "RGB"), "lbred square"))
    return out


def trainer(demo_paths: Paths, config: TrainConfig, state_dir: Path | None = None,
            model: str = "demo", examples: list[Example] | None = None) -> Trainer:
    entry = Registry(demo_paths).get(model)
    return Trainer(load_checkpoint(entry), arch=entry.arch, config=config,
                   examples=examples or red_set(), device=CPU, state_dir=state_dir)


def test_the_loss_falls_over_a_short_run_on_one_colour(demo_paths: Paths) -> None:
    t = trainer(demo_paths, TrainConfig(steps=30, rank=4, learning_rate=1e-2, resolution=64))
    before = t.evaluate()
    assert t.run()
    assert t.evaluate() < before * 0.95
    assert len(t.state.losses) == 30


def adapter_after_a_crash(demo_paths: Paths, config: TrainConfig, state: Path, at: int) -> None:
    t = trainer(demo_paths, config, state)

    def crash(report: StepReport) -> None:
        if report.step == at:  # as if the process were killed here: nothing saved on the way out
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        t.run(on_step=crash, checkpoint_every=2)


def test_a_run_killed_part_way_and_resumed_ends_with_the_weights_of_one_that_ran_through(
    demo_paths: Paths, tmp_path: Path
) -> None:
    config = TrainConfig(
        steps=6, rank=4, learning_rate=1e-2, resolution=64, batch_size=2, seed=7, flip=True,
        random_crop=True, train_text_encoder=True,
    )
    through = trainer(demo_paths, config)
    through.run()
    adapter_after_a_crash(demo_paths, config, tmp_path / "state", at=3)
    resumed = trainer(demo_paths, config, tmp_path / "state")
    assert resumed.resumed_from == 2  # the last checkpoint before the crash
    resumed.run(checkpoint_every=2)
    a, b = through.adapter_state(), resumed.adapter_state()
    assert a.keys() == b.keys() and any(k.startswith("text_encoder.") for k in a)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.state.losses == through.state.losses


def test_a_checkpoint_of_other_inputs_is_not_resumed(demo_paths: Paths, tmp_path: Path) -> None:
    config = TrainConfig(steps=2, rank=4, resolution=64)
    trainer(demo_paths, config, tmp_path).run(checkpoint_every=1)
    other = trainer(demo_paths, TrainConfig(steps=2, rank=8, resolution=64), tmp_path)
    assert other.resumed_from is None and other.state.step == 0


def runner(demo_paths: Paths) -> TrainingRunner:
    return TrainingRunner(Registry(demo_paths), demo_paths, CPU)


def request(name: str, **config: Any) -> TrainRequest:
    base: dict[str, Any] = dict(steps=10, rank=4, learning_rate=1e-2, resolution=64, seed=3)
    return TrainRequest(name=name, model=config.pop("model", "demo"), trigger="lbred",
                        config=TrainConfig(**base | config), checkpoint_every=4)


def test_the_trained_lora_changes_the_output_and_at_weight_zero_gives_the_base_bytes(
    demo_paths: Paths, engine: DiffusersEngine
) -> None:
    reports: list[StepReport] = []
    result = runner(demo_paths).run("job-a", request("trained-red"), red_set(),
                                    on_step=reports.append, cancelled=lambda: False)
    assert result is not None and result.steps == 10
    assert [r.step for r in reports] == list(range(1, 11)) and reports[-1].eta_s == 0
    info = Registry(demo_paths).get("trained-red").info
    assert info.kind == "lora" and info.arch == "sd15" and info.trigger_words == ["lbred"]
    base = run(engine, params(prompt="lbred"))[0].image.tobytes()
    styled = run(engine, params(prompt="lbred", loras=[LoraSpec(id="trained-red")]))[0]
    zero = run(engine, params(prompt="lbred", loras=[LoraSpec(id="trained-red", weight=0.0)]))[0]
    assert styled.image.tobytes() != base
    assert zero.image.tobytes() == base
    assert not (demo_paths.root / "training" / "job-a").exists()  # checkpoints go once done


def test_the_lora_file_is_kohya_format_with_its_training_metadata(demo_paths: Paths) -> None:
    req = request("trained-meta", steps=2, train_text_encoder=True, alpha=2)
    result = runner(demo_paths).run("job-m", req, red_set(), on_step=lambda r: None,
                                    cancelled=lambda: False)
    assert result is not None
    with safe_open(str(result.path), "pt") as f:
        keys = list(f.keys())
        meta = f.metadata()
        alpha = f.get_tensor(next(k for k in keys if k.endswith(".alpha")))
    assert all(k.startswith(("lora_unet_", "lora_te_text_model_")) for k in keys)
    assert any(".lora_down.weight" in k for k in keys) and any(".lora_up.weight" in k for k in keys)
    assert float(alpha) == 2.0
    assert meta["ss_network_dim"] == "4" and meta["ss_network_alpha"] == "2"
    assert meta["modelspec.trigger_phrase"] == "lbred" and meta["ss_steps"] == "2"
    assert meta["layerbridge.base_model_sha256"] == file_hash(Registry(demo_paths).get("demo").path)
    assert len(meta["layerbridge.dataset_sha256"]) == 64
    assert json.loads(meta["ss_tag_frequency"]) == {"trained-meta": {"lbred square": 4}}


def test_sdxl_trains_with_both_text_encoders_and_size_conditioning(
    demo_paths: Paths, engine: DiffusersEngine
) -> None:
    req = request("trained-xl", model="demo-xl", steps=3, train_text_encoder=True)
    result = runner(demo_paths).run("job-xl", req, red_set(), on_step=lambda r: None,
                                    cancelled=lambda: False)
    assert result is not None
    with safe_open(str(result.path), "pt") as f:
        keys = list(f.keys())
    assert any(k.startswith("lora_te1_") for k in keys) and any(k.startswith("lora_te2_") for k in keys)
    xl = params(model="demo-xl", prompt="lbred")
    base = run(engine, xl)[0].image.tobytes()
    styled = run(engine, xl.model_copy(update={"loras": [LoraSpec(id="trained-xl")]}))[0]
    assert styled.image.tobytes() != base


def test_a_cancelled_job_stops_at_the_next_step_and_leaves_no_checkpoint(demo_paths: Paths) -> None:
    steps: list[int] = []
    with pytest.raises(Cancelled):
        runner(demo_paths).run("job-c", request("never"), red_set(),
                               on_step=lambda r: steps.append(r.step),
                               cancelled=lambda: len(steps) >= 2)
    assert steps == [1, 2]
    assert not (demo_paths.root / "training" / "job-c").exists()
    with pytest.raises(UnknownModel):
        Registry(demo_paths).get("never")


def test_a_job_asked_to_yield_goes_on_in_memory_where_it_stopped(demo_paths: Paths) -> None:
    r = runner(demo_paths)
    steps: list[int] = []
    first = r.run("job-y", request("yielded", steps=4), red_set(),
                  on_step=lambda rep: steps.append(rep.step), cancelled=lambda: False,
                  should_yield=lambda: len(steps) == 2)
    assert first is None and steps == [1, 2]
    done = r.run("job-y", request("yielded", steps=4), red_set(),
                 on_step=lambda rep: steps.append(rep.step), cancelled=lambda: False)
    assert done is not None and steps == [1, 2, 3, 4] and done.resumed_from is None


def test_samples_come_with_the_steps_they_were_due_at(demo_paths: Paths) -> None:
    reports: list[StepReport] = []
    req = TrainRequest(name="sampled", model="demo", trigger="lbred", sample_every=2,
                       config=TrainConfig(steps=3, rank=4, resolution=64))
    runner(demo_paths).run("job-s", req, red_set(), on_step=reports.append, cancelled=lambda: False)
    with_sample = [r.step for r in reports if r.sample is not None]
    assert with_sample == [2, 3]  # every 2nd step, and the last
    sample = reports[-1].sample
    assert sample is not None and sample.size == (64, 64)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (dict(model="demo-lora"), "model"),
        (dict(model="demo-inpaint"), "model"),
        (dict(name="demo"), "name"),
        (dict(name="../evil"), "name"),
    ],
)
def test_bad_requests_name_their_field(demo_paths: Paths, change: dict[str, str], field: str) -> None:
    req = request(change.get("name", "fine"), model=change.get("model", "demo"))
    with pytest.raises(InvalidInput) as err:
        runner(demo_paths).run("job-bad", req, red_set(), on_step=lambda r: None,
                               cancelled=lambda: False)
    assert err.value.field == field


def test_an_unknown_model_or_an_empty_or_tiny_set_is_refused(demo_paths: Paths) -> None:
    r = runner(demo_paths)
    with pytest.raises(UnknownModel):
        r.validate(request("x", model="nope"), red_set())
    with pytest.raises(InvalidInput) as err:
        r.validate(request("x"), [])
    assert err.value.field == "images"
    with pytest.raises(InvalidInput) as err:
        r.validate(request("x"), [*red_set(1), Example(Image.new("RGB", (4, 40)), "tiny")])
    assert err.value.field == "images.1"


def test_images_are_bucketed_by_aspect_and_a_batch_never_mixes_buckets() -> None:
    wide = [Example(Image.new("RGB", (192, 96)), "w") for _ in range(3)]
    tall = [Example(Image.new("RGB", (96, 192)), "t") for _ in range(3)]
    ds = Dataset(wide + tall, resolution=128, multiple=16, batch_size=2, seed=1, flip=True,
                 random_crop=True)
    h, w = ds.buckets[ds.bucket_of[0]]
    assert w > h and ds.buckets[ds.bucket_of[3]] == (w, h)
    seen: list[int] = []
    for step in range(ds.batches_per_epoch):
        batch = ds.batch_indices(step)
        assert len({ds.bucket_of[i] for i in batch}) == 1
        seen += batch
        assert all(s.pixels.shape[1:] == ds.buckets[ds.bucket_of[batch[0]]] for s in ds.batch(step))
    assert sorted(seen) == list(range(6))  # one epoch shows every image once
    again = Dataset(wide + tall, resolution=128, multiple=16, batch_size=2, seed=1, flip=True,
                    random_crop=True)
    assert [again.batch_indices(s) for s in range(9)] == [ds.batch_indices(s) for s in range(9)]
    assert all(torch.equal(a.pixels, b.pixels) for a, b in zip(again.batch(5), ds.batch(5), strict=True))

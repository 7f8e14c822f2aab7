"""Prior preservation on the tiny demo models: class images made first by the base checkpoint as
their own phase, the class loss added at its weight, the images kept so that a job killed while
making them or while training makes only what is missing and ends with the weights of a job that
ran through."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from layerbridge.daemon.config import Paths
from layerbridge.daemon.engine.pipelines import load_checkpoint
from layerbridge.daemon.engine.registry import Registry
from layerbridge.daemon.engine.training import (
    StepReport,
    TrainConfig,
    Trainer,
    TrainingRunner,
    TrainRequest,
)
from layerbridge.daemon.engine.training_data import Example
from layerbridge.daemon.errors import Cancelled
from layerbridge.daemon.protocol.training import TRAIN_LIMITS, TrainSpec
from pydantic import ValidationError
from safetensors import safe_open
from safetensors.torch import load_file

from .test_training import CPU, red_set

PRIOR: dict[str, Any] = dict(steps=4, rank=4, learning_rate=1e-2, resolution=64, seed=11,
                             class_prompt="a square", class_images=3)


def request(name: str, **config: Any) -> TrainRequest:
    return TrainRequest(name=name, model=config.pop("model", "demo"), trigger="lbred",
                        config=TrainConfig(**PRIOR | config), checkpoint_every=2)


class Crash(Exception):
    """As if the process were killed: raised from a report, nothing saved on the way out."""


def reports_until(reports: list[StepReport], phase: str, step: int) -> Any:
    def on_step(report: StepReport) -> None:
        reports.append(report)
        if report.phase == phase and report.step == step:
            raise Crash

    return on_step


def test_class_images_come_first_as_their_own_phase_with_previews(demo_paths: Paths) -> None:
    reports: list[StepReport] = []
    result = TrainingRunner(Registry(demo_paths), demo_paths, CPU).run(
        "job-p", request("prior-phases"), red_set(), on_step=reports.append,
        cancelled=lambda: False)
    assert result is not None
    phases = [(r.phase, r.step, r.steps) for r in reports]
    assert phases == [("class_images", i, 3) for i in (1, 2, 3)] + [("train", i, 4) for i in (1, 2, 3, 4)]
    made = [r for r in reports if r.phase == "class_images"]
    assert all(r.loss is None and r.sample is not None and r.sample.size == (64, 64) for r in made)
    assert made[-1].eta_s == 0
    assert all(r.loss is not None for r in reports if r.phase == "train")
    with safe_open(str(result.path), "pt") as f:
        meta = f.metadata()
    assert meta["ss_num_reg_images"] == "3" and meta["layerbridge.class_prompt"] == "a square"


def test_the_class_loss_is_added_at_its_weight(demo_paths: Paths) -> None:
    """The first step's loss is the instance loss plus weight x the class loss: it grows
    linearly with the weight from the loss without prior preservation."""
    class_set = [Example(e.image.rotate(90), "a square") for e in red_set(2)]
    entry = Registry(demo_paths).get("demo")

    def first_loss(weight: float | None) -> float:
        config = TrainConfig(steps=1, rank=4, resolution=64, seed=2, prior_loss_weight=weight or 1.0)
        t = Trainer(load_checkpoint(entry), arch=entry.arch, config=config, examples=red_set(),
                    device=CPU, class_examples=None if weight is None else class_set)
        return t.step()

    alone, once, thrice = first_loss(None), first_loss(1.0), first_loss(3.0)
    assert once > alone
    assert thrice - alone == pytest.approx(3 * (once - alone), rel=1e-4)


def test_a_job_killed_making_or_using_its_class_images_makes_only_the_missing_ones_and_ends_alike(
    demo_paths: Paths,
) -> None:
    def runner() -> TrainingRunner:  # a fresh one each time: as a daemon after a restart
        return TrainingRunner(Registry(demo_paths), demo_paths, CPU)

    straight = runner().run("job-straight", request("prior-straight"), red_set(),
                            on_step=lambda r: None, cancelled=lambda: False)
    assert straight is not None
    reports: list[StepReport] = []
    with pytest.raises(Crash):  # killed while making the second class image's report
        runner().run("job-k", request("prior-killed"), red_set(),
                     on_step=reports_until(reports, "class_images", 2), cancelled=lambda: False)
    folder = demo_paths.root / "training" / "job-k" / "class"
    assert sorted(p.name for p in folder.glob("*.png")) == ["0000.png", "0001.png"]
    reports.clear()
    with pytest.raises(Crash):  # killed again after the training step 3 (checkpoint at 2)
        runner().run("job-k", request("prior-killed"), red_set(),
                     on_step=reports_until(reports, "train", 3), cancelled=lambda: False)
    assert [(r.phase, r.step) for r in reports if r.phase == "class_images"] == [("class_images", 3)]
    reports.clear()
    done = runner().run("job-k", request("prior-killed"), red_set(), on_step=reports.append,
                        cancelled=lambda: False)
    assert done is not None and done.resumed_from == 2
    assert [r.phase for r in reports] == ["train", "train"]  # nothing made again: steps 3 and 4
    a, b = load_file(str(straight.path)), load_file(str(done.path))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not folder.exists()  # the class images go with the checkpoints once done


def test_class_images_of_other_inputs_are_not_reused(demo_paths: Paths) -> None:
    reports: list[StepReport] = []
    with pytest.raises(Crash):
        TrainingRunner(Registry(demo_paths), demo_paths, CPU).run(
            "job-o", request("prior-other"), red_set(),
            on_step=reports_until(reports, "class_images", 3), cancelled=lambda: False)
    reports.clear()
    with pytest.raises(Crash):
        TrainingRunner(Registry(demo_paths), demo_paths, CPU).run(
            "job-o", request("prior-other", class_prompt="a circle"), red_set(),
            on_step=reports_until(reports, "class_images", 1), cancelled=lambda: False)
    assert [r.step for r in reports] == [1]  # made again from the first: another prompt


def test_a_job_cancelled_while_making_class_images_stops_and_leaves_nothing(
    demo_paths: Paths,
) -> None:
    made: list[int] = []
    with pytest.raises(Cancelled):
        TrainingRunner(Registry(demo_paths), demo_paths, CPU).run(
            "job-pc", request("prior-cancelled"), red_set(),
            on_step=lambda r: made.append(r.step), cancelled=lambda: len(made) >= 1)
    assert made == [1]
    assert not (demo_paths.root / "training" / "job-pc").exists()


@pytest.mark.parametrize(("change", "field"), [
    (dict(class_images=2), "class_prompt"),
    (dict(class_images=2, class_prompt="  "), "class_prompt"),
    (dict(class_prompt="a dog"), "class_images"),
    (dict(class_prompt="a dog", class_images=TRAIN_LIMITS["max_class_images"] + 1), "class_images"),
    (dict(class_prompt="a dog", class_images=2, prior_loss_weight=0.0), "prior_loss_weight"),
])
def test_inconsistent_prior_settings_name_their_field(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as err:
        TrainSpec(name="x", trigger="lbx", images=["0" * 64], **change)
    assert field in str(err.value)


def test_a_job_asked_to_yield_while_making_class_images_goes_on_from_the_next_one(
    demo_paths: Paths,
) -> None:
    r = TrainingRunner(Registry(demo_paths), demo_paths, CPU)
    made: list[tuple[str, int]] = []
    first = r.run("job-py", request("prior-yielded"), red_set(),
                  on_step=lambda rep: made.append((rep.phase, rep.step)), cancelled=lambda: False,
                  should_yield=lambda: len(made) == 1)
    assert first is None and made == [("class_images", 1)]
    done = r.run("job-py", request("prior-yielded"), red_set(),
                 on_step=lambda rep: made.append((rep.phase, rep.step)), cancelled=lambda: False)
    assert done is not None
    assert made == [("class_images", i) for i in (1, 2, 3)] + [("train", i) for i in (1, 2, 3, 4)]


def test_sdxl_trains_with_prior_preservation(demo_paths: Paths) -> None:
    reports: list[StepReport] = []
    result = TrainingRunner(Registry(demo_paths), demo_paths, CPU).run(
        "job-pxl", request("prior-xl", model="demo-xl", steps=2, class_images=2), red_set(),
        on_step=reports.append, cancelled=lambda: False)
    assert result is not None and result.steps == 2
    assert [r.phase for r in reports] == ["class_images"] * 2 + ["train"] * 2
    assert all(r.loss is not None and r.loss > 0 for r in reports if r.phase == "train")

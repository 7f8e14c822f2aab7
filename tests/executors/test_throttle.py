"""Step reports are rationed before they wake the event loop: what a client needs always goes
(the first and last step, every preview and training loss, a new phase), plain steps at most one
per interval."""

from __future__ import annotations

from layerbridge.daemon.engine.api import StepProgress
from layerbridge.daemon.executors.base import throttled
from PIL import Image


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_steps_pass_once_per_interval_and_the_first_and_last_always() -> None:
    clock, seen = Clock(), []
    report = throttled(lambda p: seen.append(p.step), 0.1, clock)
    for step in range(1, 21):  # 20 steps of 30 ms
        report(StepProgress(step=step, steps=20))
        clock.now += 0.03
    assert seen == [1, 5, 9, 13, 17, 20]  # the first, one per 0.1 s (4 steps), the last


def test_every_training_step_with_its_loss_goes_through() -> None:
    clock, seen = Clock(), []
    report = throttled(lambda p: seen.append(p.step), 10.0, clock)
    for step in range(1, 5):
        report(StepProgress(step=step, steps=4, loss=0.5))
    assert seen == [1, 2, 3, 4]  # the loss curve gets every point


def test_previews_and_a_new_phase_are_never_held_back() -> None:
    clock, seen = Clock(), []
    report = throttled(lambda p: seen.append((p.step, p.phase, p.preview is not None)), 10.0, clock)
    tiny = Image.new("RGB", (4, 4))
    report(StepProgress(step=1, steps=10, phase="class_images"))
    report(StepProgress(step=2, steps=10, phase="class_images"))  # held: within the interval
    report(StepProgress(step=3, steps=10, phase="class_images", preview=tiny))
    report(StepProgress(step=2, steps=50, phase="train"))
    assert seen == [(1, "class_images", False), (3, "class_images", True), (2, "train", False)]

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from layerbridge.daemon.config import EngineSettings, Paths
from layerbridge.daemon.engine.engine import DiffusersEngine
from layerbridge.daemon.errors import (
    Cancelled,
    InvalidInput,
    ModelLoadError,
    OutOfMemory,
    UnknownModel,
)

from .helpers import Progress, gradient, params, pixels, run

SCHEDULERS = ["ddim", "euler", "euler_a", "dpmpp_2m", "dpmpp_2m_karras", "unipc"]


def test_generate_makes_an_image_of_the_requested_size(engine: DiffusersEngine) -> None:
    [out] = run(engine, params(width=64, height=96))
    assert out.image.size == (64, 96) and out.image.mode == "RGB"
    assert (out.region.x, out.region.y, out.region.width, out.region.height) == (0, 0, 64, 96)
    assert out.seed == 1


def test_generate_defaults_to_the_models_native_size(engine: DiffusersEngine) -> None:
    [out] = run(engine, params(width=None, height=None, steps=1))
    assert out.image.size == (128, 128)  # the demo UNet's sample_size 16 x 8


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(engine: DiffusersEngine) -> None:
    a = run(engine, params(), seed=7)[0].image.tobytes()
    b = run(engine, params(), seed=7)[0].image.tobytes()
    c = run(engine, params(), seed=8)[0].image.tobytes()
    assert a == b
    assert a != c


@pytest.mark.parametrize("scheduler", SCHEDULERS)
def test_every_scheduler_runs(engine: DiffusersEngine, scheduler: str) -> None:
    [out] = run(engine, params(scheduler=scheduler, steps=2))
    assert out.image.size == (64, 64)


def test_batch_image_i_uses_seed_plus_i_and_matches_a_single_run(engine: DiffusersEngine) -> None:
    batch = run(engine, params(batch=3), seed=20)
    assert [r.seed for r in batch] == [20, 21, 22]
    alone = run(engine, params(), seed=21)[0]
    assert (
        np.abs(pixels(batch[1].image) - pixels(alone.image)).max() <= 2
    )  # batched kernels round differently
    assert batch[0].image.tobytes() != batch[1].image.tobytes()


def test_negative_prompt_and_guidance_change_the_result(engine: DiffusersEngine) -> None:
    base = run(engine, params())[0].image.tobytes()
    assert run(engine, params(negative_prompt="blue sky"))[0].image.tobytes() != base
    assert run(engine, params(guidance=1.0))[0].image.tobytes() != base


def test_refine_keeps_the_input_size_snapped_to_8(engine: DiffusersEngine) -> None:
    [out] = run(engine, params("refine", strength=0.6), image=gradient(70, 61))
    assert out.image.size == (64, 56)
    assert (out.region.width, out.region.height) == (64, 56)


def test_refine_at_low_strength_stays_close_to_the_input(engine: DiffusersEngine) -> None:
    src = gradient(64, 64)
    weak = run(engine, params("refine", strength=0.34, steps=3), image=src)[0].image
    strong = run(engine, params("refine", strength=1.0, steps=3), image=src)[0].image
    d_weak = np.abs(pixels(weak) - pixels(src)).mean()
    d_strong = np.abs(pixels(strong) - pixels(src)).mean()
    assert d_weak < d_strong


def test_refine_at_strength_zero_returns_the_input(engine: DiffusersEngine) -> None:
    src = gradient(64, 64)
    [out] = run(engine, params("refine", strength=0.0), image=src)
    assert out.image.tobytes() == src.tobytes()


def test_progress_reports_every_step_with_previews(engine: DiffusersEngine) -> None:
    progress = Progress()
    engine.run(params(steps=4), 1, {}, progress, lambda: False)
    assert [(e.step, e.steps) for e in progress.events] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    preview = progress.events[-1].preview
    assert preview is not None and preview.mode == "RGB" and preview.size == (8, 8)


def test_previews_are_throttled_but_the_last_step_reports(demo_paths: Paths) -> None:
    eng = DiffusersEngine(demo_paths, EngineSettings(preview_interval_s=3600))
    progress = Progress()
    eng.run(params(steps=4), 1, {}, progress, lambda: False)
    assert len(progress.events) == 4
    with_preview = [e.step for e in progress.events if e.preview is not None]
    assert with_preview[0] == 1 and 4 in with_preview and 2 not in with_preview


def test_refine_reports_the_steps_it_actually_runs(engine: DiffusersEngine) -> None:
    progress = Progress()
    engine.run(
        params("refine", strength=0.5, steps=4),
        1,
        {"image": gradient(64, 64)},
        progress,
        lambda: False,
    )
    assert [e.steps for e in progress.events] == [2, 2]


def test_cancel_mid_run_raises_cancelled_at_the_next_step(engine: DiffusersEngine) -> None:
    progress = Progress()
    flag = threading.Event()

    def sink(event):  # cancel once step 2 is reported
        progress(event)
        if event.step == 2:
            flag.set()

    start = time.monotonic()
    with pytest.raises(Cancelled):
        engine.run(params(steps=50), 1, {}, sink, flag.is_set)
    assert [e.step for e in progress.events] == [1, 2]
    assert time.monotonic() - start < 5


def test_a_cancel_before_the_start_runs_nothing(engine: DiffusersEngine) -> None:
    progress = Progress()
    with pytest.raises(Cancelled):
        engine.run(params(), 1, {}, progress, lambda: True)
    assert progress.events == []


def test_cancel_is_per_call(engine: DiffusersEngine) -> None:
    with pytest.raises(Cancelled):
        engine.run(params(), 1, {}, Progress(), lambda: True)
    assert len(run(engine, params())) == 1


def test_unknown_model_is_named(engine: DiffusersEngine) -> None:
    with pytest.raises(UnknownModel) as err:
        run(engine, params(model="missing"))
    assert err.value.field == "model"


def test_a_lora_is_not_a_checkpoint(engine: DiffusersEngine) -> None:
    with pytest.raises(InvalidInput) as err:
        run(engine, params(model="demo-lora"))
    assert err.value.field == "model"


def test_missing_input_image_names_the_field(engine: DiffusersEngine) -> None:
    with pytest.raises(InvalidInput) as err:
        engine.run(params("refine"), 1, {}, Progress(), lambda: False)
    assert err.value.field == "image"


def test_injected_oom_fails_the_job_alone(
    demo_paths: Paths, monkeypatch: pytest.MonkeyPatch
) -> None:
    eng = DiffusersEngine(demo_paths, EngineSettings())
    monkeypatch.setenv("LAYERBRIDGE_FAULT", "oom")
    with pytest.raises(OutOfMemory):
        run(eng, params())
    monkeypatch.delenv("LAYERBRIDGE_FAULT")
    assert len(run(eng, params())) == 1
    eng.fault = "oom"
    with pytest.raises(OutOfMemory):
        run(eng, params())


def test_corrupt_model_files_fail_to_load_clearly(demo_paths: Paths, tmp_path) -> None:
    import shutil

    from layerbridge.daemon.engine.registry import Registry

    paths = Paths(tmp_path).ensure()
    broken = tmp_path / "broken"
    shutil.copytree(demo_paths.models / "demo", broken)
    reg = Registry(paths)
    reg.add(broken, model_id="broken")  # damaged after it was registered (`models add` checks)
    (broken / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"\x00" * 64)
    reg.add(demo_paths.models / "demo", model_id="demo")
    eng = DiffusersEngine(paths, EngineSettings())
    with pytest.raises(ModelLoadError) as err:
        run(eng, params(model="broken"))
    assert "broken" in err.value.message
    assert len(run(eng, params(model="demo"))) == 1
    assert [m.id for m in reg.list()] == ["broken", "demo"]


def test_device_info_and_loaded_report_resident_models(demo_paths: Paths) -> None:
    eng = DiffusersEngine(demo_paths, EngineSettings())
    assert eng.loaded() == []
    run(eng, params(steps=1))
    run(eng, params(model="demo-xl", steps=1))
    assert eng.loaded() == ["demo-xl", "demo"]
    info = eng.device_info()
    assert info.type == "cpu" and info.dtype == "fp32" and info.memory_used_bytes > 0
    eng.unload_all()
    assert eng.loaded() == [] and eng.device_info().memory_used_bytes == 0


def test_asking_for_a_missing_gpu_is_a_clear_error(demo_paths: Paths) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(InvalidInput) as err:
        DiffusersEngine(demo_paths, EngineSettings(device="cuda"))
    assert err.value.field == "engine.device"


def test_injected_load_failure_and_slow_steps(demo_paths: Paths) -> None:
    eng = DiffusersEngine(demo_paths, EngineSettings())
    eng.fault = "load"
    with pytest.raises(ModelLoadError):
        run(eng, params(steps=1))
    eng.fault = "slow"
    start = time.monotonic()
    run(eng, params(steps=2))
    assert time.monotonic() - start >= 0.4
    eng.fault = None
    assert len(run(eng, params(steps=1))) == 1

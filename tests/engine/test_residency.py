"""Residency: models stay warm, task switches share weights, a small budget evicts LRU."""

from __future__ import annotations

from layerbridge.daemon.config import EngineSettings, Paths
from layerbridge.daemon.engine.devices import module_bytes
from layerbridge.daemon.engine.engine import DiffusersEngine
from layerbridge.daemon.protocol.messages import ControlSpec
from PIL import Image

from .helpers import gradient, params, run, sha


def test_switching_task_on_one_checkpoint_adds_no_weights(demo_paths: Paths) -> None:
    eng = DiffusersEngine(demo_paths, EngineSettings())
    run(eng, params())
    res = eng.residency.get("demo")
    before = module_bytes(res.obj.unet, res.obj.vae, res.obj.text_encoder)
    used = eng.device_info().memory_used_bytes
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    run(eng, params("inpaint"), image=gradient(64, 64), mask=mask)
    run(eng, params("refine"), image=gradient(64, 64))
    tasks = res.state["tasks"]
    assert {"txt2img", "inpaint", "img2img"} <= set(tasks)
    for pipe in tasks.values():
        assert pipe.unet is res.obj.unet and pipe.vae is res.obj.vae
    assert module_bytes(res.obj.unet, res.obj.vae, res.obj.text_encoder) == before
    assert eng.device_info().memory_used_bytes == used
    assert eng.loaded() == ["demo"]


def test_a_controlnet_adds_only_its_own_weights(demo_paths: Paths) -> None:
    eng = DiffusersEngine(demo_paths, EngineSettings())
    run(eng, params())
    used = eng.device_info().memory_used_bytes
    spec = ControlSpec(type="canny", image=sha(9))
    run(eng, params(control=[spec]), control__0__image=gradient(64, 64))
    net = eng.residency.get("demo-cn-canny")
    assert eng.device_info().memory_used_bytes == used + net.nbytes
    assert eng.loaded() == ["demo-cn-canny", "demo"]


def test_a_small_budget_evicts_the_least_recently_used(demo_paths: Paths) -> None:
    probe = DiffusersEngine(demo_paths, EngineSettings())
    run(probe, params(steps=1))
    one = probe.residency.get("demo").nbytes
    budget_mb = max(256, 1)
    eng = DiffusersEngine(demo_paths, EngineSettings(memory_budget_mb=budget_mb))
    eng.residency.budget = int(one * 2.5)  # room for two demo-sized checkpoints
    run(eng, params(steps=1))
    run(eng, params(model="demo-inpaint", steps=1))
    assert eng.loaded() == ["demo-inpaint", "demo"]
    run(eng, params(steps=1))  # touch demo: demo-inpaint is now the oldest
    run(eng, params(model="demo-xl", steps=1))
    assert eng.loaded() == ["demo-xl", "demo"]
    assert eng.residency.evictions == ["demo-inpaint"]
    assert eng.residency.used() <= eng.residency.budget


def test_a_model_larger_than_the_budget_still_runs(demo_paths: Paths) -> None:
    eng = DiffusersEngine(demo_paths, EngineSettings(memory_budget_mb=256))
    eng.residency.budget = 1000  # bytes: nothing fits; on CPU it runs in place, alone
    run(eng, params(steps=1))
    run(eng, params(model="demo-xl", steps=1))
    assert eng.loaded() == ["demo-xl"]


def test_unload_all_frees_everything(demo_paths: Paths) -> None:
    eng = DiffusersEngine(demo_paths, EngineSettings())
    run(eng, params(steps=1))
    eng.unload_all()
    assert eng.loaded() == [] and eng.residency.used() == 0
    assert len(run(eng, params(steps=1))) == 1


def test_unloading_one_model_keeps_the_others_and_says_whether_it_was_there(
        demo_paths: Paths) -> None:
    eng = DiffusersEngine(demo_paths, EngineSettings())
    run(eng, params(steps=1, control=[ControlSpec(type="canny", image=sha(9))]),
        control__0__image=gradient(64, 64))
    net = eng.residency.get("demo-cn-canny").nbytes
    used = eng.residency.used()
    assert eng.unload("demo-cn-canny") is True
    assert eng.loaded() == ["demo"] and eng.residency.used() == used - net
    assert eng.unload("demo-cn-canny") is False and eng.unload("nothing-such") is False
    assert eng.loaded() == ["demo"]


def test_a_controlnet_in_use_is_not_evicted_to_make_room_for_the_next(demo_paths: Paths) -> None:
    probe = DiffusersEngine(demo_paths, EngineSettings())
    run(probe, params(steps=1, control=[ControlSpec(type="canny", image=sha(9))]),
        control__0__image=gradient(64, 64))
    one = probe.residency.get("demo").nbytes
    net = probe.residency.get("demo-cn-canny").nbytes
    eng = DiffusersEngine(demo_paths, EngineSettings(memory_budget_mb=256))
    eng.residency.budget = one + int(net * 1.5)  # the checkpoint and one ControlNet fit
    specs = [ControlSpec(type="canny", image=sha(9)), ControlSpec(type="scribble", image=sha(9))]
    run(eng, params(steps=1, control=specs),
        control__0__image=gradient(64, 64), control__1__image=gradient(64, 64))
    assert eng.residency.evictions == []  # both nets ran in this job: neither was given up
    assert set(eng.loaded()) == {"demo", "demo-cn-canny", "demo-cn-scribble"}

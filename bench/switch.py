"""Task switching on one checkpoint: generate -> inpaint -> ControlNet through the engine (one
base pipeline, task pipelines by from_pipe) against loading each pipeline separately.

    python bench/switch.py [--threads N] [--json]

Reports weight memory added by the switches (target ~0 MiB; the ControlNet's own weights are
counted apart) and the time of each switch. With --json the last line is one JSON object
(keys: added_mib, separate_mib).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from layerbridge.daemon.config import EngineSettings, Paths
from layerbridge.daemon.engine.demo import build_demo
from layerbridge.daemon.engine.devices import module_bytes
from layerbridge.daemon.engine.engine import DiffusersEngine
from layerbridge.daemon.protocol.messages import ControlSpec, JobParams
from PIL import Image

MiB = 1024 * 1024
SHA = "0" * 64


def weights(*pipes: Any) -> int:
    """Bytes of every distinct weight storage held by these pipelines (shared ones once)."""
    seen: set[int] = set()
    total = 0
    for p in pipes:
        mods = [getattr(p, n, None) for n in ("unet", "vae", "text_encoder", "text_encoder_2")]
        total += module_bytes(*mods, seen=seen)
    return total


def through_engine(paths: Paths, threads: int | None) -> dict[str, Any]:
    eng = DiffusersEngine(paths, EngineSettings(threads=threads))
    image = Image.new("RGB", (128, 128), (120, 90, 60))
    mask = Image.new("L", (128, 128), 0)
    mask.paste(255, (32, 32, 96, 96))
    jobs = [
        ("generate", JobParams(kind="generate", model="demo", steps=2, width=128, height=128), {}),
        (
            "inpaint",
            JobParams(kind="inpaint", model="demo", steps=2, image=SHA, mask=SHA),
            {"image": image, "mask": mask},
        ),
        (
            "controlnet",
            JobParams(
                kind="generate",
                model="demo",
                steps=2,
                width=128,
                height=128,
                control=[ControlSpec(type="canny", image=SHA)],
            ),
            {"control.0.image": image},
        ),
    ]
    times: dict[str, float] = {}
    checkpoint_bytes: list[int] = []
    for name, params, inputs in jobs:
        start = time.perf_counter()
        eng.run(params, 1, inputs, lambda e: None, lambda: False)
        times[name] = time.perf_counter() - start
        res = eng.residency.get("demo")
        tasks = list(res.state.get("tasks", {}).values())
        checkpoint_bytes.append(weights(res.obj, *tasks))
    net = eng.residency.get("demo-cn-canny")
    from layerbridge.daemon.engine.pipelines import derive

    switch: dict[str, float] = {}
    for name, task, extra in (
        ("inpaint", "inpaint", {}),
        ("controlnet", "cn_txt2img", {"controlnet": net.obj}),
    ):
        start = time.perf_counter()
        derive(res.obj, task, "sd15", **extra)
        switch[name] = time.perf_counter() - start
    return {
        "times": times,
        "switch": switch,
        "added": checkpoint_bytes[-1] - checkpoint_bytes[0],
        "base": checkpoint_bytes[0],
        "controlnet": net.nbytes if net else 0,
    }


def separately(paths: Paths) -> dict[str, Any]:
    from diffusers import (
        ControlNetModel,
        StableDiffusionControlNetPipeline,
        StableDiffusionInpaintPipeline,
        StableDiffusionPipeline,
    )

    folder = paths.models / "demo"
    kw = dict(safety_checker=None, requires_safety_checker=False)
    times: dict[str, float] = {}
    start = time.perf_counter()
    a = StableDiffusionPipeline.from_pretrained(folder, **kw)
    times["generate"] = time.perf_counter() - start
    start = time.perf_counter()
    b = StableDiffusionInpaintPipeline.from_pretrained(folder, **kw)
    times["inpaint"] = time.perf_counter() - start
    start = time.perf_counter()
    net = ControlNetModel.from_pretrained(paths.models / "demo-cn-canny")
    c = StableDiffusionControlNetPipeline.from_pretrained(folder, controlnet=net, **kw)
    times["controlnet"] = time.perf_counter() - start
    return {"times": times, "added": weights(a, b, c) - weights(a)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lb-switch-") as tmp:
        paths = Paths(Path(tmp)).ensure()
        build_demo(paths, only=("demo", "demo-cn-canny"))
        eng = through_engine(paths, args.threads)
        sep = separately(paths)
    added_mib = eng["added"] / MiB
    separate_mib = sep["added"] / MiB
    print(
        f"demo checkpoint weights: {eng['base'] / MiB:.2f} MiB "
        f"(ControlNet, counted apart: {eng['controlnet'] / MiB:.2f} MiB)"
    )
    print(
        f"engine, generate -> inpaint -> ControlNet: +{added_mib:.2f} MiB of checkpoint weights "
        + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in eng["times"].items())
        + " (each a whole job, 2 steps)"
    )
    print(
        "engine task switch (from_pipe on the resident base): "
        + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in eng["switch"].items())
    )
    print(
        f"separate pipelines:                        +{separate_mib:.2f} MiB; load "
        + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in sep["times"].items())
    )
    if args.json:
        print(
            json.dumps(
                {
                    "added_mib": round(added_mib, 3),
                    "separate_mib": round(separate_mib, 3),
                    "engine_job_s": {k: round(v, 4) for k, v in eng["times"].items()},
                    "switch_s": {k: round(v, 4) for k, v in eng["switch"].items()},
                    "separate_load_s": {k: round(v, 4) for k, v in sep["times"].items()},
                }
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""GPU throughput at real model sizes without downloading anything: full-size SD-1.5 and SDXL
architectures (the configs shipped in daemon/engine/configs) with random weights do the same
compute as real checkpoints. Reports it/s and seconds per image at 512² / 1024², 25 steps,
fp16, calling diffusers directly and going through DiffusersEngine. Then LoRA training at the
same sizes (rank 16, batch 1, mixed precision and gradient checkpointing as the daemon picks them
on a GPU): steps per second of a `train` job through the daemon and the client against the same
`TrainingRunner` loop called directly in the same process (bench/train.py's measurement), and the
peak GPU memory.

    python bench/gpu.py [--steps 25] [--only sd15|sdxl] [--train-steps 20] [--train-runs 2]
                        [--no-train] [--json]

Runs only where CUDA exists; elsewhere it says so and exits 0. With --json the last line is
one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

SIZES = {"sd15": 512, "sdxl": 1024}


def build(arch: str, folder: Path) -> Any:
    """A full-size `arch` pipeline, random fp16 weights made on the GPU, saved to `folder`."""
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from layerbridge.daemon.engine.demo import write_tokenizer
    from layerbridge.daemon.engine.pipelines import CONFIGS
    from transformers import (
        CLIPTextConfig,
        CLIPTextModel,
        CLIPTextModelWithProjection,
        CLIPTokenizer,
    )

    cfg = CONFIGS / arch
    write_tokenizer(
        folder / "_tok"
    )  # a small vocab: token ids differ from CLIP's, compute does not
    tok = CLIPTokenizer.from_pretrained(folder / "_tok")
    torch.manual_seed(0)
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float16)
    try:
        with torch.device("cuda"):
            unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(cfg / "unet"))
            vae = AutoencoderKL.from_config(AutoencoderKL.load_config(cfg / "vae"))
            te = CLIPTextModel(CLIPTextConfig.from_pretrained(cfg / "text_encoder"))
            parts: dict[str, Any] = dict(
                unet=unet,
                vae=vae,
                text_encoder=te,
                tokenizer=tok,
                scheduler=EulerDiscreteScheduler.from_pretrained(cfg / "scheduler"),
            )
            if arch == "sdxl":
                parts["text_encoder_2"] = CLIPTextModelWithProjection(
                    CLIPTextConfig.from_pretrained(cfg / "text_encoder_2")
                )
                parts["tokenizer_2"] = tok
                pipe = StableDiffusionXLPipeline(**parts)
            else:
                pipe = StableDiffusionPipeline(
                    **parts,
                    safety_checker=None,
                    feature_extractor=None,
                    requires_safety_checker=False,
                )
    finally:
        torch.set_default_dtype(default)
    pipe.set_progress_bar_config(disable=True)
    pipe.save_pretrained(folder, safe_serialization=True)
    return pipe


class Clock:
    """Step timestamps from callback_on_step_end (or the engine's progress)."""

    def __init__(self) -> None:
        self.marks: list[float] = []

    def tick(self, *_: Any) -> None:
        torch.cuda.synchronize()
        self.marks.append(time.perf_counter())

    def its(self) -> float:
        return (
            (len(self.marks) - 1) / (self.marks[-1] - self.marks[0]) if len(self.marks) > 1 else 0.0
        )


def direct(pipe: Any, size: int, steps: int) -> dict[str, float]:
    from diffusers import DPMSolverMultistepScheduler

    pipe.scheduler = DPMSolverMultistepScheduler.from_config(
        pipe.scheduler.config, algorithm_type="dpmsolver++"
    )
    clock = Clock()

    def cb(p: Any, i: int, t: Any, kw: dict[str, Any]) -> dict[str, Any]:
        clock.tick()
        return kw

    pipe("a photo of a cat", num_inference_steps=3, height=size, width=size)  # warm up
    torch.cuda.synchronize()
    start = time.perf_counter()
    pipe(
        "a photo of a cat",
        num_inference_steps=steps,
        height=size,
        width=size,
        guidance_scale=7.0,
        callback_on_step_end=cb,
    )
    torch.cuda.synchronize()
    return {"its": clock.its(), "s_per_image": time.perf_counter() - start}


def engine_run(folder: Path, arch: str, size: int, steps: int) -> dict[str, float]:
    from layerbridge.daemon.config import EngineSettings, Paths
    from layerbridge.daemon.engine.engine import DiffusersEngine
    from layerbridge.daemon.engine.registry import Registry
    from layerbridge.daemon.protocol.messages import JobParams

    paths = Paths(folder.parent / "data").ensure()
    Registry(paths).register(
        "bench", folder, kind="checkpoint", arch=arch, format="diffusers", replace=True
    )
    eng = DiffusersEngine(
        paths, EngineSettings(device="cuda", dtype="fp16", preview_interval_s=0.25)
    )
    params = JobParams(
        kind="generate",
        model="bench",
        prompt="a photo of a cat",
        steps=steps,
        width=size,
        height=size,
        guidance=7.0,
        scheduler="dpmpp_2m",
    )
    eng.run(
        params.model_copy(update={"steps": 3}), 0, {}, lambda e: None, lambda: False
    )  # load + warm up
    clock = Clock()
    torch.cuda.synchronize()
    start = time.perf_counter()
    eng.run(params, 0, {}, clock.tick, lambda: False)
    torch.cuda.synchronize()
    result = {"its": clock.its(), "s_per_image": time.perf_counter() - start}
    eng.unload_all()
    return result


def train_run(folder: Path, arch: str, size: int, steps: int, runs: int) -> dict[str, float]:
    """Training steps/s through the daemon and directly, on the saved full-size `folder`."""
    import asyncio
    import statistics

    sys.path.insert(0, str(Path(__file__).parent))
    from layerbridge.daemon.config import Paths
    from layerbridge.daemon.engine.registry import Registry
    from train import measure

    paths = Paths(folder.parent / "train-data").ensure()
    Registry(paths).register(
        "bench", folder, kind="checkpoint", arch=arch, format="diffusers", replace=True
    )
    torch.cuda.reset_peak_memory_stats()
    rates = asyncio.run(
        measure(paths, model="bench", resolution=size, steps=steps, runs=runs, warmup_steps=3,
                device="cuda", rank=16)
    )
    direct_sps = statistics.median(rates["direct"])
    daemon_sps = statistics.median(rates["daemon"])
    return {
        "direct_steps_per_s": direct_sps,
        "daemon_steps_per_s": daemon_sps,
        "ratio": daemon_sps / direct_sps,
        "peak_vram_mib": torch.cuda.max_memory_allocated() / 2**20,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--only", choices=sorted(SIZES), default=None)
    ap.add_argument("--train-steps", type=int, default=20)
    ap.add_argument("--train-runs", type=int, default=2)
    ap.add_argument("--no-train", action="store_true", help="generation figures only")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("bench/gpu.py: no CUDA device on this machine; skipping generation and training "
              "figures (exit 0); bench/train.py measures training on the CPU")
        if args.json:
            print(json.dumps({"skipped": "no CUDA"}))
        return 0
    out: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0),
        "steps": args.steps,
        "dtype": "fp16",
    }
    for arch, size in SIZES.items():
        if args.only and arch != args.only:
            continue
        with tempfile.TemporaryDirectory(prefix=f"lb-gpu-{arch}-") as tmp:
            folder = Path(tmp) / "model"
            pipe = build(arch, folder)
            d = direct(pipe, size, args.steps)
            del pipe
            torch.cuda.empty_cache()
            e = engine_run(folder, arch, size, args.steps)
            torch.cuda.empty_cache()
            t = None if args.no_train else train_run(folder, arch, size, args.train_steps,
                                                     args.train_runs)
        out[arch] = {"size": size, "direct": d, "engine": e}
        if t is not None:
            out[arch]["train"] = t
        print(f"{arch} {size}x{size}, {args.steps} steps, fp16 on {out['device']}:")
        print(f"  diffusers direct: {d['its']:6.2f} it/s  {d['s_per_image']:6.2f} s/image")
        print(
            f"  through engine:   {e['its']:6.2f} it/s  {e['s_per_image']:6.2f} s/image "
            f"({(e['s_per_image'] / d['s_per_image'] - 1) * 100:+.1f}%)"
        )
        if t is not None:
            print(f"  train rank 16, {args.train_steps} steps, {args.train_runs} runs, medians:")
            print(f"    direct TrainingRunner: {t['direct_steps_per_s']:6.2f} steps/s")
            print(f"    daemon + client:       {t['daemon_steps_per_s']:6.2f} steps/s  "
                  f"ratio {t['ratio']:.3f} (target >= 0.95)  peak {t['peak_vram_mib']:.0f} MiB")
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())

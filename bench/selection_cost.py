"""Cost follows the selection, not the canvas: inpaint the same 256x256 selection on a 512x512
and on a 4096x4096 canvas with the same model and steps; report the time ratio big/small.

    python bench/selection_cost.py [--steps 20] [--repeat 5] [--threads N]
        [--model ID --data-dir DIR] [--json]

Without --data-dir the demo models are built into a temporary folder. Target: ratio <= 1.25.
With --json the last line is one JSON object (key: ratio).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from layerbridge.daemon.config import EngineSettings, Paths
from layerbridge.daemon.engine.demo import build_demo
from layerbridge.daemon.engine.engine import DiffusersEngine
from layerbridge.daemon.protocol.messages import JobParams
from PIL import Image

SELECTION = 256


def canvas(side: int) -> tuple[Image.Image, Image.Image]:
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (side, side, 3), dtype=np.uint8), "RGB")
    mask = Image.new("L", (side, side), 0)
    x = (side - SELECTION) // 2
    mask.paste(255, (x, x, x + SELECTION, x + SELECTION))
    return img, mask


def timed(
    engine: DiffusersEngine, params: JobParams, img: Image.Image, mask: Image.Image, repeat: int
) -> tuple[float, tuple[int, int]]:
    times = []
    size = (0, 0)
    for i in range(repeat):
        start = time.perf_counter()
        [out] = engine.run(params, i, {"image": img, "mask": mask}, lambda e: None, lambda: False)
        times.append(time.perf_counter() - start)
        size = out.image.size
    return statistics.median(times), size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--model", default="demo")
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (1 is steadiest on a busy box)"
    )
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    tmp = None
    if args.data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="lb-bench-")
        paths = Paths(Path(tmp.name)).ensure()
        build_demo(paths, only=("demo",))
    else:
        paths = Paths(args.data_dir)
    engine = DiffusersEngine(paths, EngineSettings(preview_interval_s=0.25, threads=args.threads))
    params = JobParams(
        kind="inpaint",
        model=args.model,
        prompt="a bench",
        steps=args.steps,
        image="0" * 64,
        mask="1" * 64,
    )
    small_img, small_mask = canvas(512)
    big_img, big_mask = canvas(4096)
    timed(engine, params, small_img, small_mask, 1)  # warm up: load the model, the task pipeline
    small, small_patch = timed(engine, params, small_img, small_mask, args.repeat)
    big, big_patch = timed(engine, params, big_img, big_mask, args.repeat)
    ratio = big / small
    info = engine.device_info()
    print(f"device: {info.name} ({info.dtype}); model {args.model}, {args.steps} steps")
    print(f"512x512 canvas:   {small * 1000:8.1f} ms  (patch {small_patch[0]}x{small_patch[1]})")
    print(f"4096x4096 canvas: {big * 1000:8.1f} ms  (patch {big_patch[0]}x{big_patch[1]})")
    print(f"ratio big/small: {ratio:.3f}  (target <= 1.25: {'ok' if ratio <= 1.25 else 'MISSED'})")
    if args.json:
        print(
            json.dumps(
                {
                    "ratio": round(ratio, 4),
                    "small_s": round(small, 4),
                    "big_s": round(big, 4),
                    "steps": args.steps,
                    "model": args.model,
                    "device": engine.device_info().type,
                }
            )
        )
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Training steps per second of a `train` job through the daemon and the client, against the same
peft training loop (`TrainingRunner.run`) called directly in the same process; demo model,
4 images, the same seed, steps, rank, resolution and checkpoint interval on both sides.

Both sides run the loop on one long-lived worker thread. Warm-up is excluded the same way on
both sides: before the timed runs one short job goes through
the daemon and one through the direct call (the process's first training steps pay for kernel
and allocator warm-up, which would otherwise fall on whichever side runs first), and within each
run the rate is timed from the first step's report to the last, so model loading and the first
step are left out of both. The timed runs alternate which side goes first, so drift on a busy
machine hits both alike. Target: ratio >= 0.95. Also reports the peak RSS of the process.

    .venv/bin/python bench/train.py [--steps 20] [--resolution 128] [--runs 4] [--threads N] [--json]
"""

from __future__ import annotations

import asyncio
import io
import resource
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import cleanup, daemon, demo_data_dir, machine, parser, report  # noqa: E402
from layerbridge.daemon.client import DaemonClient, JobEvent  # noqa: E402
from layerbridge.daemon.protocol.messages import JobParams, JobProgress  # noqa: E402
from layerbridge.daemon.protocol.training import TrainSpec  # noqa: E402
from PIL import Image  # noqa: E402

TRIGGER = "lbbench"
RANK = 8


def images(side: int) -> list[Image.Image]:
    out = []
    for i in range(4):
        image = Image.new("RGB", (side, side), (200, 40 + 30 * i, 30))
        image.paste((20, 20, 20), (0, side // 3, side, side // 3 + side // 8))
        out.append(image)
    return out


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def rate(marks: list[float]) -> float:
    """Steps per second between the first step's report and the last one's."""
    return (len(marks) - 1) / (marks[-1] - marks[0])


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def measure(
    paths: Any,
    *,
    model: str,
    resolution: int,
    steps: int,
    runs: int,
    warmup_steps: int,
    device: str = "cpu",
    rank: int = RANK,
) -> dict[str, list[float]]:
    """Steps per second of `runs` train jobs through a daemon on `paths` and as many direct
    `TrainingRunner.run` calls, alternating, after one warm-up job each way."""
    import torch
    from layerbridge.daemon.config import EngineSettings, Settings
    from layerbridge.daemon.engine.registry import Registry
    from layerbridge.daemon.engine.training import TrainConfig, TrainingRunner, TrainRequest
    from layerbridge.daemon.engine.training_data import Example

    pictures = images(resolution)
    examples = [Example(p, TRIGGER) for p in pictures]  # what the daemon makes of caption "{trigger}"
    runner = TrainingRunner(Registry(paths), paths, torch.device(device))
    settings = Settings(engine=EngineSettings(device=device))

    def every(n: int) -> int:
        return max(n // 2, 1)

    def direct(name: str, seed: int, n: int) -> float:
        marks: list[float] = []  # each report follows the step's `loss.item()`: a GPU sync

        def tick(report: Any) -> None:
            marks.append(time.perf_counter())

        config = TrainConfig(steps=n, rank=rank, resolution=resolution, seed=seed)
        request = TrainRequest(name=name, model=model, trigger=TRIGGER, config=config,
                               checkpoint_every=every(n))
        runner.run(name, request, examples, on_step=tick, cancelled=lambda: False)
        return rate(marks)

    async with daemon(paths, settings) as d, await DaemonClient.connect(d.url, d.token) as client:
        shas = [await client.upload(png(p), "png", p.width, p.height) for p in pictures]

        async def through(name: str, seed: int, n: int) -> float:
            marks: list[float] = []

            def tick(event: JobEvent) -> None:
                if isinstance(event.message, JobProgress):
                    marks.append(time.perf_counter())

            spec = TrainSpec(name=name, trigger=TRIGGER, images=shas, steps=n, rank=rank,
                             resolution=resolution, checkpoint_every=every(n))
            params = JobParams(kind="train", model=model, seed=seed, train=spec)
            await (await client.submit(params)).wait(tick)
            return rate(marks)

        # one long-lived worker thread, as the daemon's engine has: torch's per-thread state
        # (the OpenMP team) is made once on each side, not again for every run
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="direct")

        async def beside(name: str, seed: int, n: int) -> float:
            return await asyncio.get_running_loop().run_in_executor(pool, direct, name, seed, n)

        await through("warm-daemon", 0, warmup_steps)
        await beside("warm-direct", 0, warmup_steps)
        rates: dict[str, list[float]] = {"daemon": [], "direct": []}
        sides: dict[str, Callable[[str, int, int], Awaitable[float]]] = {
            "daemon": through, "direct": beside}
        for run in range(runs):
            order = ["daemon", "direct"] if run % 2 == 0 else ["direct", "daemon"]
            for side in order:
                rates[side].append(await sides[side](f"{side}-{run}", run, steps))
        pool.shutdown()
    return rates


async def main() -> None:
    ap = parser(__doc__ or "")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--warmup-steps", type=int, default=4)
    ap.add_argument("--threads", type=int, default=0,
                    help="torch CPU threads for both sides (0: torch's default); 1 steadies the "
                         "figures on a machine other work is using")
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)  # process-wide: each worker thread picks it up
    paths = demo_data_dir()
    rates = await measure(paths, model="demo", resolution=args.resolution, steps=args.steps,
                          runs=args.runs, warmup_steps=args.warmup_steps)
    cleanup(paths)
    daemon_sps, direct_sps = statistics.median(rates["daemon"]), statistics.median(rates["direct"])
    ratio = daemon_sps / direct_sps
    rss = peak_rss_mib()
    runs: dict[str, Any] = {k: [round(v, 2) for v in vs] for k, vs in rates.items()}
    report(args, [
        f"train: demo model, {args.resolution}x{args.resolution}, rank {RANK}, {args.steps} steps, "
        f"{args.runs} runs each after a {args.warmup_steps}-step warm-up, medians, "
        f"{torch.get_num_threads()} torch threads ({machine()})",
        f"  direct TrainingRunner   {direct_sps:8.2f} steps/s   runs {runs['direct']}",
        f"  daemon + client         {daemon_sps:8.2f} steps/s   runs {runs['daemon']}",
        f"  ratio                   {ratio:8.3f}   (target >= 0.95)",
        f"  peak RSS                {rss:8.0f} MiB",
    ], {"ratio": round(ratio, 4), "daemon_steps_per_s": round(daemon_sps, 4),
        "direct_steps_per_s": round(direct_sps, 4), "peak_rss_mib": round(rss, 1)})


if __name__ == "__main__":
    asyncio.run(main())

"""Training steps per second of a `train` job through the daemon and the client, against the same
peft training loop (`TrainingRunner`) called directly in the same process; demo model, 4 images.
Steps per second are timed from the first step's report to the last (model loading excluded,
the same way on both sides). Target: ratio >= 0.95. Also reports the peak RSS of the process.

    .venv/bin/python bench/train.py [--steps 20] [--resolution 128] [--runs 2] [--json]
"""

from __future__ import annotations

import asyncio
import io
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import cleanup, daemon, demo_data_dir, machine, parser, report  # noqa: E402
from layerbridge.daemon.client import DaemonClient, JobEvent  # noqa: E402
from layerbridge.daemon.protocol.messages import JobParams, JobProgress  # noqa: E402
from layerbridge.daemon.protocol.training import TrainSpec  # noqa: E402
from PIL import Image  # noqa: E402


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
    return (len(marks) - 1) / (marks[-1] - marks[0])


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def main() -> None:
    ap = parser(__doc__ or "")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    import torch
    from layerbridge.daemon.engine.registry import Registry
    from layerbridge.daemon.engine.training import TrainConfig, TrainingRunner, TrainRequest
    from layerbridge.daemon.engine.training_data import Example

    paths = demo_data_dir()
    pictures = images(args.resolution)
    spec = dict(trigger="lbbench", steps=args.steps, rank=8, resolution=args.resolution,
                checkpoint_every=max(args.steps // 2, 1))
    runner = TrainingRunner(Registry(paths), paths, torch.device("cpu"))

    def direct(run: int) -> float:
        marks: list[float] = []
        config = TrainConfig(steps=args.steps, rank=8, resolution=args.resolution, seed=run)
        request = TrainRequest(name=f"direct-{run}", model="demo", trigger="lbbench",
                               config=config, checkpoint_every=spec["checkpoint_every"])  # type: ignore[arg-type]
        examples = [Example(p, "lbbench") for p in pictures]
        runner.run(f"direct-{run}", request, examples,
                   on_step=lambda r: marks.append(time.perf_counter()), cancelled=lambda: False)
        return rate(marks)

    daemon_rates: list[float] = []
    direct_rates: list[float] = []
    async with daemon(paths) as d, await DaemonClient.connect(d.url, d.token) as client:
        shas = [await client.upload(png(p), "png", p.width, p.height) for p in pictures]
        for run in range(args.runs):  # interleaved, so drift on a busy machine hits both alike
            marks: list[float] = []

            def tick(event: JobEvent, marks: list[float] = marks) -> None:
                if isinstance(event.message, JobProgress):
                    marks.append(time.perf_counter())

            params = JobParams(kind="train", model="demo", seed=run,
                               train=TrainSpec(name=f"daemon-{run}", images=shas, **spec))  # type: ignore[arg-type]
            await (await client.submit(params)).wait(tick)
            daemon_rates.append(rate(marks))
            direct_rates.append(await asyncio.to_thread(direct, run))
    cleanup(paths)
    daemon_sps, direct_sps = statistics.median(daemon_rates), statistics.median(direct_rates)
    ratio = daemon_sps / direct_sps
    rss = peak_rss_mib()
    report(args, [
        f"train: demo model, {args.resolution}x{args.resolution}, rank 8, {args.steps} steps, "
        f"{args.runs} runs, medians ({machine()})",
        f"  direct TrainingRunner   {direct_sps:8.2f} steps/s",
        f"  daemon + client         {daemon_sps:8.2f} steps/s",
        f"  ratio                   {ratio:8.3f}   (target >= 0.95)",
        f"  peak RSS                {rss:8.0f} MiB",
    ], {"ratio": round(ratio, 4), "daemon_steps_per_s": round(daemon_sps, 4),
        "direct_steps_per_s": round(direct_sps, 4), "peak_rss_mib": round(rss, 1)})


if __name__ == "__main__":
    asyncio.run(main())

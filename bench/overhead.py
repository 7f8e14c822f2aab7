"""End-to-end job through the daemon and the client vs a direct call of the same diffusers
pipeline, in the same process (demo model, 256×256, 20 steps). Target: ratio ≤ 1.05.

    .venv/bin/python bench/overhead.py [--runs 10] [--json]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import cleanup, daemon, demo_data_dir, machine, parser, report  # noqa: E402
from layerbridge.daemon.client import DaemonClient  # noqa: E402
from layerbridge.daemon.protocol.messages import JobParams  # noqa: E402

SIZE, STEPS = 256, 20


def direct_pipeline(model_dir: Path):  # type: ignore[no-untyped-def]
    from diffusers import StableDiffusionPipeline
    from layerbridge.daemon.engine.pipelines import make_scheduler

    pipe = StableDiffusionPipeline.from_pretrained(model_dir, safety_checker=None)
    pipe.scheduler = make_scheduler("dpmpp_2m", pipe.scheduler.config)  # as the engine does
    pipe.set_progress_bar_config(disable=True)
    return pipe


async def main() -> None:
    args_parser = parser(__doc__ or "")
    args_parser.add_argument("--runs", type=int, default=10)
    args = args_parser.parse_args()
    import torch

    paths = demo_data_dir()
    params = JobParams(kind="generate", model="demo", prompt="a lighthouse at dusk", width=SIZE,
                       height=SIZE, steps=STEPS, seed=1, scheduler="dpmpp_2m")
    pipe = direct_pipeline(paths.models / "demo")

    def direct() -> float:
        start = time.perf_counter()
        with torch.inference_mode():
            pipe(params.prompt, width=SIZE, height=SIZE, num_inference_steps=STEPS,
                 guidance_scale=params.guidance, generator=[torch.Generator().manual_seed(1)],
                 output_type="pil")
        return time.perf_counter() - start

    daemon_times: list[float] = []
    direct_times: list[float] = []
    async with daemon(paths) as d, await DaemonClient.connect(d.url, d.token) as client:
        await (await client.submit(params)).wait()  # warm-up: load the model once
        direct()
        for _ in range(args.runs):  # interleaved, so drift on a busy machine hits both alike
            start = time.perf_counter()
            await (await client.submit(params)).wait()
            daemon_times.append(time.perf_counter() - start)
            direct_times.append(await asyncio.to_thread(direct))
    cleanup(paths)
    daemon_s, direct_s = statistics.median(daemon_times), statistics.median(direct_times)
    ratio = daemon_s / direct_s
    report(args, [
        f"overhead: demo model, {SIZE}x{SIZE}, {STEPS} steps, {args.runs} runs, medians ({machine()})",
        f"  direct diffusers call   {direct_s * 1000:8.1f} ms",
        f"  daemon + client, e2e    {daemon_s * 1000:8.1f} ms",
        f"  ratio                   {ratio:8.3f}   (target <= 1.05)",
    ], {"ratio": round(ratio, 4), "daemon_s": round(daemon_s, 5), "direct_s": round(direct_s, 5)})


if __name__ == "__main__":
    asyncio.run(main())

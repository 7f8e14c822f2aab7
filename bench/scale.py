"""Throughput of the tiny demo model through the daemon with 1, 2 and 3 Ray workers on a
simulated cluster (one logical GPU per node, CPU only), against the local executor in the same
run. Every engine uses one torch thread, so a worker is one core's worth of compute.

    .venv/bin/python bench/scale.py [--jobs 12] [--size 128] [--steps 8] [--json]

jobs/s counts jobs submitted at once and waited for, warm-up excluded; efficiency is jobs/s
per worker relative to one worker. On a machine with fewer cores than workers the logical GPUs
share cores, so efficiency falls for that reason alone; on a GPU cluster each worker has its own
device.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import cleanup, daemon, demo_data_dir, machine, parser, report  # noqa: E402
from layerbridge.daemon.client import DaemonClient  # noqa: E402
from layerbridge.daemon.config import Paths, Settings  # noqa: E402
from layerbridge.daemon.executors.base import Executor  # noqa: E402
from layerbridge.daemon.executors.local import LocalExecutor, diffusers_engine  # noqa: E402
from layerbridge.daemon.protocol.messages import JobParams  # noqa: E402

WORKERS = (1, 2, 3)


def settings() -> Settings:
    s = Settings()
    s.engine.threads = 1
    return s


def local_executor(paths: Paths) -> Executor:
    return LocalExecutor(diffusers_engine(paths, settings().engine))


async def throughput(paths: Paths, executor: Executor, jobs: int, params: JobParams,
                     warm: int) -> float:
    """jobs/s of `jobs` jobs submitted at once, after `warm` jobs that load the model everywhere."""
    async with daemon(paths, settings(), executor) as d, \
            await DaemonClient.connect(d.url, d.token) as client:
        warmups = [await client.submit(params.model_copy(update={"seed": 10_000 + i}))
                   for i in range(warm)]
        await asyncio.gather(*(job.wait() for job in warmups))
        start = time.perf_counter()
        handles = [await client.submit(params.model_copy(update={"seed": i}), priority="batch")
                   for i in range(jobs)]
        await asyncio.gather(*(job.wait() for job in handles))
        return jobs / (time.perf_counter() - start)


async def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--jobs", type=int, default=12, help="jobs per measurement")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--steps", type=int, default=8)
    args = p.parse_args()
    params = JobParams(kind="generate", model="demo", prompt="a lighthouse at dusk",
                       width=args.size, height=args.size, steps=args.steps, seed=0)
    paths = demo_data_dir()
    try:
        local = [await throughput(paths, local_executor(paths), args.jobs, params, warm=1)]

        from layerbridge.daemon.executors.ray import RayExecutor
        from layerbridge.daemon.executors.ray_sim import simulated_cluster

        rates: list[float] = []
        with simulated_cluster(gpu_nodes=max(WORKERS)):
            for n in WORKERS:
                executor = RayExecutor(paths, settings().engine, workers=n)
                rates.append(await throughput(paths, executor, args.jobs, params, warm=2 * n))
                await executor.close()
        # again after Ray, so a machine busier during one of the runs shows as a spread
        local.append(await throughput(paths, local_executor(paths), args.jobs, params, warm=1))
    finally:
        cleanup(paths)

    best = max(local)
    efficiency = [round(rate / n / rates[0], 3) for n, rate in zip(WORKERS, rates, strict=True)]
    lines = [
        f"scale-out throughput, demo model {args.size}×{args.size}, {args.steps} steps, "
        f"{args.jobs} jobs per run, 1 torch thread per engine ({machine()})",
        f"  local executor       {best:6.2f} jobs/s   (runs before and after Ray: "
        f"{local[0]:.2f}, {local[1]:.2f})",
    ]
    for n, rate, eff in zip(WORKERS, rates, efficiency, strict=True):
        lines.append(f"  Ray, {n} worker{'s' if n > 1 else ' '}      {rate:6.2f} jobs/s   "
                     f"efficiency {eff:.2f}   ({rate / best:.2f}× local)")
    cores = os.cpu_count() or 1
    if cores < max(WORKERS) + 1:
        lines.append(f"  note: {cores} cores for {max(WORKERS)} workers plus the daemon; the "
                     "logical GPUs share them")
    lines.append("  note: the local executor samples in the daemon's process, next to its event "
                 "loop; a Ray worker has a process (and a core) of its own")
    report(args, lines, {
        "workers": list(WORKERS),
        "jobs_per_s": [round(r, 3) for r in rates],
        "efficiency": efficiency,
        "local_jobs_per_s": round(best, 3),
        "local_runs_jobs_per_s": [round(r, 3) for r in local],
        "ray_1_vs_local": round(rates[0] / best, 3),
        "jobs": args.jobs, "size": args.size, "steps": args.steps, "machine": machine(),
    })


if __name__ == "__main__":
    asyncio.run(main())

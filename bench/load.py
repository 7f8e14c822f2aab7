"""Load: N clients (default 16) each submit M jobs (default 20) of mixed kinds to a daemon in a
subprocess, with random cancels and disconnects (a client that drops reconnects and fetches).
Compared with the same jobs run sequentially by a direct diffusers call in this process.

Prints jobs/s vs the direct baseline, p50/p95 queue wait, fairness (max/min of the clients'
completed shares at the moment half the work was done; 1.0 is perfectly fair), daemon RSS
before/after, and lost/duplicated jobs (must be 0).

    .venv/bin/python bench/load.py [--clients 16] [--jobs 20] [--seed 0] [--json]
"""

from __future__ import annotations

import asyncio
import io
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import cleanup, demo_data_dir, machine, parser, report  # noqa: E402
from layerbridge.daemon.auth import TokenStore  # noqa: E402
from layerbridge.daemon.client import DaemonClient, RemoteError  # noqa: E402
from layerbridge.daemon.protocol.messages import JobParams  # noqa: E402
from PIL import Image  # noqa: E402

SIDE, STEPS = 64, 4
KINDS = ("generate", "refine", "generate", "refine")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def source_png() -> bytes:
    out = io.BytesIO()
    Image.radial_gradient("L").convert("RGB").resize((SIDE, SIDE)).save(out, format="PNG")
    return out.getvalue()


def params_for(kind: str, seed: int, image: str | None) -> JobParams:
    if kind == "generate":
        return JobParams(kind="generate", model="demo", prompt="a kite", width=SIDE, height=SIDE,
                         steps=STEPS, seed=seed)
    return JobParams(kind="refine", model="demo", prompt="a kite", image=image, strength=0.7,
                     steps=STEPS, seed=seed)


async def one_client(url: str, token: str, index: int, jobs: int, rng: random.Random,
                     image: bytes, cancelled: set[str]) -> set[str]:
    """Submit `jobs` jobs; maybe cancel some; maybe drop the connection and fetch after."""
    accepted: set[str] = set()
    client = await DaemonClient.connect(url, token, name=f"load-{index}")
    sha = await client.upload(image)
    handles = []
    for j in range(jobs):
        job_id = f"c{index:02d}-j{j:03d}"
        handle = await client.submit(params_for(KINDS[j % len(KINDS)], index * 1000 + j, sha), job_id=job_id)
        accepted.add(handle.job_id)
        handles.append(handle)
    for handle in handles:
        if rng.random() < 0.1:
            await client.cancel(handle.job_id)
            cancelled.add(handle.job_id)
    if rng.random() < 0.25:  # the connection drops; the designer reconnects and fetches
        await client.close()
        await asyncio.sleep(rng.uniform(0.1, 1.0))
        client = await DaemonClient.connect(url, token, name=f"load-{index}")
        # resubmitting after a drop must not make a second job
        again = await client.submit(params_for(KINDS[0], index * 1000, sha), job_id=f"c{index:02d}-j000")
        assert again.duplicate
        handles = [(await client.fetch(h.job_id))[0] for h in handles]
    for handle in handles:
        try:
            await handle.wait()
        except RemoteError as exc:
            if exc.code != "cancelled":
                raise
    await client.close()
    return accepted


def direct_baseline(model_dir: Path, count: int) -> float:
    import torch
    from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionPipeline
    from layerbridge.daemon.engine.pipelines import make_scheduler

    txt = StableDiffusionPipeline.from_pretrained(model_dir, safety_checker=None)
    txt.scheduler = make_scheduler("dpmpp_2m", txt.scheduler.config)
    txt.set_progress_bar_config(disable=True)
    img = StableDiffusionImg2ImgPipeline.from_pipe(txt)
    img.set_progress_bar_config(disable=True)
    init = Image.open(io.BytesIO(source_png())).convert("RGB")
    start = time.perf_counter()
    with torch.inference_mode():
        for j in range(count):
            generator = [torch.Generator().manual_seed(j)]
            if KINDS[j % len(KINDS)] == "generate":
                txt("a kite", width=SIDE, height=SIDE, num_inference_steps=STEPS, generator=generator)
            else:
                img("a kite", image=init, strength=0.7, num_inference_steps=STEPS, generator=generator)
    return count / (time.perf_counter() - start)


async def main() -> None:
    ap = parser(__doc__ or "")
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--jobs", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    paths = demo_data_dir()
    store = TokenStore(paths.ledger)
    token = store.pair("load", "client")
    store.close()
    daemon = subprocess.Popen([sys.executable, "-m", "layerbridge.daemon.cli", "--data-dir", str(paths.root),
                               "serve", "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert daemon.stdout is not None
    url = ""
    while not url:
        line = daemon.stdout.readline()
        if not line:
            raise SystemExit("the daemon did not start")
        if m := re.match(r"Layerbridge listening on (ws://\S+)", line):
            url = m.group(1)
    image = source_png()
    async with await DaemonClient.connect(url, token) as warm:  # load the model before measuring
        sha = await warm.upload(image)
        await (await warm.submit(params_for("refine", 1, sha))).wait()
    rss_before = rss_mib(daemon.pid)
    cancelled: set[str] = set()
    start = time.perf_counter()
    accepted_sets = await asyncio.gather(*(
        one_client(url, token, i, args.jobs, random.Random(rng.random()), image, cancelled)
        for i in range(args.clients)))
    elapsed = time.perf_counter() - start
    rss_after = rss_mib(daemon.pid)
    daemon.terminate()
    daemon.wait(30)
    daemon.stdout.close()

    accepted = set().union(*accepted_sets)
    with sqlite3.connect(paths.ledger) as db:
        rows = db.execute("SELECT job_id, state, attempts, created_at, started_at, finished_at "
                          "FROM jobs WHERE job_id LIKE 'c%'").fetchall()
    by_id = Counter(r[0] for r in rows)
    finals = {r[0] for r in rows if r[1] in ("done", "failed", "cancelled")}
    lost = len(accepted - finals)
    duplicated = sum(n - 1 for n in by_id.values()) + sum(1 for r in rows if r[2] > 1)
    waits = sorted(r[4] - r[3] for r in rows if r[4] is not None)
    done_count = sum(1 for r in rows if r[1] == "done")
    done_rows = sorted((r for r in rows if r[1] == "done"), key=lambda r: r[5])
    shares = Counter(int(r[0][1:3]) for r in done_rows[: max(1, len(done_rows) // 2)])
    fairness = max(shares.values()) / max(1, min(shares.get(i, 0) for i in range(args.clients)))
    jobs_per_s = done_count / elapsed
    direct = direct_baseline(paths.models / "demo", min(40, done_count))
    cleanup(paths)
    p50, p95 = statistics.median(waits), waits[int(0.95 * (len(waits) - 1))]
    report(args, [
        f"load: {args.clients} clients x {args.jobs} jobs, demo {SIDE}x{SIDE} {STEPS} steps, "
        f"generate/refine mix, ~10% cancelled, ~25% of clients reconnect ({machine()})",
        f"  completed {done_count}, cancelled {len(cancelled)}, in {elapsed:.1f} s",
        f"  throughput {jobs_per_s:.2f} jobs/s vs direct sequential {direct:.2f} jobs/s: "
        f"ratio {jobs_per_s / direct:.3f}",
        f"  queue wait p50 {p50:.2f} s, p95 {p95:.2f} s",
        f"  fairness (max/min completed share at half-time) {fairness:.2f}",
        f"  daemon RSS {rss_before:.0f} MiB before, {rss_after:.0f} MiB after ({rss_after - rss_before:+.0f})",
        f"  lost {lost}, duplicated {duplicated}",
    ], {"jobs_per_s_ratio": round(jobs_per_s / direct, 4), "p95_wait_s": round(p95, 3),
        "fairness": round(fairness, 3), "rss_growth_mib": round(rss_after - rss_before, 1),
        "lost": lost, "duplicated": duplicated})


if __name__ == "__main__":
    asyncio.run(main())

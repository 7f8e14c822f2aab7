"""The executor job suite on Ray: a simulated cluster (a head and two nodes with one logical GPU
each, CPU only) started once for the module, two warm replicas shared by every test's daemon.
Then what only a cluster has: results identical to the local executor, jobs spread over both
nodes, token auth, and a node removed mid-run (last: it leaves one node).

Ray is an optional extra, but this leg never skips: without ray it fails at import.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from layerbridge.daemon.config import Paths
from layerbridge.daemon.errors import Cancelled, Unsupported, error_fields
from layerbridge.daemon.executors.base import CancelToken, Executor, ExecutorStatus, Task
from layerbridge.daemon.executors.ray import RayExecutor, require_token_auth
from layerbridge.daemon.executors.ray_replica import Failed, rebuild_error
from layerbridge.daemon.executors.ray_sim import SimulatedCluster, simulated_cluster
from PIL import Image

from .suite import Harness, JobSuite, first_progress, gen, run, suite_settings

in_module_loop = pytest.mark.asyncio(loop_scope="module")  # the loop the replicas' pool lives on


class Borrowed(Executor):
    """The module's Ray executor lent to one daemon: everything but `close` goes through, so
    each test's daemon finds the replicas warm."""

    def __init__(self, inner: RayExecutor) -> None:
        self.inner = inner
        self.slots = inner.slots

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def run(self, task: Task, on_progress: Any, cancel: CancelToken) -> Any:
        return await self.inner.run(task, on_progress, cancel)

    def status(self) -> ExecutorStatus:
        return self.inner.status()

    async def ready(self) -> None:
        await self.inner.ready()


@pytest.fixture(scope="module")
def cluster() -> Iterator[SimulatedCluster]:
    with simulated_cluster(gpu_nodes=2) as sim:
        yield sim


@pytest.fixture(scope="module")
def replica_data(tmp_path_factory: pytest.TempPathFactory, demo_models: Path) -> Paths:
    """The data dir the replicas load models from (each node of a real cluster has its own)."""
    root = tmp_path_factory.mktemp("ray-node-data") / "data"
    shutil.copytree(demo_models, root, ignore=shutil.ignore_patterns("ledger.sqlite3*", "blobs"))
    return Paths(root).ensure()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def ray_executor(cluster: SimulatedCluster,
                       replica_data: Paths) -> AsyncIterator[RayExecutor]:
    executor = RayExecutor(replica_data, suite_settings().engine)
    await executor.start()
    await executor.ready()
    try:
        yield executor
    finally:
        await executor.close()


@pytest.fixture
def harness(paths: Paths, ray_executor: RayExecutor) -> Harness:
    return Harness(paths, lambda: Borrowed(ray_executor))


@in_module_loop
class TestRayExecutor(JobSuite):
    pass


def local_image(paths: Paths, seed: int) -> Image.Image:
    """What the local executor's engine makes of the same job, in this process."""
    from layerbridge.daemon.engine.engine import DiffusersEngine

    engine = DiffusersEngine(paths, suite_settings().engine)
    return engine.run(gen(seed=seed), seed, {}, lambda _: None, lambda: False)[0].image


@in_module_loop
async def test_results_are_identical_to_the_local_executor_for_the_same_seed(
    harness: Harness,
) -> None:
    async with harness.client() as (_, client):
        remote = await run(client, gen(seed=42))
    local = await asyncio.to_thread(local_image, harness.paths, 42)
    assert Image.open(io.BytesIO(remote[0])).convert("RGB").tobytes() == local.tobytes()


@in_module_loop
async def test_concurrent_jobs_spread_over_both_nodes(harness: Harness, ray_executor: RayExecutor,
                                                      cluster: SimulatedCluster) -> None:
    async with harness.client() as (_, client):
        jobs = [await client.submit(gen(seed=i, width=128, height=128, steps=8)) for i in range(4)]
        await asyncio.gather(*(job.wait() for job in jobs))
    used = {ray_executor.placements[job.job_id] for job in jobs}
    assert used == {node.node_id for node in cluster.nodes}


@in_module_loop
async def test_status_shows_the_cluster_as_one_device_with_its_workers(
    ray_executor: RayExecutor,
) -> None:
    status = ray_executor.status()
    assert status.workers == 2
    assert status.device is not None and status.device.name.startswith("Ray cluster: 2 workers")


def test_ray_runs_with_token_auth_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    with pytest.raises(Unsupported, match="token auth"):
        require_token_auth()


def test_the_simulated_cluster_runs_with_token_auth(cluster: SimulatedCluster) -> None:
    from ray._private.authentication.authentication_utils import is_token_auth_enabled

    assert is_token_auth_enabled() and os.environ["RAY_AUTH_MODE"] == "token"


def test_without_the_ray_extra_the_executor_explains_how_to_install_it() -> None:
    code = ("import sys; sys.modules['ray'] = None\n"
            "from layerbridge.daemon.errors import Unsupported\n"
            "try:\n"
            "    import layerbridge.daemon.executors.ray\n"
            "except Unsupported as exc:\n"
            "    print(exc.code, exc.message)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert "unsupported" in out.stdout, out.stderr
    assert "pip install 'layerbridge[ray]'" in out.stdout


@in_module_loop
async def test_a_node_removed_mid_run_loses_no_job(harness: Harness, ray_executor: RayExecutor,
                                                   cluster: SimulatedCluster) -> None:
    async with harness.client() as (d, client):
        jobs = [await client.submit(gen(seed=i, width=128, height=128, steps=60)) for i in range(4)]
        await first_progress(jobs[0])
        for _ in range(200):  # both replicas busy
            if len(ray_executor.running()) == 2:
                break
            await asyncio.sleep(0.02)
        victim_job, victim_node = next(iter(ray_executor.running().items()))
        assert victim_node is not None
        await asyncio.to_thread(cluster.remove_node, victim_node)
        await asyncio.gather(*(job.wait() for job in jobs))
        records = [d.core.ledger.get(job.job_id) for job in jobs]
        status = await client.status()
    assert [r.state.value for r in records if r] == ["done"] * 4
    survivor = next(n.node_id for n in cluster.nodes)
    assert ray_executor.placements[victim_job] == survivor
    assert status.device is not None and "1 worker, 1 lost" in status.device.name


@pytest.mark.parametrize("error", [Cancelled("cancelled at step 2"), RuntimeError("a bug")])
def test_every_error_in_a_replica_becomes_a_record_the_daemon_rebuilds(error: Exception) -> None:
    # a record that cannot be built kills the replica's job thread and leaves the stream waiting
    failed = Failed.of(error)
    rebuilt = rebuild_error(failed)
    assert rebuilt.code == error_fields(error)["code"]
    assert isinstance(rebuilt, Cancelled) == isinstance(error, Cancelled)

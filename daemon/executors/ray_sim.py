"""A Ray cluster simulated on this machine (`ray.cluster_utils.Cluster`): a head without GPUs and
worker nodes with one logical GPU each, CPU only. For the tests, the scale benchmark and trying
`--executor ray` without a GPU cluster. Usage stats off, no dashboard, a temporary RAY_TMPDIR,
a capped object store, token auth on with a throwaway token.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import ray
from ray.cluster_utils import Cluster

from .ray import NAMESPACE, require_token_auth

OBJECT_STORE_BYTES = 80 * 2**20  # Ray's floor is 75 MiB; results are small PNG-sized images
_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}


@dataclass
class SimulatedCluster:
    cluster: Cluster
    nodes: list[Any] = field(default_factory=list)  # ray._private.node.Node, one per GPU

    @property
    def address(self) -> str:
        return str(self.cluster.address)

    def add_gpu_node(self) -> Any:
        node = self.cluster.add_node(num_cpus=1, num_gpus=1, object_store_memory=OBJECT_STORE_BYTES)
        self.cluster.wait_for_nodes()
        self.nodes.append(node)
        return node

    def remove_node(self, node_id: str) -> None:
        """Kill a GPU node, as a machine that drops off the network would."""
        node = next(n for n in self.nodes if n.node_id == node_id)
        self.cluster.remove_node(node, allow_graceful=False)
        self.nodes.remove(node)


@contextmanager
def simulated_cluster(gpu_nodes: int = 2) -> Iterator[SimulatedCluster]:
    """Start the cluster and connect this process to it (`ray.init`); shut both down after."""
    saved = {k: os.environ.get(k) for k in (*_ENV, "RAY_AUTH_TOKEN", "RAY_TMPDIR")}
    # short: Ray's unix socket paths live under it and are limited to ~100 characters
    tmp = tempfile.mkdtemp(prefix="lbray-", dir="/tmp" if os.path.isdir("/tmp") else None)
    os.environ.update(_ENV)
    os.environ["RAY_TMPDIR"] = tmp
    os.environ.setdefault("RAY_AUTH_TOKEN", secrets.token_hex(32))
    require_token_auth()
    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "num_gpus": 0, "include_dashboard": False,
        "object_store_memory": OBJECT_STORE_BYTES,
    })
    sim = SimulatedCluster(cluster)
    try:
        for _ in range(gpu_nodes):
            sim.nodes.append(cluster.add_node(num_cpus=1, num_gpus=1,
                                              object_store_memory=OBJECT_STORE_BYTES))
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, namespace=NAMESPACE, logging_level=logging.WARNING,
                 log_to_driver=False)
        yield sim
    finally:
        ray.shutdown()
        cluster.shutdown()  # type: ignore[no-untyped-call]
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(tmp, ignore_errors=True)

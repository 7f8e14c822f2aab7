"""The executor job suite on the local executor (the embedded default)."""

from __future__ import annotations

import pytest
from layerbridge.daemon.config import Paths
from layerbridge.daemon.executors.base import Executor
from layerbridge.daemon.executors.local import LocalExecutor, diffusers_engine

from .suite import Harness, JobSuite, suite_settings


@pytest.fixture
def harness(paths: Paths) -> Harness:
    def executor() -> Executor:
        return LocalExecutor(diffusers_engine(paths, suite_settings().engine))

    return Harness(paths, executor)


class TestLocalExecutor(JobSuite):
    pass

"""Fixtures of the engine tests: the demo models are built once per session into a temp dir."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from layerbridge.daemon.config import EngineSettings, Paths
from layerbridge.daemon.engine.demo import build_demo
from layerbridge.daemon.engine.engine import DiffusersEngine


@pytest.fixture(scope="session")
def demo_paths(tmp_path_factory: pytest.TempPathFactory) -> Paths:
    torch.set_num_threads(1)  # same bytes for the same seed need the same thread count
    paths = Paths(tmp_path_factory.mktemp("lbdata")).ensure()
    build_demo(paths)
    return paths


@pytest.fixture(scope="session")
def engine(demo_paths: Paths) -> Iterator[DiffusersEngine]:
    eng = DiffusersEngine(demo_paths, EngineSettings(preview_interval_s=0.0, threads=1))
    yield eng
    eng.unload_all()

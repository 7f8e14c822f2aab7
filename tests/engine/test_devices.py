"""Device choice: the CPU fallback explains itself when an NVIDIA GPU sits unused."""

from __future__ import annotations

import logging

import pytest
import torch
from layerbridge.daemon.config import EngineSettings
from layerbridge.daemon.engine import devices

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")


def _pick(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, *, nvidia_smi: bool,
          cuda_build: str | None) -> devices.Device:
    monkeypatch.setattr(devices.shutil, "which", lambda name: "/usr/bin/nvidia-smi" if nvidia_smi else None)
    monkeypatch.setattr(torch.version, "cuda", cuda_build)
    with caplog.at_level(logging.WARNING, logger=devices.__name__):
        return devices.pick_device(EngineSettings())


def test_a_cpu_only_torch_beside_an_nvidia_gpu_says_how_to_get_the_cuda_build(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    device = _pick(monkeypatch, caplog, nvidia_smi=True, cuda_build=None)
    assert device.type == "cpu"
    assert "torch build is CPU-only" in caplog.text and "download.pytorch.org" in caplog.text


def test_a_cuda_build_without_a_usable_device_points_at_the_driver(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    _pick(monkeypatch, caplog, nvidia_smi=True, cuda_build="12.8")
    assert "no CUDA device is usable" in caplog.text and "nvidia-smi" in caplog.text


def test_a_machine_without_an_nvidia_gpu_runs_on_the_cpu_quietly(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    assert _pick(monkeypatch, caplog, nvidia_smi=False, cuda_build=None).type == "cpu"
    assert caplog.text == ""


def test_a_gpu_index_beyond_the_machines_devices_is_refused_by_name(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from layerbridge.daemon.errors import InvalidInput

    monkeypatch.setattr(devices.torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(devices.torch.cuda, "device_count", lambda: 2)
    with pytest.raises(InvalidInput) as refused:
        devices.pick_device(EngineSettings(device="cuda:2"))
    assert refused.value.field == "engine.device" and "2 CUDA device(s)" in str(refused.value)


def test_a_gpu_index_needs_cuda_at_all() -> None:
    from layerbridge.daemon.errors import InvalidInput

    if devices.torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(InvalidInput) as refused:
        devices.pick_device(EngineSettings(device="cuda:0"))
    assert "no CUDA device" in str(refused.value)

"""SD-2 epsilon vs v-prediction: read from the file (metadata, a `v_pred` key, the SD-2 norm-bias
test ComfyUI uses), shown in the registry, overridable per model, and sampled accordingly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from layerbridge.daemon.config import Paths
from layerbridge.daemon.engine.detect import V_TEST_KEY, detect
from layerbridge.daemon.engine.registry import Registry
from layerbridge.daemon.errors import InvalidInput
from safetensors.torch import save_file

UNET = "model.diffusion_model."
SD2 = {
    UNET + "input_blocks.0.0.weight": torch.zeros(8, 4, 3, 3),
    "cond_stage_model.model.token_embedding.weight": torch.zeros(8, 4),
}


def sd2_file(path: Path, *, bias_std: float | None = None, metadata: dict[str, str] | None = None,
             **extra: torch.Tensor) -> Path:
    tensors = dict(SD2, **extra)
    if bias_std is not None:
        g = torch.Generator().manual_seed(0)
        tensors[V_TEST_KEY] = torch.randn(320, generator=g) * bias_std
    save_file(tensors, str(path), metadata=metadata)
    return path


@pytest.mark.parametrize(
    ("kw", "prediction", "source"),
    [
        ({"metadata": {"modelspec.prediction_type": "v"}}, "v_prediction", "metadata"),
        ({"metadata": {"modelspec.prediction_type": "epsilon"}, "bias_std": 0.3}, "epsilon",
         "metadata"),
        ({"metadata": {"modelspec.architecture": "stable-diffusion-v2-512"}}, "epsilon", "metadata"),
        ({"metadata": {"ss_v_parameterization": "True"}}, "v_prediction", "metadata"),
        ({"v_pred": torch.zeros(())}, "v_prediction", "v_pred key"),
        ({"bias_std": 0.3}, "v_prediction", "norm test"),  # spread like 768-v's
        ({"bias_std": 0.02}, "epsilon", "norm test"),  # tight like the 512 base's
    ],
    ids=["spec-v", "spec-eps-wins", "spec-512", "kohya-v", "v_pred-key", "wide-bias", "tight-bias"],
)
def test_sd2_sampling_is_read_from_the_file(
    tmp_path: Path, kw: dict[str, object], prediction: str, source: str
) -> None:
    found = detect(sd2_file(tmp_path / "sd2.safetensors", **kw))  # type: ignore[arg-type]
    assert (found.arch, found.prediction, found.prediction_source) == ("sd2", prediction, source)


def test_an_sd2_pickle_from_the_512_base_run_is_epsilon(tmp_path: Path) -> None:
    path = tmp_path / "512-base-ema.ckpt"
    torch.save({"global_step": 875000, "state_dict": dict(SD2)}, path)
    assert detect(path, allow_pickle=True).prediction == "epsilon"


def test_sd1_checkpoints_are_epsilon(tmp_path: Path) -> None:
    path = tmp_path / "sd15.safetensors"
    save_file({UNET + "input_blocks.0.0.weight": torch.zeros(8, 4, 3, 3),
               "cond_stage_model.transformer.text_model.x": torch.zeros(2)}, str(path))
    assert detect(path).prediction == "epsilon"


def test_prediction_is_listed_and_overridden_per_model(tmp_path: Path) -> None:
    reg = Registry(Paths(tmp_path / "data").ensure())
    file = sd2_file(tmp_path / "v2-1_768.safetensors", bias_std=0.3)
    info = reg.add(file, model_id="v")
    assert (info.prediction, info.native_side) == ("v_prediction", 768)
    base = reg.add(file, model_id="base", prediction="epsilon")  # the file is wrong: say so
    assert (base.prediction, base.native_side) == ("epsilon", 512)
    assert reg.update("v", prediction="eps").prediction == "epsilon"
    assert reg.update("v", prediction="v").prediction == "v_prediction"
    with pytest.raises(InvalidInput) as err:
        reg.update("v", prediction="x0")
    assert err.value.field == "prediction"


def test_the_engine_samples_with_the_recorded_prediction(tmp_path: Path) -> None:
    from layerbridge.daemon.engine.pipelines import load_checkpoint

    from . import tiny_real
    from .ldm import write_sd2_single_file

    pipe = tiny_real.sd(family="openclip")
    file = tmp_path / "sd2-tiny.safetensors"
    write_sd2_single_file(pipe, file, metadata={"modelspec.prediction_type": "v"})
    config = tiny_real.config_folder(pipe, tmp_path / "config")  # its scheduler says epsilon
    reg = Registry(Paths(tmp_path / "data").ensure())
    reg.add(file, model_id="m", config=config)
    assert reg.get("m").arch == "sd2"
    assert load_checkpoint(reg.get("m")).scheduler.config.prediction_type == "v_prediction"
    reg.update("m", prediction="epsilon")
    assert load_checkpoint(reg.get("m")).scheduler.config.prediction_type == "epsilon"

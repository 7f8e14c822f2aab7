"""VAEs of their own: a single file in the LDM layout A1111/Civitai ship and a diffusers
AutoencoderKL folder, chosen per job or per checkpoint, used for that job only."""

from __future__ import annotations

from pathlib import Path

import pytest
from layerbridge.daemon.config import EngineSettings, Paths
from layerbridge.daemon.engine.demo import _vae
from layerbridge.daemon.engine.engine import DiffusersEngine
from layerbridge.daemon.engine.registry import Registry
from layerbridge.daemon.errors import InvalidInput
from safetensors.torch import save_file

from .helpers import gradient, params, run
from .ldm import vae_to_ldm


def vae_files(tmp_path: Path) -> tuple[Path, Path]:
    """The same VAE weights as `vae-ft-mse-840000-ema-pruned.safetensors` lays them out (LDM
    names, no `first_stage_model.` prefix) and as a diffusers folder."""
    vae = _vae(seed=77)
    folder = tmp_path / "sd-vae-ft-mse"
    vae.save_pretrained(folder)
    ldm = vae_to_ldm(vae.state_dict(), vae.config)
    single = tmp_path / "vae-ft-mse-840000-ema-pruned.safetensors"
    save_file(
        {k.removeprefix("first_stage_model."): v.contiguous() for k, v in ldm.items()}, str(single)
    )
    return single, folder


@pytest.fixture
def vae_daemon(demo_paths: Paths, tmp_path: Path) -> tuple[Registry, DiffusersEngine]:
    paths = Paths(tmp_path / "data").ensure()
    reg = Registry(paths)
    reg.add(demo_paths.models / "demo", model_id="demo")
    reg.add(demo_paths.models / "demo-lora.safetensors", model_id="demo-lora")
    single, folder = vae_files(tmp_path)
    for path, model_id in ((single, "mse"), (folder, "mse-folder")):
        info = reg.add(path, model_id=model_id)
        assert (info.kind, info.arch) == ("vae", "sd")
    return reg, DiffusersEngine(paths, EngineSettings(threads=1))


def image(eng: DiffusersEngine, **kw: object) -> bytes:
    return bytes(run(eng, params(**kw))[0].image.tobytes())


def test_a_single_file_vae_decodes_like_the_same_weights_in_a_diffusers_folder(
    vae_daemon: tuple[Registry, DiffusersEngine],
) -> None:
    _, eng = vae_daemon
    own = image(eng)
    single = image(eng, vae="mse")
    assert single != own
    assert image(eng, vae="mse-folder") == single
    assert image(eng) == own  # the job's VAE was for that job only
    photo = gradient(64, 64)
    refined = [
        run(eng, params("refine", strength=0.5, **vae), image=photo)[0].image.tobytes()
        for vae in ({"vae": "mse"}, {})
    ]
    assert refined[0] != refined[1]


def test_a_checkpoint_decodes_with_its_default_vae_until_it_is_cleared(
    vae_daemon: tuple[Registry, DiffusersEngine],
) -> None:
    reg, eng = vae_daemon
    own, with_vae = image(eng), image(eng, vae="mse")
    assert reg.update("demo", vae="mse").vae == "mse"
    assert image(eng) == with_vae
    assert reg.update("demo", vae="").vae is None
    assert image(eng) == own


def test_what_is_not_a_vae_is_refused_by_its_field(
    vae_daemon: tuple[Registry, DiffusersEngine],
) -> None:
    reg, eng = vae_daemon
    with pytest.raises(InvalidInput) as err:
        image(eng, vae="demo-lora")
    assert err.value.field == "vae" and "not a VAE" in err.value.message
    with pytest.raises(InvalidInput) as err:
        reg.update("demo", vae="demo-lora")
    assert err.value.field == "vae"
    with pytest.raises(InvalidInput) as err:
        reg.update("mse", vae="mse-folder")
    assert err.value.field == "vae" and "not a checkpoint" in err.value.message


def test_a_16_channel_vae_is_refused_at_add_naming_its_family(tmp_path: Path) -> None:
    import torch

    path = tmp_path / "ae.safetensors"  # FLUX's ae.safetensors: 16 latent channels
    save_file(
        {"encoder.conv_in.weight": torch.zeros(8, 3, 3, 3), "decoder.conv_in.weight": torch.zeros(8, 16, 3, 3)},
        str(path),
    )
    with pytest.raises(InvalidInput) as err:
        Registry(Paths(tmp_path / "data").ensure()).add(path)
    assert "16 latent channels" in err.value.message and "FLUX" in err.value.message


def test_models_set_on_the_command_line_gives_a_checkpoint_its_default_vae_and_takes_it_back(
    vae_daemon: tuple[Registry, DiffusersEngine], capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from layerbridge.daemon.cli import main

    reg, _ = vae_daemon
    data = ["--data-dir", str(tmp_path / "data")]
    assert main([*data, "models", "set", "demo", "--vae", "mse"]) == 0
    assert reg.get("demo").info.vae == "mse"
    assert "demo: vae mse" in capsys.readouterr().out
    assert main([*data, "models", "set", "demo", "--own-vae"]) == 0
    assert reg.get("demo").info.vae is None
    assert main([*data, "models", "set", "demo"]) == 2  # nothing to change: said, not a traceback
    assert "nothing to change" in capsys.readouterr().err

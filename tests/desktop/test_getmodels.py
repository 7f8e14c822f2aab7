"""Getting a first model: Hugging Face ids, disk space, and progress read from the CLI's output."""

from __future__ import annotations

from pathlib import Path

from layerbridge.desktop.catalog import display_name
from layerbridge.desktop.getmodels import hf_problem, percent_of, space_problem, total_of


def test_a_hugging_face_id_is_organisation_slash_name() -> None:
    assert hf_problem("stabilityai/sd-turbo") is None
    assert hf_problem("hf:stabilityai/sd-turbo") is None
    assert hf_problem("https://huggingface.co/stabilityai/sd-turbo") is None
    problem = hf_problem("sd turbo")
    assert problem is not None and "organisation/name" in problem and "'sd turbo'" in problem


def test_a_download_that_cannot_fit_is_refused_before_it_starts(tmp_path: Path) -> None:
    assert space_problem(tmp_path / "models" / "new", need=1) is None  # a folder not made yet
    problem = space_problem(tmp_path, need=1 << 60)
    assert problem is not None and "GiB free" in problem and str(tmp_path) in problem


def test_progress_is_the_last_percentage_a_tqdm_line_shows() -> None:
    assert percent_of("Fetching 15 files:  40%|████      | 6/15 [00:02<00:03]") == 40
    assert percent_of("unet/diffusion_pytorch_model.safetensors: 100%|██████| 3.44G/3.44G") == 100
    assert percent_of("added sd-turbo (checkpoint, sd21, diffusers)") is None
    bar = "[##########               ]  40%    123.4/2048.0 MiB unet/diffusion_pytorch_model.fp16"
    assert percent_of(bar) == 40 and total_of(bar) == 2048 << 20  # `models add hf:`'s own bar
    assert total_of("Fetching 15 files:  40%") is None


def test_an_imported_files_name_drops_its_suffix() -> None:
    assert display_name("inkwash.safetensors") == "inkwash"
    assert display_name("v1-5-pruned.CKPT") == "v1-5-pruned"
    assert display_name("stabilityai/sd-turbo") == "stabilityai/sd-turbo"
    assert display_name(".safetensors") == ".safetensors"

"""`hf:` imports fetch only what a pipeline is loaded from (the fp16 variant where there is one),
report byte progress and stop when cancelled. The file lists are those of the public repos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from layerbridge.daemon.engine.download import Chosen, _fetch, select_files, split_source
from layerbridge.daemon.errors import Cancelled, InvalidInput

SD15 = """
.gitattributes README.md model_index.json v1-inference.yaml
v1-5-pruned-emaonly.ckpt v1-5-pruned-emaonly.safetensors v1-5-pruned.ckpt v1-5-pruned.safetensors
feature_extractor/preprocessor_config.json
safety_checker/config.json safety_checker/model.fp16.safetensors safety_checker/model.safetensors
safety_checker/pytorch_model.bin safety_checker/pytorch_model.fp16.bin
scheduler/scheduler_config.json
text_encoder/config.json text_encoder/model.fp16.safetensors text_encoder/model.safetensors
text_encoder/pytorch_model.bin text_encoder/pytorch_model.fp16.bin
tokenizer/merges.txt tokenizer/special_tokens_map.json tokenizer/tokenizer_config.json
tokenizer/vocab.json
unet/config.json unet/diffusion_pytorch_model.bin unet/diffusion_pytorch_model.fp16.bin
unet/diffusion_pytorch_model.fp16.safetensors unet/diffusion_pytorch_model.non_ema.bin
unet/diffusion_pytorch_model.non_ema.safetensors unet/diffusion_pytorch_model.safetensors
vae/config.json vae/diffusion_pytorch_model.bin vae/diffusion_pytorch_model.fp16.bin
vae/diffusion_pytorch_model.fp16.safetensors vae/diffusion_pytorch_model.safetensors
""".split()  # noqa: SIM905 - one name per word reads like the listing
SD15_INDEX = {
    "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.6.0",
    "feature_extractor": ["transformers", "CLIPImageProcessor"],
    "safety_checker": ["stable_diffusion", "StableDiffusionSafetyChecker"],
    "scheduler": ["diffusers", "PNDMScheduler"], "text_encoder": ["transformers", "CLIPTextModel"],
    "tokenizer": ["transformers", "CLIPTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
}  # fmt: skip

SDXL = """
model_index.json sd_xl_base_1.0.safetensors sd_xl_base_1.0_0.9vae.safetensors
sd_xl_offset_example-lora_1.0.safetensors
scheduler/scheduler_config.json
text_encoder/config.json text_encoder/flax_model.msgpack text_encoder/model.fp16.safetensors
text_encoder/model.onnx text_encoder/model.safetensors text_encoder/openvino_model.bin
text_encoder_2/config.json text_encoder_2/model.fp16.safetensors text_encoder_2/model.onnx
text_encoder_2/model.onnx_data text_encoder_2/model.safetensors
tokenizer/merges.txt tokenizer/special_tokens_map.json tokenizer/tokenizer_config.json
tokenizer/vocab.json tokenizer_2/merges.txt tokenizer_2/special_tokens_map.json
tokenizer_2/tokenizer_config.json tokenizer_2/vocab.json
unet/config.json unet/diffusion_flax_model.msgpack unet/diffusion_pytorch_model.fp16.safetensors
unet/diffusion_pytorch_model.safetensors unet/model.onnx unet/model.onnx_data
vae/config.json vae/diffusion_pytorch_model.fp16.safetensors vae/diffusion_pytorch_model.safetensors
vae_1_0/config.json vae_1_0/diffusion_pytorch_model.fp16.safetensors
vae_decoder/config.json vae_decoder/model.onnx vae_encoder/model.onnx
""".split()  # noqa: SIM905 - one name per word reads like the listing
SDXL_INDEX = {
    "_class_name": "StableDiffusionXLPipeline", "force_zeros_for_empty_prompt": True,
    "scheduler": ["diffusers", "EulerDiscreteScheduler"],
    "text_encoder": ["transformers", "CLIPTextModel"],
    "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
    "tokenizer": ["transformers", "CLIPTokenizer"], "tokenizer_2": ["transformers", "CLIPTokenizer"],
    "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
    "feature_extractor": [None, None], "image_encoder": [None, None],
}  # fmt: skip


def test_an_sd15_repo_fetches_its_fp16_components_and_nothing_else() -> None:
    chosen = select_files(SD15, SD15_INDEX)
    assert sorted(chosen) == sorted([
        "model_index.json", "scheduler/scheduler_config.json",
        "text_encoder/config.json", "text_encoder/model.fp16.safetensors",
        "tokenizer/merges.txt", "tokenizer/special_tokens_map.json",
        "tokenizer/tokenizer_config.json", "tokenizer/vocab.json",
        "unet/config.json", "unet/diffusion_pytorch_model.fp16.safetensors",
        "vae/config.json", "vae/diffusion_pytorch_model.fp16.safetensors",
    ])  # fmt: skip
    # not the 4-7 GB single files at the root, the pickles, the safety checker, the EMA weights


def test_an_sdxl_repo_fetches_both_encoders_and_tokenizers_in_fp16() -> None:
    chosen = select_files(SDXL, SDXL_INDEX)
    assert "text_encoder_2/model.fp16.safetensors" in chosen and "tokenizer_2/vocab.json" in chosen
    assert not [n for n in chosen if n.startswith(("vae_1_0/", "vae_decoder/", "sd_xl_"))]
    assert not [n for n in chosen if n.endswith((".onnx", ".msgpack", ".bin", ".onnx_data"))]
    assert "unet/diffusion_pytorch_model.safetensors" not in chosen


def test_a_component_without_fp16_falls_back_to_its_plain_weights() -> None:
    names = [n for n in SD15 if n != "vae/diffusion_pytorch_model.fp16.safetensors"]
    chosen = select_files(names, SD15_INDEX)
    assert "vae/diffusion_pytorch_model.safetensors" in chosen
    assert "unet/diffusion_pytorch_model.fp16.safetensors" in chosen


def test_sharded_weights_come_with_their_index() -> None:
    names = ["model_index.json", "unet/config.json",
             "unet/diffusion_pytorch_model.safetensors.index.json",
             "unet/diffusion_pytorch_model-00001-of-00002.safetensors",
             "unet/diffusion_pytorch_model-00002-of-00002.safetensors"]  # fmt: skip
    chosen = select_files(names, {"unet": ["diffusers", "UNet2DConditionModel"]})
    assert sorted(chosen) == sorted(names)


def test_a_component_with_only_pickles_is_refused_before_downloading() -> None:
    names = [n for n in SD15 if not (n.startswith("unet/") and n.endswith(".safetensors"))]
    with pytest.raises(InvalidInput) as err:
        select_files(names, SD15_INDEX)
    assert "unet" in err.value.message and "safetensors" in err.value.message


def test_controlnet_and_lora_repos() -> None:
    cn = ["config.json", "diffusion_pytorch_model.bin", "diffusion_pytorch_model.fp16.safetensors",
          "diffusion_pytorch_model.safetensors", "images/input.png"]  # fmt: skip
    assert select_files(cn, None) == ["config.json", "diffusion_pytorch_model.fp16.safetensors"]
    lora = ["README.md", "pytorch_lora_weights.safetensors", "image_0.png"]
    assert select_files(lora, None) == ["pytorch_lora_weights.safetensors"]
    with pytest.raises(InvalidInput) as err:
        select_files(["a.safetensors", "b.safetensors"], None)
    assert "hf:OWNER/NAME/FILE" in err.value.message


def test_sources_name_a_repo_or_one_file() -> None:
    assert split_source("stabilityai/sdxl-vae") == ("stabilityai/sdxl-vae", None)
    assert split_source("a/b/sub/x.safetensors") == ("a/b", "sub/x.safetensors")
    for bad in ("just-a-name", "a/../../etc", "a b/c"):
        with pytest.raises(InvalidInput):
            split_source(bad)


class Downloader:
    """Stands in for huggingface_hub.hf_hub_download: drives `tqdm_class` the way its
    http_get does (a bar made with total/initial, update() per chunk) and writes the file."""

    def __init__(self, sizes: dict[str, int], resumed: dict[str, int] | None = None) -> None:
        self.sizes = sizes
        self.resumed = resumed or {}
        self.calls: list[str] = []

    def __call__(self, repo: str, name: str, *, revision: Any, local_dir: Path,
                 tqdm_class: Any) -> str:
        self.calls.append(name)
        start = self.resumed.get(name, 0)
        with tqdm_class(total=self.sizes[name], initial=start, desc=name, unit="B") as bar:
            for _ in range(start, self.sizes[name], 100):
                bar.update(100)
        (local_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (local_dir / name).write_bytes(b"x")
        return str(local_dir / name)


def test_progress_counts_bytes_of_all_chosen_files_and_cancel_stops(tmp_path: Path) -> None:
    sizes = {"config.json": 100, "unet.safetensors": 1000}
    chosen = Chosen(list(sizes), sizes, "")
    seen: list[tuple[int, int, str]] = []

    def progress(done: int, total: int, file: str) -> bool:
        seen.append((done, total, file))
        return False

    _fetch("a/b", chosen, tmp_path, None, progress, Downloader(sizes))
    assert seen[-1] == (1100, 1100, "") and all(t == 1100 for _, t, _ in seen)
    assert [d for d, _, _ in seen] == sorted(d for d, _, _ in seen)

    fetcher = Downloader(sizes)
    with pytest.raises(Cancelled) as err:
        _fetch("a/b", chosen, tmp_path, None, lambda d, t, f: d >= 500, fetcher)
    assert "resume" in err.value.message and fetcher.calls == ["config.json", "unet.safetensors"]


def test_a_resumed_file_counts_from_where_it_stopped(tmp_path: Path) -> None:
    sizes = {"unet.safetensors": 1000}
    seen: list[int] = []
    _fetch("a/b", Chosen(list(sizes), sizes, ""), tmp_path, None,
           lambda d, t, f: bool(seen.append(d)), Downloader(sizes, resumed={"unet.safetensors": 600}))
    assert seen[1] == 700 and seen[-1] == 1000  # 600 were on disk already

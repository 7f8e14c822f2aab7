"""`hf:` imports: fetch from the Hugging Face Hub only the files a pipeline is loaded from (the
fp16 variant where a component has one), with byte progress, cancel, and resume.

`select_files` decides from the repository's file list and its model_index.json (no network,
tested alone); `download` asks the Hub for the list and fetches each chosen file with
huggingface_hub, which resumes a partial file left by an earlier, interrupted run. Torch-free;
huggingface_hub is imported when a download starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

from ..errors import Cancelled, InvalidInput
from .detect import weights_tag

PICKLE_SUFFIXES = (".bin", ".ckpt", ".pt", ".pth")
# components a pipeline is loaded without (see pipelines.load_checkpoint)
SKIPPED_COMPONENTS = ("safety_checker", "feature_extractor", "image_encoder")
VARIANT = "fp16"
REPO_RE = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}$")


class DownloadProgress(Protocol):
    """Called as bytes arrive; return True to cancel (the partial file is kept for a resume)."""

    def __call__(self, done: int, total: int, file: str) -> bool | None: ...


class Chosen:
    """The files of a repository to fetch, with their sizes, and what they make."""

    def __init__(self, files: list[str], sizes: Mapping[str, int], target: str) -> None:
        self.files = files
        self.sizes = {f: int(sizes.get(f) or 0) for f in files}
        self.target = target  # "" for the repository root, else one file's path

    @property
    def total(self) -> int:
        return sum(self.sizes.values())


def _tag(name: str) -> str | None:
    """The variant a weights file name carries: `model.fp16.safetensors`,
    `x.fp16-00001-of-00002.safetensors`, `x.safetensors.index.fp16.json` -> "fp16"."""
    if ".safetensors.index" in name:
        middle = name.split(".safetensors.index", 1)[1].removesuffix(".json").strip(".")
        return middle or None
    return weights_tag(name)


def is_weights(name: str) -> bool:
    return name.endswith(".safetensors") or (".safetensors.index" in name and name.endswith(".json"))


def _weights(names: list[str], folder: str) -> list[str]:
    """A model component's weights: the fp16 variant when it has one, else the plain
    safetensors (single or sharded with their index); never pickles, Flax, ONNX or TF."""
    inside = [n for n in names if str(PurePosixPath(n).parent) == folder and is_weights(n)]

    def pick(variant: str | None) -> list[str]:
        return [n for n in inside if _tag(PurePosixPath(n).name) == variant]

    return pick(VARIANT) or pick(None)


def select_files(names: list[str], model_index: Mapping[str, Any] | None) -> list[str]:
    """What to fetch of a repository holding `names`: for a pipeline, model_index.json, each
    needed component's config and weights, the tokenizers and the scheduler; for a ControlNet
    or other model folder, its config and weights; for a LoRA folder, its weights file.
    Raises InvalidInput when the repository has nothing this daemon can load safely."""
    if model_index is not None:
        chosen = ["model_index.json"]
        for name, spec in model_index.items():
            if name.startswith("_") or name in SKIPPED_COMPONENTS:
                continue
            if not isinstance(spec, list) or len(spec) != 2 or None in spec:
                continue
            cls = str(spec[1])
            if "Tokenizer" in cls or "Scheduler" in cls:
                chosen += [n for n in names if str(PurePosixPath(n).parent) == name]
                continue
            weights = _weights(names, name)
            if not weights:
                raise InvalidInput("path", name, "this component has no safetensors weights "
                                   "(only pickles or other formats); download it yourself and "
                                   "import the folder with allow_pickle")
            chosen += [n for n in names if n == f"{name}/config.json"] + weights
        return chosen
    if "config.json" in names:
        weights = _weights(names, ".")
        if not weights:
            raise InvalidInput("path", "config.json", "the repository has no safetensors weights")
        return ["config.json", *weights]
    for name in ("pytorch_lora_weights.safetensors", "learned_embeds.safetensors"):
        if name in names:
            return [name]
    files = [n for n in names if n.endswith(".safetensors")]
    if len(files) == 1:
        return files
    raise InvalidInput(
        "path", "hf:", "the repository is not a diffusers pipeline or model folder; name one "
        "file of it as hf:OWNER/NAME/FILE.safetensors"
        + (f" (it has {len(files)}: {', '.join(files[:4])}...)" if files else "")
    )


class _Bar:
    """What huggingface_hub drives as a progress bar (a tqdm stand-in): forwards bytes."""

    def __init__(self, report: Callable[[int], None], **_: Any) -> None:
        self._report = report

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def update(self, n: int = 1) -> None:
        self._report(int(n))

    def close(self) -> None:
        return None


def split_source(source: str) -> tuple[str, str | None]:
    """`owner/name` or `owner/name/path/to/file.safetensors` -> (repo, file)."""
    parts = source.strip("/").split("/")
    repo = "/".join(parts[:2])
    if not REPO_RE.match(repo) or ".." in parts:
        raise InvalidInput("path", f"hf:{source}", "expected hf:OWNER/NAME or hf:OWNER/NAME/FILE")
    return repo, "/".join(parts[2:]) or None


def download(
    source: str,
    root: Path,
    *,
    progress: DownloadProgress | None = None,
    revision: str | None = None,
) -> Path:
    """Fetch what `hf:source` needs into `root/OWNER--NAME` (a stable folder: running it again
    resumes or finds the files there) and return the folder or file to register."""
    repo, single = split_source(source)
    try:
        from huggingface_hub import HfApi, hf_hub_download
    except ImportError:  # pragma: no cover - huggingface_hub comes with diffusers
        raise InvalidInput("path", f"hf:{source}", "huggingface_hub is not installed") from None
    local = root / repo.replace("/", "--")
    try:
        info = HfApi().model_info(repo, revision=revision, files_metadata=True)
        sizes = {s.rfilename: int(s.size or 0) for s in info.siblings or []}
        if single is not None:
            if single not in sizes:
                raise InvalidInput("path", f"hf:{source}", f"{repo} has no file {single!r}")
            files = [single]
        else:
            index = None
            if "model_index.json" in sizes:
                path = hf_hub_download(repo, "model_index.json", revision=revision,
                                       local_dir=local)
                index = json.loads(Path(path).read_text())
            files = select_files(sorted(sizes), index)
        chosen = Chosen(files, sizes, single or "")
        _fetch(repo, chosen, local, revision, progress, hf_hub_download)
    except (InvalidInput, Cancelled):
        raise
    except Exception as exc:  # noqa: BLE001 - network, auth, a missing repository
        raise InvalidInput("path", f"hf:{source}", f"download failed: {str(exc)[:300]}") from None
    return local / chosen.target if chosen.target else local


def _fetch(
    repo: str,
    chosen: Chosen,
    local: Path,
    revision: str | None,
    progress: DownloadProgress | None,
    hf_hub_download: Callable[..., Any],
) -> None:
    done = 0
    for name in chosen.files:
        if progress is not None and progress(done, chosen.total, name):
            raise Cancelled(f"download of {repo} cancelled before {name}; run it again to resume")

        def report(n: int, name: str = name) -> None:
            nonlocal done
            done += n
            if progress is not None and progress(done, chosen.total, name):
                # raised inside huggingface_hub's loop: the `.incomplete` file stays, and the
                # next run resumes it
                raise Cancelled(f"download of {repo} cancelled in {name}; run it again to resume")

        start = done

        def bar(start: int = start, **kwargs: Any) -> _Bar:
            nonlocal done
            done = start + int(kwargs.get("initial") or 0)  # a resumed file starts part-way
            return _Bar(report)

        hf_hub_download(repo, name, revision=revision, local_dir=local, tqdm_class=bar)
        done = start + chosen.sizes.get(name, 0)
    if progress is not None:
        progress(chosen.total, chosen.total, "")

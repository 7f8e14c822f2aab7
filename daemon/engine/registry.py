"""The model registry: one small JSON record per model under `data_dir/models/_registry/`.

Torch-free (the CLI and the server use it). Records are written atomically and read again on
every lookup, so `layerbridge models add` in one process is seen by a running daemon at once.
Clients name models by id; ids are never joined to paths.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Paths
from ..errors import Conflict, InvalidInput, UnknownModel
from ..protocol.messages import ModelInfo
from ..protocol.vocab import ControlNetType
from .detect import KINDS, PICKLE_SUFFIXES, base_arch, detect
from .triggers import DIFFUSERS_FILE, file_tokens

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
RECORDS = "_registry"  # cannot collide with a model folder: ids start with a letter or digit
DEFAULT_FILE = "_default"


CONTROL_TYPES: tuple[str, ...] = tuple(ControlNetType)


def _type_from_name(path: str) -> str | None:
    name = Path(path).name.lower()
    for kind, words in (
        ("union", ("union", "promax")),  # before the map names a union's readme lists
        ("inpaint", ("inpaint",)),
        ("softedge", ("softedge", "hed", "pidi")),
        ("lineart", ("lineart",)),
        ("scribble", ("scribble",)),
        ("canny", ("canny",)),
        ("tile", ("tile",)),
        ("depth", ("depth", "zoe", "midas")),
        ("normal", ("normal",)),
        ("openpose", ("openpose", "pose")),
        ("segmentation", ("seg",)),
        ("mlsd", ("mlsd",)),
        ("shuffle", ("shuffle",)),
    ):
        if any(w in name for w in words):
            return kind
    return None


def valid_id(model_id: str, field: str = "id") -> str:
    if not isinstance(model_id, str) or not ID_RE.match(model_id):
        raise InvalidInput(
            field, model_id, "ids are 1-64 letters, digits, '.', '-', '_' (no paths)"
        )
    return model_id


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: what clients see (`info`) plus where its files are."""

    info: ModelInfo
    path: Path
    pickle: bool = False
    config: Path | None = None  # single files: the diffusers config folder to read them with

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def arch(self) -> str:
        return self.info.arch

    @property
    def base(self) -> str:
        return base_arch(self.info.arch)

    @property
    def kind(self) -> str:
        return self.info.kind


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(root) / name).stat().st_size
    return total


NATIVE_SIDE = {"sd15": 512, "sd2": 768, "sdxl": 1024}


def native_side(path: Path, arch: str) -> int:
    """The square side a checkpoint was trained at: from a diffusers folder's UNet and VAE
    configs (sample_size × 2^(VAE blocks - 1)), else the architecture's usual one."""
    try:
        unet = json.loads((path / "unet" / "config.json").read_text())
        vae = json.loads((path / "vae" / "config.json").read_text())
        return int(unet["sample_size"]) << (len(vae["block_out_channels"]) - 1)
    except (OSError, ValueError, KeyError, TypeError):
        return NATIVE_SIDE.get(base_arch(arch), 512)


class Registry:
    def __init__(self, paths: Paths) -> None:
        self._paths = paths
        self._dir = paths.models / RECORDS

    # ------------------------------------------------------------------ reading

    def _records(self) -> Iterator[dict[str, Any]]:
        if not self._dir.is_dir():
            return
        for file in sorted(self._dir.glob("*.json")):
            try:
                record = json.loads(file.read_text())
            except (OSError, ValueError):
                continue  # half-written by another process or damaged: skip, never crash
            if isinstance(record, dict) and record.get("id") == file.stem:
                yield record

    def _default_id(self) -> str | None:
        try:
            value = (self._dir / DEFAULT_FILE).read_text().strip()
        except OSError:
            return None
        return value or None

    def _entry(self, record: dict[str, Any], default_id: str | None) -> ModelEntry:
        fields = {k: record[k] for k in ModelInfo.model_fields if k in record and k != "default"}
        if record.get("kind") == "checkpoint":
            fields["native_side"] = native_side(Path(record["path"]), record["arch"])
            fields["size_multiple"] = 16 if base_arch(record["arch"]) == "sdxl" else 8
        info = ModelInfo(**fields, default=record["id"] == default_id)
        config = Path(record["config"]) if record.get("config") else None
        return ModelEntry(
            info=info, path=Path(record["path"]), pickle=bool(record.get("pickle")), config=config
        )

    def entries(self) -> list[ModelEntry]:
        default_id = self._default_id()
        return [self._entry(r, default_id) for r in self._records()]

    def list(self) -> list[ModelInfo]:
        return [e.info for e in self.entries()]

    def get(self, model_id: str, *, field: str = "model") -> ModelEntry:
        if not isinstance(model_id, str) or not ID_RE.match(model_id):
            raise UnknownModel(str(model_id), field=field)
        file = self._dir / f"{model_id}.json"
        try:
            record = json.loads(file.read_text())
        except (OSError, ValueError):
            raise UnknownModel(model_id, field=field) from None
        return self._entry(record, self._default_id())

    def default(self) -> ModelInfo | None:
        default_id = self._default_id()
        if default_id is None:
            return None
        try:
            return self.get(default_id).info
        except UnknownModel:
            return None

    def find(self, kind: str, base: str, control_type: str | None = None) -> ModelEntry | None:
        """The first model of `kind` for architecture `base` (and ControlNet type), by id."""
        for e in self.entries():
            if (
                e.kind == kind
                and e.base == base
                and (control_type is None or e.info.control_type == control_type)
            ):
                return e
        return None

    # ------------------------------------------------------------------ writing

    def _write(self, model_id: str, record: dict[str, Any], *, replace: bool) -> None:
        self._dir.mkdir(parents=True, exist_ok=True)
        final = self._dir / f"{model_id}.json"
        fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=".tmp-", suffix=".part")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(record, f, indent=1)
            if replace:
                os.replace(tmp, final)
            else:
                try:
                    os.link(tmp, final)  # atomic and exclusive: two processes cannot both win
                except FileExistsError:
                    raise Conflict(
                        f"id={model_id!r}: a model with this id is already registered", field="id"
                    ) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def register(
        self,
        model_id: str,
        path: Path,
        *,
        kind: str,
        arch: str,
        format: str,
        name: str | None = None,
        control_type: str | None = None,
        trigger_words: builtins.list[str] | None = None,
        default_weight: float | None = None,
        pickle: bool = False,
        replace: bool = False,
        config: Path | None = None,
    ) -> ModelInfo:
        """Record a model whose kind and architecture are already known (the demo builder).
        Replacing a record of the same path keeps its single-file `config` unless one is given."""
        valid_id(model_id)
        if replace and config is None:
            try:
                old = self.get(model_id, field="id")
            except UnknownModel:
                old = None
            if old is not None and old.path == Path(path).resolve():
                config = old.config
        record = {
            "id": model_id,
            "name": name or model_id,
            "arch": arch,
            "kind": kind,
            "format": format,
            "path": str(Path(path).resolve()),
            "size_bytes": _size(Path(path)),
            "control_type": control_type,
            "trigger_words": list(trigger_words or []),
            "default_weight": default_weight,
            "pickle": pickle,
            "config": str(Path(config).resolve()) if config else None,
        }
        self._write(model_id, record, replace=replace)
        return self.get(model_id, field="id").info

    def add(
        self,
        path: str | os.PathLike[str],
        *,
        model_id: str | None = None,
        kind: str | None = None,
        allow_pickle: bool = False,
        name: str | None = None,
        control_type: str | None = None,
        trigger_words: builtins.list[str] | None = None,
        default_weight: float | None = None,
        config: str | os.PathLike[str] | None = None,
    ) -> ModelInfo:
        """Register a diffusers folder or a single file by reference (the files stay where they
        are). `hf:REPO` downloads a diffusers repo with huggingface_hub first (needs a network).
        A single-file checkpoint is read with the config shipped for its detected architecture,
        or with `config` (a diffusers folder of the same architecture) when given."""
        raw = str(path)
        if raw.startswith("hf:"):
            target = self._download(raw[3:])
        else:
            target = Path(raw).expanduser().resolve()
        if not target.exists():
            raise InvalidInput("path", raw, "no such file or folder")
        if kind is not None and kind not in KINDS:
            raise InvalidInput("kind", kind, f"expected one of {', '.join(KINDS)}")
        found = detect(target, allow_pickle=allow_pickle)
        if kind is not None and kind != found.kind:
            raise InvalidInput("kind", kind, f"the file looks like a {found.kind}")
        if control_type is not None and control_type not in CONTROL_TYPES:
            raise InvalidInput(
                "control_type", control_type, f"expected one of {', '.join(CONTROL_TYPES)}"
            )
        if found.kind == "controlnet":
            # the weights do not say what a ControlNet was trained on; the declared type wins,
            # then the one its config records, then the conventional name (control_v11p_sd15_canny)
            control_type = control_type or found.control_type or _type_from_name(raw)
            if found.control_type == "union":  # its weights say so: several types, chosen per job
                control_type = "union"
            if control_type is None:
                raise InvalidInput(
                    "control_type", None, "a ControlNet needs its type (canny, scribble, ...)"
                )
            if control_type == "union" and base_arch(found.arch) != "sdxl":
                raise InvalidInput(
                    "control_type", control_type, f"union ControlNets run with SDXL only, this "
                    f"one is for {found.arch}"
                )
        config_path = None
        if config is not None:
            config_path = Path(config).expanduser().resolve()
            if (
                not (config_path / "model_index.json").is_file()
                and not (config_path / "config.json").is_file()
            ):
                raise InvalidInput("config", str(config), "is not a diffusers folder")
        tokens = file_tokens(target) if found.kind == "embedding" else []
        if trigger_words is None and tokens:  # the token it was trained with calls it too
            trigger_words = tokens
        if model_id is None:
            named = Path(raw[3:]) if raw.startswith("hf:") else target
            if tokens and (named.stem == Path(DIFFUSERS_FILE).stem or named.is_dir()):
                # a training script's file name says nothing; its token does
                named = Path(tokens[0].strip("<>") or named.name)
            model_id = self._free_id(named)
        else:
            valid_id(model_id)
        return self.register(
            model_id,
            target,
            kind=found.kind,
            arch=found.arch,
            format=found.format,
            name=name or (raw[3:] if raw.startswith("hf:") else target.name),
            control_type=(
                control_type
                if found.kind == "controlnet"
                else found.control_type if found.kind == "preprocessor" else None
            ),
            trigger_words=trigger_words,
            default_weight=default_weight,
            pickle=target.suffix.lower() in PICKLE_SUFFIXES,
            config=config_path,
        )

    def _free_id(self, target: Path) -> str:
        stem = (
            target.stem
            if target.suffix.lower() in (".safetensors", *PICKLE_SUFFIXES)
            else target.name
        )
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._")[:56] or "model"
        if not slug[0].isalnum():
            slug = "m" + slug
        candidate, n = slug, 1
        while (self._dir / f"{candidate}.json").exists():
            n += 1
            candidate = f"{slug}-{n}"
        return candidate

    @staticmethod
    def _download(repo: str) -> Path:
        try:
            from huggingface_hub import snapshot_download
        except ImportError:  # pragma: no cover - huggingface_hub comes with diffusers
            raise InvalidInput("path", f"hf:{repo}", "huggingface_hub is not installed") from None
        try:
            return Path(snapshot_download(repo))
        except Exception as exc:  # noqa: BLE001 - network, auth, missing repo
            raise InvalidInput("path", f"hf:{repo}", f"download failed: {exc}") from None

    def remove(self, model_id: str) -> None:
        valid_id(model_id, "model_id")
        try:
            (self._dir / f"{model_id}.json").unlink()
        except FileNotFoundError:
            raise UnknownModel(model_id, field="model_id") from None
        if self._default_id() == model_id:
            (self._dir / DEFAULT_FILE).unlink(missing_ok=True)

    def update(
        self,
        model_id: str,
        *,
        name: str | None = None,
        trigger_words: builtins.list[str] | None = None,
        default_weight: float | None = None,
        vae: str | None = None,
    ) -> ModelInfo:
        """Edit display metadata; the None arguments are left as they are. `vae`: a checkpoint's
        default VAE by id ("" clears it)."""
        entry = self.get(model_id, field="model_id")
        record = json.loads((self._dir / f"{model_id}.json").read_text())
        if name is not None:
            record["name"] = name
        if trigger_words is not None:
            record["trigger_words"] = list(trigger_words)
        if default_weight is not None:
            if entry.kind != "lora":
                raise InvalidInput(
                    "default_weight", default_weight, f"{model_id!r} is a {entry.kind}, not a LoRA"
                )
            record["default_weight"] = default_weight
        if vae is not None:
            if entry.kind != "checkpoint":
                raise InvalidInput("vae", vae, f"{model_id!r} is a {entry.kind}, not a checkpoint")
            if vae and self.get(vae, field="vae").kind != "vae":
                raise InvalidInput("vae", vae, "is not a VAE")
            record["vae"] = vae or None
        self._write(model_id, record, replace=True)
        return self.get(model_id, field="model_id").info

    def locate(self, model_id: str) -> Path:
        """Where the model's files are (a folder or a file)."""
        return self.get(model_id, field="model_id").path

    def set_default(self, model_id: str) -> None:
        entry = self.get(model_id, field="model_id")
        if entry.kind != "checkpoint":
            raise InvalidInput("model_id", model_id, f"is a {entry.kind}, not a checkpoint")
        self._dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._dir, prefix=".tmp-")
        with os.fdopen(fd, "w") as f:
            f.write(model_id)
        os.replace(tmp, self._dir / DEFAULT_FILE)

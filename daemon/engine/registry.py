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

from pydantic import ValidationError

from ..config import Paths
from ..errors import Conflict, InvalidInput, UnknownModel
from ..protocol.messages import ModelInfo
from ..protocol.vocab import ControlNetType
from .detect import KINDS, PICKLE_SUFFIXES, PREDICTIONS, base_arch, detect
from .download import DownloadProgress
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


def prediction_value(value: str, field: str = "prediction") -> str:
    """`v` / `v_prediction` / `epsilon` -> the scheduler's word for it."""
    word = {"v": "v_prediction", "eps": "epsilon"}.get(value, value)
    if word not in PREDICTIONS:
        raise InvalidInput(field, value, "expected v (v_prediction) or epsilon")
    return word


@dataclass(frozen=True)
class BrokenModel:
    """A record that cannot be served (damaged, or its files are gone): listed, removable."""

    id: str
    path: str | None
    reason: str


class _Broken(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ModelEntry:
    """A registered model: what clients see (`info`) plus where its files are."""

    info: ModelInfo
    path: Path
    pickle: bool = False
    config: Path | None = None  # single files: the diffusers config folder to read them with
    variant: str | None = None  # diffusers folders with only `*.fp16.safetensors` weights

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


def native_side(path: Path, arch: str, prediction: str | None = None) -> int:
    """The square side a checkpoint was trained at: from a diffusers folder's UNet and VAE
    configs (sample_size × 2^(VAE blocks - 1)), else the architecture's usual one (SD-2: 768
    for v-prediction, 512 for the epsilon base)."""
    try:
        unet = json.loads((path / "unet" / "config.json").read_text())
        vae = json.loads((path / "vae" / "config.json").read_text())
        return int(unet["sample_size"]) << (len(vae["block_out_channels"]) - 1)
    except (OSError, ValueError, KeyError, TypeError):
        if base_arch(arch) == "sd2" and prediction == "epsilon":
            return 512
        return NATIVE_SIDE.get(base_arch(arch), 512)


class Registry:
    def __init__(self, paths: Paths) -> None:
        self._paths = paths
        self._dir = paths.models / RECORDS

    # ------------------------------------------------------------------ reading

    def _scan(self) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
        """(id, record, why it is unreadable) for every record file, by id."""
        if not self._dir.is_dir():
            return
        for file in sorted(self._dir.glob("*.json")):
            try:
                record = json.loads(file.read_text())
            except OSError:
                continue  # vanished between the listing and the read (removed meanwhile)
            except ValueError:
                yield file.stem, None, "its record is not valid JSON"
                continue
            if not isinstance(record, dict) or record.get("id") != file.stem:
                yield file.stem, None, "its record does not name this id"
                continue
            yield file.stem, record, None

    def _default_id(self) -> str | None:
        try:
            value = (self._dir / DEFAULT_FILE).read_text().strip()
        except OSError:
            return None
        return value or None

    def _entry(self, record: dict[str, Any], default_id: str | None) -> ModelEntry:
        """The entry of a record, or `_Broken` saying why it cannot be served."""
        try:
            path = Path(record["path"])
            fields = {k: record[k] for k in ModelInfo.model_fields if k in record and k != "default"}
            if record.get("kind") == "checkpoint":
                fields["native_side"] = native_side(path, record["arch"], record.get("prediction"))
                fields["size_multiple"] = 16 if base_arch(record["arch"]) == "sdxl" else 8
            info = ModelInfo(**fields, default=record["id"] == default_id)
            config = Path(record["config"]) if record.get("config") else None
            variant = record.get("variant")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "record"
            raise _Broken(f"{where}={first.get('input')!r}: {first['msg']}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise _Broken(f"its record is incomplete ({type(exc).__name__}: {exc})") from None
        if not path.exists():
            raise _Broken(f"its files are gone ({path})")
        return ModelEntry(
            info=info,
            path=path,
            pickle=bool(record.get("pickle")),
            config=config,
            variant=str(variant) if variant else None,
        )

    def survey(self) -> tuple[builtins.list[ModelEntry], builtins.list[BrokenModel]]:
        """The servable entries and the broken records, each by id. A broken record never
        hides the others: listing, `hello` and jobs keep working around it."""
        default_id = self._default_id()
        good: builtins.list[ModelEntry] = []
        broken: builtins.list[BrokenModel] = []
        for model_id, record, why in self._scan():
            if record is None:
                broken.append(BrokenModel(model_id, None, why or "unreadable"))
                continue
            try:
                good.append(self._entry(record, default_id))
            except _Broken as exc:
                path = record.get("path")
                broken.append(BrokenModel(model_id, str(path) if path else None, exc.reason))
        return good, broken

    def entries(self) -> builtins.list[ModelEntry]:
        return self.survey()[0]

    def broken(self) -> builtins.list[BrokenModel]:
        return self.survey()[1]

    def list(self) -> builtins.list[ModelInfo]:
        return [e.info for e in self.entries()]

    def get(self, model_id: str, *, field: str = "model") -> ModelEntry:
        if not isinstance(model_id, str) or not ID_RE.match(model_id):
            raise UnknownModel(str(model_id), field=field)
        file = self._dir / f"{model_id}.json"
        try:
            record = json.loads(file.read_text())
        except OSError:
            raise UnknownModel(model_id, field=field) from None
        except ValueError:
            record = None
        if not isinstance(record, dict) or record.get("id") != model_id:
            raise InvalidInput(field, model_id, "is registered but its record is damaged; "
                               f"remove it with `layerbridge models remove {model_id}`")
        try:
            return self._entry(record, self._default_id())
        except _Broken as exc:
            raise InvalidInput(field, model_id, f"is registered but broken: {exc.reason}; "
                               f"remove it with `layerbridge models remove {model_id}`") from None

    def default(self) -> ModelInfo | None:
        default_id = self._default_id()
        if default_id is None:
            return None
        try:
            return self.get(default_id).info
        except (UnknownModel, InvalidInput):  # gone or broken: no default rather than no daemon
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
        prediction: str | None = None,
        prediction_source: str | None = None,
        variant: str | None = None,
    ) -> ModelInfo:
        """Record a model whose kind and architecture are already known (the demo builder).
        Replacing a record of the same path keeps its single-file `config` unless one is given."""
        valid_id(model_id)
        if replace and config is None:
            try:
                old = self.get(model_id, field="id")
            except (UnknownModel, InvalidInput):
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
            "prediction": prediction,
            "prediction_source": prediction_source,
            "variant": variant,
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
        prediction: str | None = None,
        progress: DownloadProgress | None = None,
    ) -> ModelInfo:
        """Register a diffusers folder or a single file by reference (the files stay where they
        are). `hf:REPO` downloads what a diffusers pipeline needs first (needs a network).
        A single-file checkpoint is read with the config shipped for its detected architecture,
        or with `config` (a diffusers folder of the same architecture) when given. `prediction`
        (v | epsilon) overrides what the file says about its sampling."""
        raw = str(path)
        if kind is not None and kind not in KINDS:
            raise InvalidInput("kind", kind, f"expected one of {', '.join(KINDS)}")
        if control_type is not None and control_type not in CONTROL_TYPES:
            raise InvalidInput(
                "control_type", control_type, f"expected one of {', '.join(CONTROL_TYPES)}"
            )
        if prediction is not None:
            prediction = prediction_value(prediction)
        if raw.startswith("hf:"):
            from .download import download

            target = download(raw[3:], self._paths.models / "_downloads", progress=progress)
        else:
            target = Path(raw).expanduser().resolve()
        if not target.exists():
            raise InvalidInput("path", raw, "no such file or folder")
        found = detect(target, allow_pickle=allow_pickle)
        if kind is not None and kind != found.kind:
            raise InvalidInput("kind", kind, f"the file looks like a {found.kind}")
        if found.kind == "controlnet":
            if control_type is None and found.control_type not in (None, *CONTROL_TYPES):
                raise InvalidInput(
                    "control_type",
                    found.control_type,
                    "its config.json names a control type this daemon does not know; "
                    f"pass one of {', '.join(CONTROL_TYPES)}",
                )
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
        if prediction is not None and found.kind != "checkpoint":
            raise InvalidInput("prediction", prediction, f"applies to checkpoints, not a {found.kind}")
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
            pickle=found.pickle or target.suffix.lower() in PICKLE_SUFFIXES,
            config=config_path,
            prediction=prediction or found.prediction,
            prediction_source="set at add" if prediction else found.prediction_source,
            variant=found.variant,
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
        prediction: str | None = None,
    ) -> ModelInfo:
        """Edit metadata; the None arguments are left as they are. `vae`: a checkpoint's
        default VAE by id ("" clears it); `prediction`: its sampling (v | epsilon)."""
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
        if prediction is not None:
            if entry.kind != "checkpoint":
                raise InvalidInput(
                    "prediction", prediction, f"{model_id!r} is a {entry.kind}, not a checkpoint"
                )
            record["prediction"] = prediction_value(prediction)
            record["prediction_source"] = "set by hand"
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

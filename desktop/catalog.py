"""Models and LoRAs/embeddings: two table models over the daemon's registry, and the admin
actions on it (import, remove, set default, edit metadata, locate, preview thumbnails)."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

from layerbridge.daemon.client import RemoteError
from layerbridge.daemon.protocol.messages import (
    BrokenModelInfo,
    JobParams,
    LoraSpec,
    ModelInfo,
    ModelLocation,
    ModelsAdd,
    ModelsList,
    ModelsLocate,
    ModelsRemove,
    ModelsReply,
    ModelsSetDefault,
    ModelsUpdate,
    Welcome,
)
from layerbridge.daemon.protocol.vocab import JobKind
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QPixmap

from .connection import DaemonConnection
from .tablemodel import Column, RecordTableModel
from .tasks import spawn

log = logging.getLogger(__name__)

ADAPTERS = ("lora", "embedding")


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


FILE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf")


def display_name(name: str) -> str:
    """A model's name without its file's suffix (the daemon names an imported file after it)."""
    lower = name.lower()
    for suffix in FILE_SUFFIXES:
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _arch(m: ModelInfo) -> str:
    return f"{m.arch} · ControlNet {m.control_type}" if m.kind == "controlnet" else m.arch


CHECKPOINT_COLUMNS: list[Column[ModelInfo]] = [
    Column("Name", lambda m: m.name, tooltip=lambda m: f"id: {m.id}"),
    Column("Architecture", _arch),
    Column("Size", lambda m: human_size(m.size_bytes), align_right=True),
    Column("Format", lambda m: "diffusers folder" if m.format == "diffusers" else "single file"),
    Column("Default", lambda m: "★ default" if m.default else ""),
]

ADAPTER_COLUMNS: list[Column[ModelInfo]] = [
    Column("Name", lambda m: m.name, tooltip=lambda m: f"id: {m.id}"),
    Column("Kind", lambda m: "LoRA" if m.kind == "lora" else "Embedding"),
    Column("Base", lambda m: m.arch),
    Column("Trigger words", lambda m: ", ".join(m.trigger_words)),
    Column("Weight", lambda m: "" if m.default_weight is None else f"{m.default_weight:g}",
           align_right=True),
]


@dataclass(frozen=True)
class PreviewSettings:
    width: int = 256
    height: int = 256
    steps: int = 12
    seed: int = 1234


class CatalogController(QObject):
    changed = Signal()  # the registry changed (a real change)
    busyChanged = Signal(bool)
    thumbnailReady = Signal(str)  # adapter id

    def __init__(self, connection: DaemonConnection, preview: PreviewSettings = PreviewSettings(),
                 parent: QObject | None = None, *, previews_dir: Path | None = None) -> None:
        super().__init__(parent)
        self.connection = connection
        self.preview_settings = preview
        self.previews_dir = previews_dir  # thumbnails kept across restarts (None: memory only)
        self.checkpoints: RecordTableModel[ModelInfo] = RecordTableModel(
            CHECKPOINT_COLUMNS, key=lambda m: m.id)
        self.adapters: RecordTableModel[ModelInfo] = RecordTableModel(
            ADAPTER_COLUMNS, key=lambda m: m.id, decoration=self._thumbnail)
        self.thumbnails: dict[str, QPixmap] = {}  # full size, by adapter id
        self._small: dict[str, QPixmap] = {}  # the table's icon
        self._busy = 0
        self.broken: list[BrokenModelInfo] = []  # records the daemon cannot serve, to remove
        connection.connected.connect(self._on_connected)

    # ------------------------------------------------------------------ state

    def apply(self, models: list[ModelInfo], broken: list[BrokenModelInfo] | None = None) -> bool:
        """Show `models` (and, when the reply listed them, the broken records); True if any changed."""
        changed_broken = broken is not None and broken != self.broken
        if broken is not None:
            self.broken = list(broken)
        order = sorted(models, key=lambda m: (m.kind != "checkpoint", m.kind, m.name.lower()))
        a = self.checkpoints.set_records([m for m in order if m.kind not in ADAPTERS])
        for m in order:
            if m.kind in ADAPTERS and m.id not in self.thumbnails:
                self._load_thumbnail(m.id)
        b = self.adapters.set_records([m for m in order if m.kind in ADAPTERS])
        if a or b or changed_broken:
            self.changed.emit()
        return a or b or changed_broken

    def default_for(self, arch: str) -> ModelInfo | None:
        """The checkpoint to try an adapter with: the default if it fits `arch`, else the first."""
        fits = [m for m in self.checkpoints.records()
                if m.kind == "checkpoint" and m.arch.split("-")[0] == arch.split("-")[0]]
        return next((m for m in fits if m.default), fits[0] if fits else None)

    def _on_connected(self, welcome: Welcome) -> None:
        self.apply(welcome.models, [])
        if welcome.scope == "admin":  # the welcome lists what serves; models.list the broken too
            spawn(self.refresh())

    async def remove_broken(self) -> list[str]:
        """Unregister every record the daemon cannot serve; returns their ids."""
        ids = [b.id for b in self.broken]
        for model_id in ids:
            await self.remove(model_id)
        return ids

    def _thumbnail(self, model: ModelInfo) -> QPixmap | None:
        return self._small.get(model.id)

    def preview_file(self, model_id: str) -> Path | None:
        return self.previews_dir / f"{model_id}.png" if self.previews_dir else None

    def _load_thumbnail(self, model_id: str) -> None:
        path = self.preview_file(model_id)
        if path is None or not path.is_file():
            return
        pixmap = QPixmap()
        if pixmap.load(str(path)):
            self._keep(model_id, pixmap)

    def _keep(self, model_id: str, pixmap: QPixmap) -> None:
        self.thumbnails[model_id] = pixmap
        self._small[model_id] = pixmap.scaled(48, 48, Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.SmoothTransformation)

    # ------------------------------------------------------------------ actions

    async def refresh(self) -> None:
        reply = await self.connection.request(ModelsList(), ModelsReply)
        self.apply(reply.models, reply.broken)

    async def add(self, path: str, *, kind: str | None = None, allow_pickle: bool = False,
                  model_id: str | None = None) -> ModelInfo:
        """Register a file or folder on the daemon's disk; returns the new model."""
        before = {m.id for m in self.checkpoints.records() + self.adapters.records()}
        async with self._working():
            reply = await self.connection.request(
                ModelsAdd(path=path, kind=kind, allow_pickle=allow_pickle, model_id=model_id),  # type: ignore[arg-type]
                ModelsReply)
        self.apply(reply.models, reply.broken)
        new = [m for m in reply.models if m.id not in before]
        if not new:
            raise RemoteError("conflict", f"{path} was not added")
        added = new[0]
        name = display_name(added.name)
        if name != added.name:  # "ink.safetensors" reads as "ink" everywhere else
            await self.update(added.id, name=name)
            added = added.model_copy(update={"name": name})
        return added

    async def remove(self, model_id: str) -> None:
        async with self._working():
            reply = await self.connection.request(ModelsRemove(model_id=model_id), ModelsReply)
        self.thumbnails.pop(model_id, None)
        self._small.pop(model_id, None)
        path = self.preview_file(model_id)
        if path is not None:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        self.apply(reply.models, reply.broken)

    async def set_default(self, model_id: str) -> None:
        reply = await self.connection.request(ModelsSetDefault(model_id=model_id), ModelsReply)
        self.apply(reply.models, reply.broken)

    async def update(self, model_id: str, *, name: str | None = None,
                     trigger_words: list[str] | None = None,
                     default_weight: float | None = None) -> None:
        reply = await self.connection.request(
            ModelsUpdate(model_id=model_id, name=name, trigger_words=trigger_words,
                         default_weight=default_weight), ModelsReply)
        self.apply(reply.models, reply.broken)

    async def locate(self, model_id: str) -> str:
        reply = await self.connection.request(ModelsLocate(model_id=model_id), ModelLocation)
        return reply.path

    async def preview(self, adapter_id: str) -> QPixmap:
        """Generate a thumbnail of an adapter with the default checkpoint of its architecture."""
        adapter = self.adapters.get(adapter_id)
        if adapter is None:
            raise RemoteError("unknown_model", f"no LoRA or embedding {adapter_id!r}")
        base = self.default_for(adapter.arch)
        if base is None:
            raise RemoteError("unknown_model", f"no {adapter.arch} checkpoint to preview it with")
        p = self.preview_settings
        words = ", ".join(adapter.trigger_words) or adapter.name
        loras = ([LoraSpec(id=adapter.id, weight=adapter.default_weight or 1.0)]
                 if adapter.kind == "lora" else [])
        params = JobParams(kind=JobKind.GENERATE, model=base.id, prompt=words, seed=p.seed,
                           steps=p.steps, width=p.width, height=p.height, loras=loras)
        async with self._working():
            images = await self.connection.run(params)
        return self.keep_preview(adapter_id, images[0])

    def keep_preview(self, adapter_id: str, png: bytes) -> QPixmap:
        """Make `png` the adapter's thumbnail, kept across restarts in the previews folder."""
        pixmap = QPixmap()
        pixmap.loadFromData(png, "PNG")
        self._keep(adapter_id, pixmap)
        path = self.preview_file(adapter_id)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(png)
            except OSError as exc:
                log.warning("could not keep the preview of %s in %s: %s", adapter_id, path, exc)
        self.adapters.refresh_row(adapter_id)
        self.thumbnailReady.emit(adapter_id)
        return pixmap

    def _working(self) -> _Busy:
        return _Busy(self)


class _Busy:
    """Counts actions in flight; `busyChanged` fires on 0 → 1 and 1 → 0 only."""

    def __init__(self, owner: CatalogController) -> None:
        self.owner = owner

    async def __aenter__(self) -> None:
        self.owner._busy += 1
        if self.owner._busy == 1:
            self.owner.busyChanged.emit(True)

    async def __aexit__(self, *exc: object) -> None:
        self.owner._busy -= 1
        if self.owner._busy == 0:
            self.owner.busyChanged.emit(False)

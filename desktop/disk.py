"""What Layerbridge keeps on disk: the models' registered sizes (any daemon) and, for the local
daemon, the blob store (uploads and results) and the ledger, measured off the UI thread."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from layerbridge.daemon.config import Paths
from layerbridge.daemon.protocol.messages import ModelInfo, StorageReply

from .catalog import human_size


def folder_bytes(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue  # removed while walking
    return total


@dataclass(frozen=True)
class DiskUse:
    models: int
    blobs: int | None = None  # None: on the daemon's machine (remote)
    ledger: int | None = None

    @property
    def text(self) -> str:
        parts = [f"models {human_size(self.models)}"]
        if self.blobs is None:
            parts.append("uploads and results: on the daemon's machine")
        else:
            parts.append(f"uploads and results {human_size(self.blobs)}")
        if self.ledger is not None:
            parts.append(f"job ledger {human_size(self.ledger)}")
        return " · ".join(parts)


def of_reply(reply: StorageReply) -> DiskUse:
    return DiskUse(reply.models_bytes, reply.blobs_bytes, reply.ledger_bytes)


async def measure(models: list[ModelInfo], paths: Paths | None) -> DiskUse:
    """Models by their registered size (files imported in place count where they are)."""
    model_bytes = sum(m.size_bytes for m in models)
    if paths is None:
        return DiskUse(model_bytes)
    blobs = await asyncio.to_thread(folder_bytes, paths.blobs)
    ledger = sum(p.stat().st_size for p in paths.root.glob(paths.ledger.name + "*") if p.is_file())
    return DiskUse(model_bytes, blobs, ledger)

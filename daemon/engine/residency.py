"""What stays loaded: checkpoints and ControlNets kept across jobs within a memory budget,
least recently used evicted first; a model larger than the whole budget runs with model CPU
offload (on CUDA) instead of being refused."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from .devices import Device, release_memory


@dataclass
class Resident:
    key: str
    kind: str  # checkpoint | controlnet
    obj: Any  # a diffusers pipeline or a ControlNetModel
    nbytes: int
    offloaded: bool = False
    state: dict[str, Any] = field(default_factory=dict)  # adapters, embeddings, task pipelines


class Residency:
    def __init__(self, device: Device, budget_bytes: int) -> None:
        self.device = device
        self.budget = budget_bytes
        self._items: OrderedDict[str, Resident] = OrderedDict()
        self.evictions: list[str] = []  # ids evicted, oldest first (for status and tests)

    def get(self, key: str) -> Resident | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def used(self) -> int:
        return sum(r.nbytes for r in self._items.values() if not r.offloaded)

    def keys(self) -> list[str]:
        """Resident ids, most recently used first."""
        return list(reversed(self._items))

    def fits(self, nbytes: int) -> bool:
        return nbytes <= self.budget

    def make_room(self, nbytes: int, *, keep: tuple[str, ...] = ()) -> None:
        """Evict least recently used items (never those in `keep`) until `nbytes` more fit."""
        for key in list(self._items):
            if self.used() + nbytes <= self.budget:
                break
            if key in keep:
                continue
            self.evict(key)

    def add(self, item: Resident, *, keep: tuple[str, ...] = ()) -> None:
        if not item.offloaded:
            self.make_room(item.nbytes, keep=keep)
        self._items[item.key] = item
        self._items.move_to_end(item.key)

    def evict(self, key: str) -> None:
        item = self._items.pop(key, None)
        if item is None:
            return
        self.evictions.append(key)
        item.state.clear()
        item.obj = None
        release_memory(self.device)

    def unload(self, key: str) -> bool:
        """Evict `key` (an entry of `keys()`); a VAE's model id also evicts it for every family
        it was loaded for. False when nothing of that name is resident."""
        found = [k for k in self._items if k == key or k.startswith(f"vae:{key}:")]
        for k in found:
            self.evict(k)
        return bool(found)

    def clear(self) -> None:
        for key in list(self._items):
            self.evict(key)

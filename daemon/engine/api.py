"""The engine's contract with the rest of the daemon. Torch-free: jobs and executors import this,
never the engine's heavy modules."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from PIL import Image

from ..protocol.messages import DeviceInfo, JobParams, Region


@dataclass(frozen=True)
class StepProgress:
    step: int  # 1-based: `step` of `steps` are done
    steps: int
    preview: Image.Image | None = None  # small RGB image, when one is due
    loss: float | None = None  # train jobs: the step's loss
    eta_s: float | None = None  # train jobs: seconds left, estimated
    phase: Literal["class_images", "train"] | None = None  # train jobs: prior preservation first


@dataclass(frozen=True)
class EngineImage:
    image: Image.Image  # RGB for generate/refine; RGBA patch for inpaint/expand
    region: Region  # where `image` lands in the input's pixel coordinates
    seed: int


ProgressSink = Callable[[StepProgress], None]
CancelCheck = Callable[[], bool]


class Engine(Protocol):
    """Runs one job at a time on one device. Raises `errors.LayerbridgeError` subclasses:
    `Cancelled` (at the step after `cancelled()` turns true), `UnknownModel`, `InvalidInput`,
    `OutOfMemory`, `ModelLoadError`."""

    def run(
        self,
        params: JobParams,
        seed: int,
        inputs: Mapping[str, Image.Image],
        on_progress: ProgressSink,
        cancelled: CancelCheck,
    ) -> list[EngineImage]: ...

    def train(
        self,
        job_id: str,
        params: JobParams,
        seed: int,
        inputs: Mapping[str, Image.Image],
        on_progress: ProgressSink,
        cancelled: CancelCheck,
        should_yield: CancelCheck,
    ) -> list[EngineImage]:
        """Run a `train` job: like `run`, and raises `Preempted` between two steps once
        `should_yield()` is true (call again with the same job id to go on)."""
        ...

    def device_info(self) -> DeviceInfo: ...

    def loaded(self) -> list[str]: ...

    def unload_all(self) -> None: ...

    def unload(self, model_id: str) -> bool:
        """Free one resident model (an entry of `loaded()`); False when it is not loaded."""
        ...

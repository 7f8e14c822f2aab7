"""`DiffusersEngine`: runs one job at a time on one device with real diffusers pipelines.

Validation happens before any model is touched (errors name the field and value); models stay
resident (`residency`); task pipelines share the base pipeline's weights (`pipelines.derive`);
LoRAs and embeddings are adapters (`adapters`); inpaint/expand geometry lives in `editing`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import torch
from PIL import Image

from ..config import EngineSettings, Paths
from ..errors import Cancelled, InvalidInput, LayerbridgeError, ModelLoadError, OutOfMemory
from ..protocol.limits import LIMITS
from ..protocol.messages import DeviceInfo, JobParams
from . import adapters, control, editing, tasks, vaes
from .api import CancelCheck, EngineImage, ProgressSink, StepProgress
from .devices import (
    Device,
    free_memory,
    is_oom,
    module_bytes,
    pick_device,
    release_memory,
    total_memory,
)
from .estimators import load_estimator
from .pipelines import derive, is_xl, load_checkpoint, load_controlnet, make_scheduler, native_side, quiet
from .previews import latents_to_rgb
from .registry import ModelEntry, Registry
from .residency import Residency, Resident
from .vaes import load_vae

log = logging.getLogger(__name__)

CHECKPOINT_MODULES = ("unet", "vae", "text_encoder", "text_encoder_2")
# Test hook for hardening tests, read per job (or set `DiffusersEngine.fault`):
#   oom   a CUDA out-of-memory error at step 1 (the job fails with OutOfMemory)
#   load  the checkpoint "fails to load" (ModelLoadError), as a corrupt file would
#   slow  every step takes at least 0.2 s more (time to cancel a tiny model's job)
FAULT_ENV = "LAYERBRIDGE_FAULT"
SLOW_STEP_S = 0.2


@dataclass
class Job:
    """One validated job: everything resolved from the registry and the inputs."""

    params: JobParams
    seed: int
    entry: ModelEntry
    image: Image.Image | None
    mask: Image.Image | None
    loras: list[adapters.Lora]
    embeddings: list[adapters.Embedding]
    controls: list[control.Control]
    prompt: str  # the params' prompts with embedding triggers as their private tokens
    negative_prompt: str
    vae: ModelEntry | None = None  # decode with this VAE instead of the checkpoint's own

    @property
    def xl(self) -> bool:
        return is_xl(self.entry.arch)

    @property
    def inpaint_unet(self) -> bool:
        return self.entry.arch.endswith("-inpaint")


class DiffusersEngine:
    def __init__(self, paths: Paths, settings: EngineSettings) -> None:
        self.paths = paths
        self.settings = settings
        self.registry = Registry(paths)
        self.device: Device = pick_device(settings)
        budget = settings.memory_budget_mb
        budget_bytes = budget * 1024 * 1024 if budget else int(free_memory(self.device) * 0.85)
        self.residency = Residency(self.device, budget_bytes)
        self.fault: str | None = None  # test hook like LAYERBRIDGE_FAULT, set on the instance
        self._training: Any = None  # training.TrainingRunner, made with the first train job

    # ------------------------------------------------------------------ Engine protocol

    def device_info(self) -> DeviceInfo:
        if self.device.type == "cuda":
            used = int(torch.cuda.memory_allocated(self.device.torch_device))
        else:
            used = self.residency.used()
        return DeviceInfo(
            name=self.device.name,
            type=self.device.type,
            dtype=self.device.dtype_name,
            memory_used_bytes=used,
            memory_total_bytes=total_memory(self.device),
            gpu_count=torch.cuda.device_count() if torch.cuda.is_available() else 0,
        )

    def loaded(self) -> list[str]:
        return self.residency.keys()

    def unload_all(self) -> None:
        self.residency.clear()

    def unload(self, model_id: str) -> bool:
        return self.residency.unload(model_id)

    def run(
        self,
        params: JobParams,
        seed: int,
        inputs: Mapping[str, Image.Image],
        on_progress: ProgressSink,
        cancelled: CancelCheck,
    ) -> list[EngineImage]:
        if params.kind == "train":  # an executor that has no train path (ray) lands here
            raise InvalidInput("kind", "train", "train jobs run on the daemon's local executor")
        job = self._validate(params, seed, inputs)
        if cancelled():
            raise Cancelled("cancelled before it started")
        fault = self.fault or os.environ.get(FAULT_ENV) or None
        try:
            return self._run(job, on_progress, cancelled, fault)
        except LayerbridgeError:
            raise
        except Exception as exc:
            if is_oom(exc):
                release_memory(self.device)
                raise OutOfMemory(
                    f"out of memory on {self.device.name} running {params.kind} with model "
                    f"{params.model!r}; try a smaller size or batch"
                ) from exc
            raise

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
        from . import training  # peft is imported with the first train job, not at start

        if self._training is None:
            self._training = training.TrainingRunner(
                self.registry, self.paths, self.device.torch_device)
        try:
            return training.run_job(self._training, job_id, params, seed, inputs, on_progress,
                                    cancelled, should_yield)
        except LayerbridgeError:
            raise
        except Exception as exc:
            if is_oom(exc):
                release_memory(self.device)
                raise OutOfMemory(
                    f"out of memory on {self.device.name} training on model {params.model!r}; "
                    "try a smaller resolution, batch size or rank") from exc
            raise

    # ------------------------------------------------------------------ validation

    def _validate(self, params: JobParams, seed: int, inputs: Mapping[str, Image.Image]) -> Job:
        entry = self.registry.get(params.model, field="model")
        if entry.kind != "checkpoint":
            raise InvalidInput("model", params.model, f"is a {entry.kind}, not a checkpoint")
        if not 0 <= seed <= 2**32 - 1:
            raise InvalidInput("seed", seed, "must be in 0..2**32-1")
        for name in params.blobs():
            if name not in inputs:
                raise InvalidInput(
                    name, params.blobs()[name], "the job's input image was not provided"
                )
        image = inputs.get("image")
        mask = inputs.get("mask")
        if image is not None:
            if image.width < 8 or image.height < 8:
                raise InvalidInput("image", image.size, "is smaller than 8x8 pixels")
            if params.kind == "refine" and image.width * image.height > LIMITS.max_generate_side**2:
                raise InvalidInput(
                    "image",
                    image.size,
                    f"refine works on at most {LIMITS.max_generate_side}² pixels; "
                    "select a region and inpaint instead",
                )
        margins = params.margins
        if params.kind == "expand" and image is not None and margins is not None:
            # each margin is bounded alone; the canvas they make must be too (it is allocated
            # whole, several times over, and returned as one image)
            w = image.width + margins.left + margins.right
            h = image.height + margins.top + margins.bottom
            if w > LIMITS.max_side or h > LIMITS.max_side or w * h > LIMITS.max_image_pixels:
                raise InvalidInput(
                    "margins",
                    margins.model_dump(),
                    f"would make a {w}x{h} canvas; at most {LIMITS.max_side} px per side "
                    f"and {LIMITS.max_image_pixels} pixels",
                )
        if mask is not None and image is not None and mask.size != image.size:
            raise InvalidInput("mask", mask.size, f"must have the image's size {image.size}")
        loras, embeddings = adapters.resolve(self.registry, params, entry)
        controls = control.resolve(self.registry, params, entry, inputs)
        prompt, negative = adapters.prompts(params, embeddings)
        vae = vaes.resolve(self.registry, params, entry)
        return Job(
            params, seed, entry, image, mask, loras, embeddings, controls, prompt, negative, vae
        )

    # ------------------------------------------------------------------ running

    def _run(
        self, job: Job, on_progress: ProgressSink, cancelled: CancelCheck, fault: str | None
    ) -> list[EngineImage]:
        if fault == "load":
            raise ModelLoadError(
                f"model={job.entry.id!r}: its files cannot be loaded (injected: {FAULT_ENV}=load)",
                field="model",
            )
        res = self._checkpoint(job.entry)
        nets: list[Any] = []
        in_use: tuple[str, ...] = (job.entry.id,)
        for c in job.controls:  # each net placed keeps the checkpoint and the nets before it
            nets.append(self._controlnet(c.entry, f"control.{c.index}.model", keep=in_use))
            in_use += (c.entry.id,)
        vae = None
        if job.vae is not None:
            field = "vae" if job.params.vae else "model"
            vae = self._vae(job.vae, job.entry, field, keep=in_use)
            in_use += (f"vae:{job.vae.id}:{job.entry.base}",)
        for i, c in enumerate(job.controls):
            if c.estimator is not None:
                field = f"control.{c.index}.type"
                est = self._estimator(c.estimator, field, keep=in_use)
                job.controls[i] = replace(c, estimate=est)
                in_use += (c.estimator.id,)
        if adapters.apply(res, res.obj, job.entry, job.loras, job.embeddings):
            res.nbytes = module_bytes(*(getattr(res.obj, n, None) for n in CHECKPOINT_MODULES))
        sampler = Sampler(self, job, res, on_progress, cancelled, fault, vae)
        kind = job.params.kind
        if kind == "generate":
            return tasks.generate(sampler, nets)
        if kind == "refine":
            return tasks.refine(sampler, nets)
        if kind == "inpaint":
            return editing.inpaint(sampler, nets)
        return editing.expand(sampler, nets)

    def _place(
        self, key: str, modules: list[Any], obj: Any, kind: str, keep: tuple[str, ...]
    ) -> Resident:
        nbytes = module_bytes(*modules)
        offload = (
            not self.residency.fits(nbytes) and self.device.type == "cuda" and kind == "checkpoint"
        )
        if offload:
            self.residency.make_room(
                self.residency.budget, keep=keep
            )  # offloaded: leave the GPU to it
            obj.enable_model_cpu_offload(device=self.device.torch_device)
        else:
            self.residency.make_room(nbytes, keep=keep)
            obj.to(self.device.torch_device, self.device.dtype)
        item = Resident(key, kind, obj, nbytes, offloaded=offload)
        self.residency.add(item, keep=keep)
        return item

    def _checkpoint(self, entry: ModelEntry) -> Resident:
        res = self.residency.get(entry.id)
        if res is not None and res.state.get("path") == str(entry.path):
            return res
        if res is not None:
            self.residency.evict(entry.id)
        pipe = load_checkpoint(entry)
        modules = [getattr(pipe, n, None) for n in CHECKPOINT_MODULES]
        res = self._place(entry.id, modules, pipe, "checkpoint", keep=())
        res.state["path"] = str(entry.path)
        res.state["scheduler_config"] = pipe.scheduler.config
        res.state["vae"] = pipe.vae  # its own, put back after a job that used another
        return res

    def _controlnet(self, entry: ModelEntry, field: str, keep: tuple[str, ...]) -> Any:
        res = self.residency.get(entry.id)
        if res is None:
            net = load_controlnet(entry, torch.float32, field=field)
            res = self._place(entry.id, [net], net, "controlnet", keep=keep)
        return res.obj


    def _vae(self, entry: ModelEntry, checkpoint: ModelEntry, field: str, keep: tuple[str, ...]) -> Any:
        key = f"vae:{entry.id}:{checkpoint.base}"  # a single file takes its family's config
        res = self.residency.get(key)
        if res is None or res.state.get("path") != str(entry.path):
            vae = load_vae(entry, checkpoint, field=field)
            res = self._place(key, [vae], vae, "vae", keep=keep)
            res.state["path"] = str(entry.path)
        return res.obj

    def _estimator(self, entry: ModelEntry, field: str, keep: tuple[str, ...]) -> Any:
        res = self.residency.get(entry.id)
        if res is None:
            est = load_estimator(entry, field=field)
            res = self._place(entry.id, [est.model], est, "preprocessor", keep=keep)
        return res.obj


class Sampler:
    """Runs one pipeline call of a job: scheduler, seeds, progress, previews, cancel, faults."""

    def __init__(
        self,
        engine: DiffusersEngine,
        job: Job,
        res: Resident,
        on_progress: ProgressSink,
        cancelled: CancelCheck,
        fault: str | None,
        vae: Any = None,
    ) -> None:
        self.engine = engine
        self.vae = vae if vae is not None else res.state["vae"]
        self.job = job
        self.res = res
        self.base = res.obj
        self.on_progress = on_progress
        self.cancelled = cancelled
        self.fault = fault
        self.native = native_side(self.base)
        self.multiple = job.entry.info.size_multiple

    def pipe(self, task: str, **components: Any) -> Any:
        """The task pipeline, derived from the resident base (cached unless it has extras)."""
        if components:
            return derive(self.base, task, self.job.entry.arch, **components)
        cache = self.res.state.setdefault("tasks", {})
        if task not in cache:
            cache[task] = derive(self.base, task, self.job.entry.arch)
        return cache[task]

    def generators(self) -> list[torch.Generator]:
        # CPU generators: the same seed gives the same noise on every device
        return [
            torch.Generator("cpu").manual_seed(self.job.seed + i)
            for i in range(self.job.params.batch)
        ]

    def __call__(self, pipe: Any, **kwargs: Any) -> list[Image.Image]:
        p = self.job.params
        pipe.scheduler = make_scheduler(p.scheduler, self.res.state["scheduler_config"])
        pipe.vae = self.vae  # every call sets it: cached task pipelines must not keep a job's VAE
        arch = self.job.entry.arch
        interval = self.engine.settings.preview_interval_s
        last_preview = [float("-inf")]

        def on_step(pipeline: Any, i: int, t: Any, tensors: dict[str, Any]) -> dict[str, Any]:
            if self.fault == "oom":
                raise torch.cuda.OutOfMemoryError(
                    "CUDA out of memory (injected by LAYERBRIDGE_FAULT=oom)"
                )
            if self.fault == "slow":
                time.sleep(SLOW_STEP_S)
            if self.cancelled():
                raise Cancelled(f"cancelled at step {i + 1}")
            steps = int(getattr(pipeline, "_num_timesteps", 0) or len(pipeline.scheduler.timesteps))
            now = time.monotonic()
            preview = None
            latents = tensors.get("latents")
            if latents is not None and (now - last_preview[0] >= interval or i + 1 == steps):
                preview = latents_to_rgb(latents, arch)
                last_preview[0] = now
            self.on_progress(StepProgress(step=i + 1, steps=steps, preview=preview))
            return tensors

        negative = self.job.negative_prompt or None
        with torch.inference_mode(), quiet():
            out = pipe(
                prompt=self.job.prompt,
                negative_prompt=negative,
                num_inference_steps=p.steps,
                guidance_scale=p.guidance,
                num_images_per_prompt=p.batch,
                generator=self.generators(),
                callback_on_step_end=on_step,
                callback_on_step_end_tensor_inputs=["latents"],
                output_type="pil",
                **kwargs,
            )
        return list(out.images)


__all__ = ["DiffusersEngine", "EngineImage", "ModelLoadError"]

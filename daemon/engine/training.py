"""LoRA training on a checkpoint, built the way diffusers' `train_text_to_image_lora(_sdxl)` and
`train_dreambooth_lora` examples build it: peft `LoraConfig` adapters on the UNet's attention
(and optionally the text encoders), the checkpoint's own noise schedule as a `DDPMScheduler`,
noise + random timesteps + `add_noise`, an epsilon or v-prediction target, MSE loss, AdamW;
optionally DreamBooth's prior preservation (class images made first by the base checkpoint,
`training_prior`, their loss added at `prior_loss_weight`).

What this adds for a daemon: every random draw (batch order, crops, flips, VAE sample, noise,
timesteps) is a function of (seed, step), and a checkpoint holds the adapter, the optimizer and
the step, so a job resumed from its last checkpoint ends with the same weights as one that ran
through. The result is written in kohya's key layout (`convert_state_dict_to_kohya`), which
AUTOMATIC1111, ComfyUI, Krita AI Diffusion, InvokeAI and diffusers' `load_lora_weights` all read.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler
from diffusers.training_utils import cast_training_params
from diffusers.utils.state_dict_utils import convert_state_dict_to_kohya
from peft import LoraConfig, inject_adapter_in_model
from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict
from PIL import Image
from safetensors.torch import load_file, save_file

from ..config import Paths
from ..errors import Cancelled, InvalidInput, Preempted, UnknownModel
from ..protocol.messages import JobParams, Region
from .api import CancelCheck, EngineImage, ProgressSink, StepProgress
from .pipelines import is_xl, load_checkpoint, quiet
from .registry import ModelEntry, Registry, valid_id
from .training_data import Dataset, Example, Sample, dataset_hash, step_seed
from .training_prior import ClassProgress, class_images

log = logging.getLogger(__name__)

UNET_TARGETS = ["to_k", "to_q", "to_v", "to_out.0"]
TEXT_TARGETS = ["q_proj", "k_proj", "v_proj", "out_proj"]
CHECKPOINT = "checkpoint"
EVAL_OFFSET = 1 << 40  # draw indices of `evaluate`: far past any training step
Precision = Literal["auto", "no", "fp16", "bf16"]


@dataclass(frozen=True)
class TrainConfig:
    """What determines the trained weights (the fingerprint a checkpoint must match)."""

    steps: int
    rank: int = 16
    alpha: int | None = None  # None: the rank (scale alpha/rank = 1), as diffusers' examples do
    learning_rate: float = 1e-4
    resolution: int = 512
    batch_size: int = 1
    seed: int = 0
    flip: bool = False
    random_crop: bool = False
    train_text_encoder: bool = False
    prediction_type: Literal["epsilon", "v_prediction"] | None = None  # None: the checkpoint's
    max_grad_norm: float = 1.0
    precision: Precision = "auto"  # auto: bf16 where the GPU has it, else fp16; fp32 on CPU
    gradient_checkpointing: bool | None = None  # None: on for CUDA, off on CPU
    class_prompt: str = ""  # prior preservation: the class images' caption
    class_images: int = 0  # prior preservation: how many; 0: off
    prior_loss_weight: float = 1.0

    @property
    def lora_alpha(self) -> int:
        return self.alpha if self.alpha is not None else self.rank


@dataclass
class StepReport:
    """After each optimizer step: where the job is, the loss, and the seconds left."""

    step: int  # 1-based: `step` of `steps` are done
    steps: int
    loss: float | None  # None while class images are made
    eta_s: float
    sample: Image.Image | None = None
    phase: Literal["class_images", "train"] = "train"  # class_images: step counts images made


@dataclass
class TrainState:
    step: int = 0
    losses: list[float] = field(default_factory=list)


def _mixed_dtype(device: torch.device, precision: Precision) -> torch.dtype | None:
    if device.type != "cuda" or precision == "no":
        return None  # autocast only on CUDA: CPU training stays fp32 and bit-reproducible
    if precision == "fp16":
        return torch.float16
    if precision == "bf16" or torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def file_hash(path: Path) -> str:
    """sha256 of a model's weights: the file, or a diffusers folder's weight files in order."""
    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.suffix in (".safetensors", ".bin", ".ckpt") and p.is_file()
    )
    h = hashlib.sha256()
    for f in files:
        with f.open("rb") as fh:
            while chunk := fh.read(1 << 22):
                h.update(chunk)
    return h.hexdigest()


class Trainer:
    """Trains a LoRA on `pipe` (which it takes over: adapters are added to its modules).

    Call `run()` (or `step()` repeatedly), then `export()`. With a `state_dir`, `save()` writes a
    checkpoint there and a new Trainer on the same inputs picks it up."""

    def __init__(
        self,
        pipe: Any,
        *,
        arch: str,
        config: TrainConfig,
        examples: list[Example],
        device: torch.device,
        state_dir: Path | None = None,
        base_hash: str = "",
        class_examples: list[Example] | None = None,
    ) -> None:
        self.pipe = pipe
        self.arch = arch
        self.xl = is_xl(arch)
        self.config = config
        self.device = device
        self.state_dir = state_dir
        self.base_hash = base_hash
        self.dataset_hash = dataset_hash(examples)
        self.state = TrainState()
        self.mixed = _mixed_dtype(device, config.precision)
        weight_dtype = self.mixed or torch.float32

        with quiet():
            self.noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
        if config.prediction_type is not None:
            self.noise_scheduler.register_to_config(prediction_type=config.prediction_type)
        self.unet = pipe.unet
        self.vae = pipe.vae
        self.text_encoders = [pipe.text_encoder] + ([pipe.text_encoder_2] if self.xl else [])
        self.tokenizers = [pipe.tokenizer] + ([pipe.tokenizer_2] if self.xl else [])
        for module in (self.unet, self.vae, *self.text_encoders):
            module.requires_grad_(False)
        # the SDXL VAE overflows in fp16 (diffusers' SDXL script keeps it in fp32 too)
        # module.dtype walks every parameter (~40 ms even on a tiny model): kept once here
        self.vae_dtype = torch.float32 if self.xl else weight_dtype
        self.weight_dtype = weight_dtype
        self.vae.to(device, self.vae_dtype)
        self.unet.to(device, weight_dtype)
        for te in self.text_encoders:
            te.to(device, weight_dtype)

        with torch.random.fork_rng(devices=[]):  # the gaussian init is the seed's, not global
            torch.manual_seed(config.seed)
            self.unet.add_adapter(self._lora(UNET_TARGETS))
            if config.train_text_encoder:
                # transformers' own add_adapter needs peft >= 0.22; peft's injection is the same
                for te in self.text_encoders:
                    inject_adapter_in_model(self._lora(TEXT_TARGETS), te)
        self.trained = [self.unet] + (self.text_encoders if config.train_text_encoder else [])
        if self.mixed is not None:
            cast_training_params(self.trained, dtype=torch.float32)  # the adapters learn in fp32
        use_ckpt = config.gradient_checkpointing
        if use_ckpt is None:
            use_ckpt = device.type == "cuda"
        if use_ckpt:
            self.unet.enable_gradient_checkpointing()
            if config.train_text_encoder:
                for te in self.text_encoders:
                    te.gradient_checkpointing_enable()
        self.params = [p for m in self.trained for p in m.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(
            self.params, lr=config.learning_rate, betas=(0.9, 0.999), weight_decay=1e-2, eps=1e-8
        )
        self.dataset = Dataset(
            examples,
            resolution=config.resolution,
            multiple=int(pipe.vae_scale_factor) * 2 ** (len(self.unet.config.block_out_channels) - 1),
            batch_size=config.batch_size,
            seed=config.seed,
            flip=config.flip,
            random_crop=config.random_crop,
        )
        # the class images of prior preservation: square at the resolution, never cropped
        self.prior = None if not class_examples else Dataset(
            class_examples,
            resolution=config.resolution,
            multiple=self.dataset.multiple,
            batch_size=config.batch_size,
            seed=step_seed(config.seed, 0, "prior"),
            flip=config.flip,
            random_crop=False,
        )
        self._embeds: dict[str, tuple[torch.Tensor, torch.Tensor | None]] = {}
        self._training: bool | None = None
        self.resumed_from = self._load()

    def _mode(self, *, training: bool) -> None:
        # train()/eval() walk every submodule: switch only when the mode changes
        if self._training is not training:
            for m in self.trained:
                m.train(training)
            self._training = training

    def _lora(self, targets: list[str]) -> LoraConfig:
        return LoraConfig(
            r=self.config.rank,
            lora_alpha=self.config.lora_alpha,
            init_lora_weights="gaussian",
            target_modules=targets,
        )

    # ------------------------------------------------------------------ the loop

    @property
    def done(self) -> bool:
        return self.state.step >= self.config.steps

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.mixed is None:
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=self.mixed)

    def _encode(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Prompt embeddings (and SDXL's pooled ones) as the pipelines build them."""
        embeds: list[torch.Tensor] = []
        pooled: torch.Tensor | None = None
        for tokenizer, te in zip(self.tokenizers, self.text_encoders, strict=True):
            ids = tokenizer(
                captions,
                padding="max_length",
                max_length=tokenizer.model_max_length,
                truncation=True,
                return_tensors="pt",
            ).input_ids.to(self.device)
            if self.xl:
                out = te(ids, output_hidden_states=True, return_dict=False)
                pooled = out[0]
                embeds.append(out[-1][-2])
            else:
                embeds.append(te(ids, return_dict=False)[0])
        return torch.cat(embeds, dim=-1), pooled

    def _text(self, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.config.train_text_encoder:
            return self._encode(captions)
        # frozen text encoders give the same embedding every time: compute each caption once
        for c in captions:
            if c not in self._embeds:
                with torch.no_grad(), self._autocast():
                    self._embeds[c] = self._encode([c])
        parts = [self._embeds[c] for c in captions]
        prompt = torch.cat([p[0] for p in parts])
        pooled = None if parts[0][1] is None else torch.cat([p[1] for p in parts if p[1] is not None])
        return prompt, pooled

    def _loss(self, index: int) -> torch.Tensor:
        """The loss on the batch, crops, noise and timesteps of draw `index`; with prior
        preservation plus `prior_loss_weight` times the loss on that draw's class batch.
        diffusers' example stacks both into one UNet call and splits the prediction; here a
        bucket's batch may be another shape than the square class images, so each has its own."""
        gen = torch.Generator("cpu").manual_seed(step_seed(self.config.seed, index, "noise"))
        loss = self._batch_loss(self.dataset.batch(index), gen)
        if self.prior is not None:
            prior = self._batch_loss(self.prior.batch(index), gen)
            loss = loss + self.config.prior_loss_weight * prior
        return loss

    def _batch_loss(self, batch: list[Sample], gen: torch.Generator) -> torch.Tensor:
        pixels = torch.stack([s.pixels for s in batch]).to(self.device, self.vae_dtype)
        with torch.no_grad():
            latents = self.vae.encode(pixels).latent_dist.sample(generator=gen)
            latents = latents * self.vae.config.scaling_factor
        latents = latents.to(self.weight_dtype)
        # drawn on the CPU, then moved: the same seed gives the same noise on every device
        noise = torch.randn(latents.shape, generator=gen).to(self.device, latents.dtype)
        timesteps = torch.randint(
            0, self.noise_scheduler.config.num_train_timesteps, (len(batch),), generator=gen
        ).to(self.device)
        noisy = self.noise_scheduler.add_noise(latents, noise, timesteps)
        prediction = self.noise_scheduler.config.prediction_type
        if prediction == "epsilon":
            target = noise
        elif prediction == "v_prediction":
            target = self.noise_scheduler.get_velocity(latents, noise, timesteps)
        else:
            raise InvalidInput("prediction_type", prediction, "expected epsilon or v_prediction")
        prompt, pooled = self._text([s.caption for s in batch])
        extra: dict[str, Any] = {}
        if self.xl:
            h, w = batch[0].pixels.shape[1:]
            ids = [list(s.original_size + s.crop_top_left + (h, w)) for s in batch]
            extra["added_cond_kwargs"] = {
                "time_ids": torch.tensor(ids, device=self.device, dtype=prompt.dtype),
                "text_embeds": pooled,
            }
        with self._autocast():
            pred = self.unet(noisy, timesteps, prompt, return_dict=False, **extra)[0]
        return F.mse_loss(pred.float(), target.float(), reduction="mean")

    def step(self) -> float:
        """One optimizer step on the batch of the current step; returns its loss."""
        self._mode(training=True)
        loss = self._loss(self.state.step)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        value = float(loss.detach().item())
        self.state.step += 1
        self.state.losses.append(value)
        return value

    def evaluate(self, draws: int = 8) -> float:
        """The mean loss over `draws` fixed draws (the same ones every call, none a training
        step's): how well the adapter fits the set now, without the noise of single steps."""
        self._mode(training=False)
        with torch.no_grad():
            return sum(float(self._loss(EVAL_OFFSET + i).item()) for i in range(draws)) / draws

    def run(
        self,
        *,
        on_step: Callable[[StepReport], None] = lambda report: None,
        should_stop: Callable[[], bool] = lambda: False,
        checkpoint_every: int = 0,
        sample_every: int = 0,
        sample_prompt: str = "",
    ) -> bool:
        """Steps until done or until `should_stop()` (checked before each step). Saves a
        checkpoint every `checkpoint_every` steps (and on stopping); returns whether it is done."""
        started, first = time.monotonic(), self.state.step
        while not self.done:
            if should_stop():
                if self.state_dir is not None and self.state.step > first:
                    self.save()
                return False
            loss = self.step()
            n = self.state.step
            if checkpoint_every and self.state_dir is not None and n % checkpoint_every == 0:
                self.save()
            rate = (time.monotonic() - started) / (n - first)
            sample = None
            if sample_every and (n % sample_every == 0 or self.done):
                sample = self.sample(sample_prompt)
            on_step(StepReport(n, self.config.steps, loss, rate * (self.config.steps - n), sample))
        return True

    def sample(self, prompt: str, *, steps: int = 20, side: int | None = None) -> Image.Image:
        """An image of `prompt` with the adapter as trained so far (the job's seed)."""
        side = side or self.config.resolution
        gen = torch.Generator("cpu").manual_seed(self.config.seed)
        self._mode(training=False)
        with torch.inference_mode(), self._autocast(), quiet():
            out = self.pipe(
                prompt=prompt,
                num_inference_steps=steps,
                height=side,
                width=side,
                generator=gen,
                output_type="pil",
            )
        image: Image.Image = out.images[0]
        return image

    # ------------------------------------------------------------------ checkpoints

    def fingerprint(self) -> str:
        blob = json.dumps(
            [asdict(self.config) | {"steps": None}, self.base_hash, self.dataset_hash],
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()

    def adapter_state(self) -> dict[str, torch.Tensor]:
        """The adapters' weights, peft keys prefixed by module (`unet.`, `text_encoder.`...)."""
        names = ["unet", "text_encoder", "text_encoder_2"]
        out: dict[str, torch.Tensor] = {}
        for name, module in zip(names, self.trained, strict=False):
            for key, value in get_peft_model_state_dict(module).items():
                out[f"{name}.{key}"] = value.detach().to("cpu", torch.float32).contiguous()
        return out

    def save(self) -> None:
        """Write adapter + optimizer + step to `state_dir/checkpoint` (replaced atomically)."""
        assert self.state_dir is not None
        self.state_dir.mkdir(parents=True, exist_ok=True)
        part = self.state_dir / f"{CHECKPOINT}.part"
        old = self.state_dir / f"{CHECKPOINT}.old"
        final = self.state_dir / CHECKPOINT
        shutil.rmtree(part, ignore_errors=True)
        part.mkdir()
        save_file(self.adapter_state(), str(part / "adapter.safetensors"))
        torch.save(self.optimizer.state_dict(), part / "optimizer.pt")
        (part / "state.json").write_text(
            json.dumps({"fingerprint": self.fingerprint(), **asdict(self.state)})
        )
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            final.rename(old)
        part.rename(final)  # a crash between the two renames leaves `.old`, which _load reads
        shutil.rmtree(old, ignore_errors=True)

    def _load(self) -> int | None:
        if self.state_dir is None:
            return None
        for name in (CHECKPOINT, f"{CHECKPOINT}.old"):
            folder = self.state_dir / name
            try:
                meta = json.loads((folder / "state.json").read_text())
            except (OSError, ValueError):
                continue
            if meta.get("fingerprint") != self.fingerprint():
                log.warning("checkpoint in %s is of other inputs; training from the start", folder)
                return None
            weights = load_file(str(folder / "adapter.safetensors"))
            names = ["unet", "text_encoder", "text_encoder_2"]
            for mname, module in zip(names, self.trained, strict=False):
                prefix = f"{mname}."
                part = {k[len(prefix) :]: v for k, v in weights.items() if k.startswith(prefix)}
                set_peft_model_state_dict(module, part)
            self.optimizer.load_state_dict(
                torch.load(folder / "optimizer.pt", map_location=self.device, weights_only=True)
            )
            self.state = TrainState(step=int(meta["step"]), losses=list(meta["losses"]))
            return self.state.step
        return None

    # ------------------------------------------------------------------ the result

    def export(self, path: Path, metadata: dict[str, str]) -> None:
        """Write the LoRA as kohya-format safetensors (fp16, `alpha` per module) with `metadata`
        (all strings, as safetensors requires)."""
        tensors = {
            k: (torch.tensor(float(self.config.lora_alpha)) if k.endswith(".alpha") else v.half())
            for k, v in kohya_state(self.adapter_state(), xl=self.xl).items()
        }
        tmp = path.with_name(path.name + ".part")
        save_file(tensors, str(tmp), metadata=metadata)
        os.replace(tmp, path)


def kohya_state(state: dict[str, torch.Tensor], *, xl: bool) -> dict[str, torch.Tensor]:
    """Adapter weights under kohya-ss' names: `lora_unet_*`, and `lora_te_text_model_*` (SD-1.x)
    or `lora_te1_`/`lora_te2_` (SDXL), the names A1111 maps onto its modules. transformers 5's
    `CLIPTextModel` dropped the `text_model.` level those names carry: it is put back."""
    named: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        module, _, rest = key.partition(".")
        if module.startswith("text_encoder") and not rest.startswith("text_model."):
            rest = "text_model." + rest
        named[f"{module}.{rest}"] = value
    out: dict[str, torch.Tensor] = convert_state_dict_to_kohya(named)
    if not xl:
        out = {k.replace("lora_te1_", "lora_te_", 1): v for k, v in out.items()}
    return out


def kohya_metadata(
    trainer: Trainer, *, name: str, trigger: str, base_model: str, started_at: float
) -> dict[str, str]:
    """kohya-ss `ss_*` keys (what A1111's and ComfyUI's LoRA info panes show) plus Stability's
    `modelspec.*`, and our own `layerbridge.*` keys."""
    c = trainer.config
    tags: dict[str, int] = {}
    for caption in trainer.dataset.captions:
        for tag in (t.strip() for t in caption.split(",")):
            if tag:
                tags[tag] = tags.get(tag, 0) + 1
    side = f"{c.resolution}x{c.resolution}"
    spec = "stable-diffusion-xl-v1-base/lora" if trainer.xl else "stable-diffusion-v1/lora"
    return {
        "ss_network_module": "networks.lora",
        "ss_network_dim": str(c.rank),
        "ss_network_alpha": str(c.lora_alpha),
        "ss_base_model_version": "sdxl_base_v1-0" if trainer.xl else "sd_v1",
        "ss_sd_model_name": base_model,
        "ss_new_sd_model_hash": trainer.base_hash,
        "ss_resolution": f"({c.resolution}, {c.resolution})",
        "ss_max_train_steps": str(c.steps),
        "ss_steps": str(trainer.state.step),
        "ss_learning_rate": str(c.learning_rate),
        "ss_unet_lr": str(c.learning_rate),
        "ss_text_encoder_lr": str(c.learning_rate if c.train_text_encoder else 0),
        "ss_train_batch_size": str(c.batch_size),
        "ss_num_train_images": str(len(trainer.dataset)),
        "ss_seed": str(c.seed),
        "ss_flip_aug": str(c.flip),
        "ss_random_crop": str(c.random_crop),
        "ss_enable_bucket": "True",
        "ss_optimizer": "torch.optim.AdamW",
        "ss_lr_scheduler": "constant",
        "ss_output_name": name,
        "ss_training_started_at": str(started_at),
        "ss_training_finished_at": str(time.time()),
        "ss_tag_frequency": json.dumps({name: tags}),
        "modelspec.sai_model_spec": "1.0.0",
        "modelspec.architecture": spec,
        "modelspec.implementation": "diffusers",
        "modelspec.title": name,
        "modelspec.resolution": side,
        "modelspec.trigger_phrase": trigger,
        "layerbridge.base_model": base_model,
        "layerbridge.base_model_sha256": trainer.base_hash,
        "layerbridge.dataset_sha256": trainer.dataset_hash,
        "layerbridge.trigger": trigger,
        "layerbridge.steps": str(trainer.state.step),
        "layerbridge.rank": str(c.rank),
        "layerbridge.alpha": str(c.lora_alpha),
        "format": "pt",
    } | ({
        "ss_num_reg_images": str(c.class_images),
        "ss_prior_loss_weight": str(c.prior_loss_weight),
        "layerbridge.class_prompt": c.class_prompt,
        "layerbridge.class_images": str(c.class_images),
    } if c.class_images else {})


# ---------------------------------------------------------------------- a job of the engine


@dataclass(frozen=True)
class TrainRequest:
    """A training job as the engine takes it: the images already decoded, captions final."""

    name: str  # the id the LoRA is registered under
    model: str  # the base checkpoint's id
    trigger: str
    config: TrainConfig
    checkpoint_every: int = 100
    sample_every: int = 0
    sample_prompt: str = ""


@dataclass(frozen=True)
class TrainResult:
    path: Path
    lora_id: str
    steps: int
    losses: list[float]
    resumed_from: int | None
    sample: Image.Image  # of the sample prompt (or the trigger word) with the finished LoRA


class TrainingRunner:
    """Runs train jobs for a `DiffusersEngine`: each job trains its own copy of the base
    checkpoint (the resident one keeps serving generation jobs unchanged between steps) and keeps
    its checkpoints in `data_dir/training/<job id>/`. A job that yields (`should_yield`) keeps its
    trainer in memory, so going on costs nothing; after a restart it resumes from disk."""

    def __init__(self, registry: Registry, paths: Paths, device: torch.device) -> None:
        self.registry = registry
        self.root = paths.root / "training"  # checkpoints, one folder per job
        self.out = paths.models / "trained"  # the finished LoRAs
        self.device = device
        self._live: dict[str, Trainer] = {}

    def state_dir(self, job_id: str) -> Path:
        return self.root / job_id

    def validate(self, request: TrainRequest, examples: list[Example]) -> ModelEntry:
        entry = self.registry.get(request.model, field="model")
        if entry.kind != "checkpoint":
            raise InvalidInput("model", request.model, f"is a {entry.kind}, not a checkpoint")
        if entry.arch.endswith("-inpaint"):
            raise InvalidInput("model", request.model, "is an inpainting checkpoint; train on its base")
        valid_id(request.name, "name")
        with contextlib.suppress(UnknownModel):
            self.registry.get(request.name, field="name")
            raise InvalidInput("name", request.name, "a model with this id is already registered")
        if not examples:
            raise InvalidInput("images", [], "a training set needs at least one image")
        for i, ex in enumerate(examples):
            if min(ex.image.size) < 8:
                raise InvalidInput(f"images.{i}", ex.image.size, "is smaller than 8x8 pixels")
        return entry

    def run(
        self,
        job_id: str,
        request: TrainRequest,
        examples: list[Example],
        *,
        on_step: Callable[[StepReport], None],
        cancelled: Callable[[], bool],
        should_yield: Callable[[], bool] = lambda: False,
    ) -> TrainResult | None:
        """Train until done (returns the registered LoRA), cancelled (raises `Cancelled`, the
        checkpoints are removed) or asked to yield (returns None; call again to go on)."""
        entry = self.validate(request, examples)
        trainer = self._live.pop(job_id, None)
        started = time.time()
        if trainer is None:
            trainer = self._trainer(job_id, request, entry, examples, on_step,
                                    lambda: cancelled() or should_yield())
            if trainer is None:  # stopped while making class images: those made are kept
                if cancelled():
                    self.forget(job_id)
                    raise Cancelled("cancelled while generating class images")
                return None
        last: list[StepReport] = []

        def step(report: StepReport) -> None:
            last[:] = [report]
            on_step(report)

        finished = trainer.run(
            on_step=step,
            should_stop=lambda: cancelled() or should_yield(),
            checkpoint_every=request.checkpoint_every,
            sample_every=request.sample_every,
            sample_prompt=request.sample_prompt or request.trigger,
        )
        if cancelled():
            self.forget(job_id)
            raise Cancelled(f"cancelled at step {trainer.state.step + 1}")
        if not finished:
            self._live[job_id] = trainer
            return None
        prompt = request.sample_prompt or request.trigger
        sample = last[0].sample if last and last[0].sample is not None else trainer.sample(prompt)
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / f"{request.name}.safetensors"
        meta = kohya_metadata(
            trainer, name=request.name, trigger=request.trigger, base_model=entry.id,
            started_at=started,
        )
        trainer.export(path, meta)
        self.registry.register(
            request.name,
            path,
            kind="lora",
            arch=entry.base,
            format="single_file",
            name=request.name,
            trigger_words=[request.trigger] if request.trigger else [],
            default_weight=1.0,
        )
        self.forget(job_id)
        return TrainResult(path, request.name, trainer.state.step, trainer.state.losses,
                           trainer.resumed_from, sample)

    def step_of(self, job_id: str) -> int | None:
        """The steps done by a job that stepped aside (None: no such job in memory)."""
        trainer = self._live.get(job_id)
        return None if trainer is None else trainer.state.step

    def forget(self, job_id: str) -> None:
        self._live.pop(job_id, None)
        shutil.rmtree(self.state_dir(job_id), ignore_errors=True)

    def _trainer(
        self,
        job_id: str,
        request: TrainRequest,
        entry: ModelEntry,
        examples: list[Example],
        on_step: Callable[[StepReport], None],
        should_stop: Callable[[], bool],
    ) -> Trainer | None:
        """The job's trainer, its class images (prior preservation) made first; None when
        `should_stop()` asked to stop before they were all made."""
        state = self.state_dir(job_id)
        state.mkdir(parents=True, exist_ok=True)
        hash_file = state / "base.sha256"  # hashing a 7 GB SDXL file once per job is enough
        try:
            base_hash = hash_file.read_text().strip()
        except OSError:
            base_hash = file_hash(entry.path)
            hash_file.write_text(base_hash)
        pipe = load_checkpoint(entry)  # a copy of its own: it gets trained adapters
        c = request.config
        prior: list[Example] | None = None
        if c.class_images:

            def made(p: ClassProgress) -> None:
                on_step(StepReport(p.done, p.total, None, p.eta_s, p.image, phase="class_images"))

            # made with the base weights, before any adapter is added to them
            prior = class_images(
                pipe, state / "class", prompt=c.class_prompt, count=c.class_images,
                side=c.resolution, seed=c.seed, base_hash=base_hash, device=self.device,
                mixed=_mixed_dtype(self.device, c.precision), on_image=made,
                should_stop=should_stop,
            )
            if prior is None:
                return None
        return Trainer(
            pipe, arch=entry.arch, config=c, examples=examples, device=self.device,
            state_dir=state, base_hash=base_hash, class_examples=prior,
        )


def run_job(
    runner: TrainingRunner,
    job_id: str,
    params: JobParams,
    seed: int,
    inputs: Mapping[str, Image.Image],
    on_progress: ProgressSink,
    cancelled: CancelCheck,
    should_yield: CancelCheck,
) -> list[EngineImage]:
    """A `train` job of the wire: the LoRA registered, its last sample as the one result.
    Raises `Preempted` when it stepped aside for a waiting job (run it again to go on)."""
    spec = params.train
    if spec is None:
        raise InvalidInput("train", None, "a train job needs `train`")
    examples = []
    for i in range(len(spec.images)):
        image = inputs.get(f"train.images.{i}")
        if image is None:
            raise InvalidInput(f"train.images.{i}", spec.images[i], "the image was not provided")
        examples.append(Example(image, spec.caption_of(i)))
    config = TrainConfig(
        steps=spec.steps, rank=spec.rank, alpha=spec.alpha, learning_rate=spec.learning_rate,
        resolution=spec.resolution, batch_size=spec.batch_size, seed=seed, flip=spec.flip,
        random_crop=spec.random_crop, train_text_encoder=spec.train_text_encoder,
        prediction_type=spec.prediction_type, class_prompt=spec.class_prompt.strip(),
        class_images=spec.class_images, prior_loss_weight=spec.prior_loss_weight,
    )
    request = TrainRequest(
        name=spec.name, model=params.model, trigger=spec.trigger, config=config,
        checkpoint_every=spec.checkpoint_every, sample_every=spec.sample_every,
        sample_prompt=spec.sample_prompt,
    )

    def report(r: StepReport) -> None:
        on_progress(StepProgress(step=r.step, steps=r.steps, preview=r.sample, loss=r.loss,
                                 eta_s=round(r.eta_s, 1), phase=r.phase))

    result = runner.run(job_id, request, examples, on_step=report, cancelled=cancelled,
                        should_yield=should_yield)
    if result is None:
        raise Preempted(f"job {job_id} stepped aside at step {runner.step_of(job_id)}")
    sample = result.sample
    return [EngineImage(sample, Region(x=0, y=0, width=sample.width, height=sample.height), seed)]

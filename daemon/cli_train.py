"""`layerbridge client train`: a LoRA from a folder of images, trained by the daemon.

Everything local is checked before connecting (the folder, each image, each caption file, and the
TrainSpec itself, with the images' sha256s), so a typo costs nothing and is named by its flag.
Pillow only; never torch.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .errors import InvalidInput
from .protocol.codec import validation_error
from .protocol.messages import JobParams, JobProgress
from .protocol.training import TrainSpec
from .train_folder import read_folder


def add_train_parser(actions: Any, run: Any) -> None:
    p = actions.add_parser("train", help="train a LoRA on a folder of images")
    p.add_argument("--images", required=True, metavar="DIR", help="a folder of png/jpg/jpeg/webp images")
    p.add_argument("--name", required=True, metavar="ID", help="the id the LoRA is registered under")
    p.add_argument("--trigger", required=True, metavar="WORD", help="the word that calls the LoRA")
    p.add_argument("--model", help="base model id (default: the daemon's default model)")
    p.add_argument("--caption-ext", default=".txt",
                   help="captions: IMAGE-STEM + this, beside each image (default .txt)")
    p.add_argument("--caption", default="{trigger}",
                   help="the caption of an image without a caption file ({trigger}: the trigger word)")
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--alpha", type=int, help="default: the rank")
    p.add_argument("--lr", type=float, default=1e-4, help="learning rate")
    p.add_argument("--resolution", type=int, default=512, help="training side in px, a multiple of 8")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--seed", type=int, help="default: random (printed)")
    p.add_argument("--checkpoint-every", type=int, default=100, help="steps between resumable checkpoints")
    p.add_argument("--sample-every", type=int, default=0, help="steps between sample previews (0: the end only)")
    p.add_argument("--sample-prompt", default="", help="default: the trigger word")
    p.add_argument("--flip", action="store_true", help="random horizontal flips (not for text or logos)")
    p.add_argument("--random-crop", action="store_true")
    p.add_argument("--train-text-encoder", action="store_true")
    p.add_argument("--class-prompt", default="", metavar="TEXT",
                   help="prior preservation: the class of the subject, e.g. 'a photo of a mug'")
    p.add_argument("--class-images", type=int, default=0, metavar="N",
                   help="prior preservation: class images the daemon generates first (0: off)")
    p.add_argument("--prior-loss-weight", type=float, default=1.0,
                   help="weight of the class images' loss (default 1.0)")
    p.add_argument("--samples-out", metavar="DIR", help="folder for sample previews and the final sample "
                   "(default: NAME-samples beside the images folder)")
    p.add_argument("--job-id", help="choose the job id (a repeated submit is one job)")
    p.set_defaults(run=run, action="train")


@dataclass(frozen=True)
class TrainInputs:
    """The folder read and checked: PNG bytes to upload (jpg/webp converted, since blobs are PNG),
    their sha256s in order, the validated spec, and where the samples go."""

    pngs: list[bytes]
    spec: TrainSpec
    samples_out: Path


def read_inputs(args: argparse.Namespace) -> TrainInputs:
    folder = Path(args.images)
    found = read_folder(folder, args.caption_ext, args.caption)  # shared with the tray's Train tab
    files = [f.path for f in found]
    pngs = [f.png for f in found]
    captions = [f.caption for f in found]
    fields: dict[str, Any] = dict(
        name=args.name, trigger=args.trigger, images=[f.sha256 for f in found],
        captions=captions, steps=args.steps, rank=args.rank, alpha=args.alpha,
        learning_rate=args.lr, resolution=args.resolution, batch_size=args.batch_size,
        checkpoint_every=args.checkpoint_every, sample_every=args.sample_every,
        sample_prompt=args.sample_prompt, flip=args.flip, random_crop=args.random_crop,
        train_text_encoder=args.train_text_encoder, class_prompt=args.class_prompt,
        class_images=args.class_images, prior_loss_weight=args.prior_loss_weight,
    )
    try:
        spec = TrainSpec.model_validate(fields)  # the bounds live there, stated once
    except ValidationError as exc:
        raise _flag_error(validation_error(exc, fields), files) from None
    samples = Path(args.samples_out) if args.samples_out else folder.resolve().parent / f"{args.name}-samples"
    if samples.exists() and not samples.is_dir():
        raise InvalidInput("samples-out", str(samples), "exists and is not a folder")
    if not samples.parent.is_dir():
        raise InvalidInput("samples-out", str(samples), f"folder {str(samples.parent)!r} does not exist")
    return TrainInputs(pngs, spec, samples)


FLAGS = {"learning_rate": "lr", "batch_size": "batch-size", "checkpoint_every": "checkpoint-every",
         "sample_every": "sample-every", "sample_prompt": "sample-prompt", "images": "images"}


def _flag_error(err: InvalidInput, files: list[Path]) -> InvalidInput:
    """TrainSpec's error, its field spelt as the flag (`captions.2` as the caption file)."""
    field = err.field or ""
    head, _, index = field.partition(".")
    if head == "captions" and index.split(".")[0].isdigit():
        path = files[int(index.split(".")[0])]
        return InvalidInput.worded("caption-ext", f"caption of {path.name}: {err.message}")
    flag = FLAGS.get(head, head.replace("_", "-"))
    return InvalidInput.worded(flag, f"--{flag}: {err.message}")


async def train(client: Any, args: argparse.Namespace, inputs: TrainInputs) -> None:
    from .cli_client import _default_model, _wait
    from .client import RemoteError

    sent = 0
    for png in inputs.pngs:  # each upload asks blob.has first: what the daemon has is not sent
        before = client.payload_bytes_sent
        await client.upload(png, "png")
        sent += client.payload_bytes_sent > before
    print(f"{len(inputs.pngs)} images, {sent} uploaded", file=sys.stderr, flush=True)
    fields: dict[str, Any] = dict(kind="train", model=args.model or _default_model(client),
                                  seed=args.seed, train=inputs.spec)
    try:
        params = JobParams.model_validate(fields)
    except ValidationError as exc:
        raise validation_error(exc, fields) from None
    job = await client.submit(params, job_id=args.job_id, priority="batch")
    print(f"job {job.job_id} seed {job.seed}", file=sys.stderr, flush=True)
    inputs.samples_out.mkdir(exist_ok=True)
    bar = TrainProgress(inputs.samples_out)
    try:
        await _wait(job, bar)
    except RemoteError:
        bar.end()
        raise
    bar.end()
    for info, data in job.results:
        path = inputs.samples_out / f"{inputs.spec.name}-final.png"
        path.write_bytes(data)
        print(f"wrote {path} ({info.width}x{info.height})", file=sys.stderr)
    print(inputs.spec.name)  # stdout: the registered LoRA's id, for scripts


class TrainProgress:
    """One line on stderr: step/steps, loss, ETA; each sample preview saved as a PNG."""

    def __init__(self, samples: Path) -> None:
        self.samples = samples
        self.tty = sys.stderr.isatty()
        self._last = 0.0
        self._open = False

    def __call__(self, event: Any) -> None:
        msg = event.message
        if not isinstance(msg, JobProgress):
            return
        if event.payload is not None:
            kind = "class" if msg.phase == "class_images" else "step"
            (self.samples / f"{kind}-{msg.step:05d}.png").write_bytes(event.payload)
        now = time.monotonic()
        if not self.tty and msg.step != msg.steps and now - self._last < 5:
            return  # a log file gets a line every few seconds, not one per step
        self._last = now
        done = int(30 * msg.step / max(msg.steps, 1))
        loss = f" loss {msg.loss:.4f}" if msg.loss is not None else ""
        if msg.phase == "class_images":
            loss = " class images"
        eta = f" ETA {_duration(msg.eta_s)}" if msg.eta_s is not None else ""
        line = f"[{'#' * done}{' ' * (30 - done)}] {msg.step}/{msg.steps}{loss}{eta}"
        sys.stderr.write(f"\r{line:70}" if self.tty else f"{line}\n")
        self._open = self.tty
        sys.stderr.flush()

    def end(self) -> None:
        if self._open:
            sys.stderr.write("\n")
            self._open = False


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def run_train(args: argparse.Namespace) -> int:
    """Checks the inputs, then connects (as every `client` command does) and trains."""
    return asyncio.run(_main(args))


async def _main(args: argparse.Namespace) -> int:
    from .cli import default_tls, default_token, default_url
    from .client import DaemonClient

    inputs = read_inputs(args)
    url = args.url or default_url(args)
    token = default_token(args)
    ca, pin = default_tls(args, url)
    async with await DaemonClient.connect(url, token, ca=ca, tls_fingerprint=pin) as client:
        await train(client, args, inputs)
    return 0

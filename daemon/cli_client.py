"""`layerbridge client ...`: the protocol from a terminal, for scripts and tests.

Every command exits non-zero with a one-line reason on failure. Uses Pillow for compositing the
returned patch onto the input; never torch.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin
from pydantic import ValidationError

from .errors import InvalidInput
from .protocol.codec import validation_error
from .protocol.messages import ControlSpec, JobParams, LoraSpec, Margins, ResultInfo

JOB_COMMANDS = ("generate", "refine", "inpaint", "expand")


def add_client_parser(sub: Any) -> None:
    client = sub.add_parser("client", help="talk to a running daemon")
    client.add_argument("--url", help="daemon URL (default ws://127.0.0.1:7842 or $LAYERBRIDGE_URL)")
    client.add_argument("--token", help="pairing token (default $LAYERBRIDGE_TOKEN, else the "
                        "CLI's own admin token from the keyring)")
    actions = client.add_subparsers(metavar="ACTION")
    actions.add_parser("status", help="device, loaded models, queue").set_defaults(run=_run, action="status")
    actions.add_parser("models", help="models the daemon offers").set_defaults(run=_run, action="models")
    fetch = actions.add_parser("fetch", help="results of a job (after a reconnect)")
    fetch.add_argument("job_id")
    fetch.add_argument("--out", help="PNG path for the results")
    fetch.set_defaults(run=_run, action="fetch")
    cancel = actions.add_parser("cancel", help="cancel a job")
    cancel.add_argument("job_id")
    cancel.set_defaults(run=_run, action="cancel")
    for kind in JOB_COMMANDS:
        job = actions.add_parser(kind, help=f"run a {kind} job")
        _job_options(job, kind)
        job.set_defaults(run=_run, action=kind)


def _job_options(p: argparse.ArgumentParser, kind: str) -> None:
    p.add_argument("--model", help="model id (default: the daemon's default model)")
    p.add_argument("--prompt", default="")
    p.add_argument("--negative", default="", help="negative prompt")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--seed", type=int, help="default: random (printed)")
    p.add_argument("--guidance", type=float, default=7.0)
    p.add_argument("--scheduler", default="dpmpp_2m",
                   help="ddim, euler, euler_a, dpmpp_2m, dpmpp_2m_karras, unipc")
    p.add_argument("--batch", type=int, default=1, help="images; PATH gets an index suffix")
    p.add_argument("--out", required=True, help="output PNG")
    p.add_argument("--job-id", help="choose the job id (a repeated submit is one job)")
    p.add_argument("--control", action="append", default=[], metavar="TYPE:PATH[:STRENGTH]")
    p.add_argument("--lora", action="append", default=[], metavar="ID[:WEIGHT]")
    p.add_argument("--priority", choices=["interactive", "batch"], default="interactive")
    if kind == "generate":
        p.add_argument("--size", default="512x512", help="WxH, multiples of 8")
    else:
        p.add_argument("--image", required=True, help="input image (PNG)")
        p.add_argument("--strength", type=float, help="0 keeps the input, 1 replaces it")
    if kind == "inpaint":
        p.add_argument("--mask", required=True, help="grey PNG, white = repaint")
        p.add_argument("--fill", default="keep", choices=["keep", "blur", "edge", "noise"])
    if kind == "expand":
        for side in ("left", "top", "right", "bottom"):
            p.add_argument(f"--{side}", type=int, default=0)
    if kind in ("inpaint", "expand"):
        p.add_argument("--patch-out", help="also write the patch alone, its region in PNG metadata")


def _run(args: argparse.Namespace) -> int:
    return asyncio.run(_client_main(args))


async def _client_main(args: argparse.Namespace) -> int:
    from .auth import cli_token
    from .cli import default_url, paths_of
    from .client import DaemonClient

    url = args.url or default_url(args)
    token = args.token or os.environ.get("LAYERBRIDGE_TOKEN") or cli_token(paths_of(args))
    async with await DaemonClient.connect(url, token) as client:
        match args.action:
            case "status":
                status = await client.status()
                print(json.dumps(status.model_dump(mode="json"), indent=2))
            case "models":
                for m in client.welcome.models:
                    print(f"{'*' if m.default else ' '} {m.id:24} {m.kind:10} {m.arch}")
            case "cancel":
                await client.cancel(args.job_id)
                print(f"cancel requested for {args.job_id}")
            case "fetch":
                job, state = await client.fetch(args.job_id)
                print(f"{args.job_id}: {state.job.state}", file=sys.stderr)
                if state.job.state in ("queued", "running", "done"):
                    await job.wait(_progress_printer())
                    if args.out:
                        _write_results(job.results, Path(args.out), None, None)
            case _:
                await _job(client, args)
    return 0


async def _job(client: Any, args: argparse.Namespace) -> None:
    image_bytes = Path(args.image).read_bytes() if getattr(args, "image", None) else None
    upload: dict[str, str] = {}
    if image_bytes is not None:
        upload["image"] = await client.upload(image_bytes, "png")
    if getattr(args, "mask", None):
        upload["mask"] = await client.upload(_grey_png(Path(args.mask)), "png")
    control = []
    for i, spec in enumerate(args.control):
        ctype, path, strength = _split_control(spec, i)
        sha = await client.upload(Path(path).read_bytes(), "png")
        control.append(ControlSpec(type=ctype, image=sha, strength=strength))  # type: ignore[arg-type]
    loras = [_split_lora(spec, i) for i, spec in enumerate(args.lora)]
    fields: dict[str, Any] = dict(
        kind=args.action, model=args.model or _default_model(client), prompt=args.prompt,
        negative_prompt=args.negative, seed=args.seed, steps=args.steps, guidance=args.guidance,
        scheduler=args.scheduler, batch=args.batch, control=control, loras=loras, **upload,
    )
    if args.action == "generate":
        fields["width"], fields["height"] = _size(args.size)
    else:
        fields["strength"] = args.strength
    if args.action == "inpaint":
        fields["fill"] = args.fill
    if args.action == "expand":
        fields["margins"] = Margins(left=args.left, top=args.top, right=args.right, bottom=args.bottom)
    try:
        params = JobParams.model_validate(fields)
    except ValidationError as exc:
        raise validation_error(exc, fields) from None
    job = await client.submit(params, job_id=args.job_id, priority=args.priority)
    print(f"job {job.job_id} seed {job.seed}", file=sys.stderr)
    await job.wait(_progress_printer())
    _write_results(job.results, Path(args.out), image_bytes, getattr(args, "patch_out", None))


def _default_model(client: Any) -> str:
    for m in client.welcome.models:
        if m.default and m.kind == "checkpoint":
            return str(m.id)
    checkpoints = [m.id for m in client.welcome.models if m.kind == "checkpoint"]
    if not checkpoints:
        raise InvalidInput("model", None, "the daemon has no models (run `layerbridge models demo`)")
    return str(checkpoints[0])


def _write_results(results: list[tuple[ResultInfo, bytes]], out: Path, source: bytes | None,
                   patch_out: str | None) -> None:
    for info, data in results:
        path = out if len(results) == 1 else out.with_name(f"{out.stem}-{info.index}{out.suffix}")
        if source is not None and info.params.kind in ("inpaint", "expand"):
            path.write_bytes(composite(source, data, info))
            if patch_out:
                p = Path(patch_out)
                p = p if len(results) == 1 else p.with_name(f"{p.stem}-{info.index}{p.suffix}")
                p.write_bytes(_with_region(data, info))
        else:
            path.write_bytes(data)
        print(f"wrote {path} ({info.width}x{info.height}, seed {info.seed})", file=sys.stderr)


def composite(source: bytes, patch: bytes, info: ResultInfo) -> bytes:
    """The input with the patch placed at its region; the canvas grows to hold an expand."""
    base = Image.open(io.BytesIO(source)).convert("RGBA")
    layer = Image.open(io.BytesIO(patch)).convert("RGBA")
    r = info.region
    left, top = min(0, r.x), min(0, r.y)
    right, bottom = max(base.width, r.x + r.width), max(base.height, r.y + r.height)
    canvas = Image.new("RGBA", (right - left, bottom - top))
    canvas.paste(base, (-left, -top))
    canvas.alpha_composite(layer, (r.x - left, r.y - top))
    out = io.BytesIO()
    canvas.save(out, format="PNG")
    return out.getvalue()


def _with_region(data: bytes, info: ResultInfo) -> bytes:
    meta = PngImagePlugin.PngInfo()
    meta.add_text("layerbridge:region", info.region.model_dump_json())
    meta.add_text("layerbridge:seed", str(info.seed))
    out = io.BytesIO()
    Image.open(io.BytesIO(data)).save(out, format="PNG", pnginfo=meta)
    return out.getvalue()


def _grey_png(path: Path) -> bytes:
    image = Image.open(path)
    if image.mode == "L":
        return path.read_bytes()
    out = io.BytesIO()
    image.convert("L").save(out, format="PNG")
    return out.getvalue()


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InvalidInput("size", text, "expected WxH, e.g. 512x512") from None
    return w, h


def _split_control(spec: str, i: int) -> tuple[str, str, float]:
    parts = spec.split(":")
    if len(parts) not in (2, 3):
        raise InvalidInput(f"control.{i}", spec, "expected TYPE:PATH[:STRENGTH]")
    try:
        strength = float(parts[2]) if len(parts) == 3 else 1.0
    except ValueError:
        raise InvalidInput(f"control.{i}.strength", parts[2], "not a number") from None
    return parts[0], parts[1], strength


def _split_lora(spec: str, i: int) -> LoraSpec:
    name, _, weight = spec.partition(":")
    try:
        return LoraSpec(id=name, weight=float(weight) if weight else 1.0)
    except ValueError as exc:
        raise InvalidInput(f"loras.{i}", spec, f"expected ID[:WEIGHT] ({exc})") from None


def _progress_printer() -> Any:
    from .client import JobEvent
    from .protocol.messages import JobProgress

    tty = sys.stderr.isatty()

    def show(event: JobEvent) -> None:
        msg = event.message
        if tty and isinstance(msg, JobProgress):
            done = int(30 * msg.step / max(msg.steps, 1))
            sys.stderr.write(f"\r[{'#' * done}{' ' * (30 - done)}] {msg.step}/{msg.steps}")
            if msg.step == msg.steps:
                sys.stderr.write("\n")
            sys.stderr.flush()

    return show

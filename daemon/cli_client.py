"""`layerbridge client ...`: the protocol from a terminal, for scripts and tests.

Every command exits non-zero with a one-line reason on failure. Uses Pillow for compositing the
returned patch onto the input; never torch.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import sys
from pathlib import Path
from typing import Any

from PIL import Image, PngImagePlugin
from pydantic import ValidationError

from . import image_io
from .errors import InvalidInput
from .protocol.codec import validation_error
from .protocol.messages import JobParams, Margins, ResultInfo
from .protocol.vocab import ControlType

JOB_COMMANDS = ("generate", "refine", "inpaint", "expand")


def add_client_parser(sub: Any) -> None:
    from .cli import add_tls_arguments

    client = sub.add_parser("client", help="talk to a running daemon")
    client.add_argument("--url", help="daemon URL (default ws://127.0.0.1:7842 or $LAYERBRIDGE_URL)")
    client.add_argument("--token", help="pairing token (default $LAYERBRIDGE_TOKEN, else the "
                        "CLI's own admin token from the keyring)")
    add_tls_arguments(client)
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
    from .cli_train import add_train_parser, run_train

    add_train_parser(actions, run_train)


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
    p.add_argument("--control", action="append", default=[], metavar="TYPE:PATH[:STRENGTH]",
                   help="a map type (canny, depth, openpose, ...), a ControlNet id, or TYPE@ID")
    p.add_argument("--lora", action="append", default=[], metavar="ID[:WEIGHT]")
    p.add_argument("--vae", help="a registered VAE to decode with (default: the model's)")
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
    from .cli import default_tls, default_token, default_url
    from .client import DaemonClient

    inputs = _Inputs(args) if args.action in JOB_COMMANDS else None
    url = args.url or default_url(args)
    token = default_token(args)
    ca, pin = default_tls(args, url)
    async with await DaemonClient.connect(url, token, ca=ca, tls_fingerprint=pin) as client:
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
                if args.out:
                    _check_out_dir("out", args.out)
                job, state = await client.fetch(args.job_id)
                print(f"{args.job_id}: {state.job.state}", file=sys.stderr)
                # a failed or cancelled job raises here with its reason: exit non-zero
                await _wait(job)
                if args.out:
                    _write_results(job.results, Path(args.out), None, None)
            case _:
                assert inputs is not None
                await _job(client, args, inputs)
    return 0


async def _wait(job: Any, show: Any = None) -> None:
    try:
        await job.wait(show or _progress_printer())
    except asyncio.CancelledError:  # Ctrl+C: the job is the daemon's, it goes on without us
        print(f"\nlayerbridge: interrupted; job {job.job_id} is still running on the daemon: "
              f"`layerbridge client fetch {job.job_id} --out PATH` gets its results, "
              f"`layerbridge client cancel {job.job_id}` stops it", file=sys.stderr)
        raise


class _Inputs:
    """The local files a job command reads, read before connecting so that a missing one costs
    nothing and is named by its flag."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.image = _read("image", args.image) if getattr(args, "image", None) else None
        self.mask = _grey_png(Path(args.mask), "mask") if getattr(args, "mask", None) else None
        self.control: list[tuple[str, bytes, float]] = []
        for i, spec in enumerate(args.control):
            ctype, path, strength = _split_control(spec, i)
            self.control.append((ctype, _read(f"control.{i}.image", path), strength))
        _check_out_dir("out", args.out)
        if getattr(args, "patch_out", None):
            _check_out_dir("patch-out", args.patch_out)


def _read(flag: str, path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InvalidInput(flag, path, f"cannot read it ({exc.strerror or exc})") from None


def _check_out_dir(flag: str, path: str) -> None:
    folder = Path(path).parent
    if not folder.is_dir():
        raise InvalidInput(flag, path, f"folder {str(folder)!r} does not exist")


async def _job(client: Any, args: argparse.Namespace, inputs: _Inputs) -> None:
    image_bytes = inputs.image
    upload: dict[str, str] = {}
    if image_bytes is not None:
        upload["image"] = await client.upload(image_bytes, "png")
    if inputs.mask is not None:
        upload["mask"] = await client.upload(inputs.mask, "png")
    control: list[dict[str, Any]] = []  # JobParams checks them and names the bad field
    for i, (head, data, strength) in enumerate(inputs.control):
        ctype, model = _control_target(head, i, args.control[i], client.welcome.models)
        sha = await client.upload(data, "png")
        control.append({"type": ctype, "model": model, "image": sha, "strength": strength})
    loras = [_split_lora(spec, i) for i, spec in enumerate(args.lora)]
    fields: dict[str, Any] = dict(
        kind=args.action, model=args.model or _default_model(client), prompt=args.prompt,
        negative_prompt=args.negative, seed=args.seed, steps=args.steps, guidance=args.guidance,
        scheduler=args.scheduler, batch=args.batch, control=control, loras=loras, **upload,
    )
    if args.vae:
        fields["vae"] = args.vae
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
    print(f"job {job.job_id} seed {job.seed}", file=sys.stderr, flush=True)
    await _wait(job)
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
    base = image_io.to_8bit(Image.open(io.BytesIO(source))).convert("RGBA")
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


def _grey_png(path: Path, flag: str) -> bytes:
    """The mask as a grey PNG, read as the daemon reads one: grey times alpha (transparent is
    never repainted), 16-bit scaled down."""
    try:
        with Image.open(path) as image:
            if image.mode == "L" and image.format == "PNG":
                return path.read_bytes()
            grey = image_io.mask_grey(image)
    except OSError as exc:  # missing, unreadable, or not an image Pillow knows
        raise InvalidInput(flag, str(path), f"cannot read it as an image ({exc.strerror or exc})") from None
    out = io.BytesIO()
    grey.save(out, format="PNG")
    return out.getvalue()


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InvalidInput("size", text, "expected WxH, e.g. 512x512") from None
    return w, h


def _split_control(spec: str, i: int) -> tuple[str, str, float]:
    ctype, sep, rest = spec.partition(":")
    if not sep or not ctype or not rest:
        raise InvalidInput(f"control.{i}", spec, CONTROL_USAGE)
    path, sep, tail = rest.rpartition(":")
    if not sep:
        return ctype, rest, 1.0
    try:
        return ctype, path, float(tail)
    except ValueError:
        if len(path) == 1 and path.isalpha():  # a Windows drive: C:\maps\edge.png
            return ctype, rest, 1.0
        raise InvalidInput(f"control.{i}.strength", tail, "not a number") from None


CONTROL_USAGE = "--control takes TYPE:PATH[:STRENGTH], MODEL_ID:PATH[:STRENGTH] or TYPE@MODEL_ID:PATH[:STRENGTH]"


def _control_target(head: str, i: int, spec: str, models: list[Any]) -> tuple[str, str | None]:
    """(map type, ControlNet id or None) of a --control value's first part: a map type (the
    daemon picks its ControlNet), a registered ControlNet's id (its type), or TYPE@ID (a union
    ControlNet, or a net used with another type's maps)."""
    types = tuple(ControlType)
    ctype, at, model = head.partition("@")
    if at:
        if ctype not in types:
            raise InvalidInput(f"control.{i}.type", ctype, f"{CONTROL_USAGE}; TYPE is one of {', '.join(types)}")
        _controlnet(model, i, spec, models)
        return ctype, model
    if head in types:
        return head, None
    net = _controlnet(head, i, spec, models)
    if net.control_type == "union":
        raise InvalidInput(f"control.{i}", spec, f"{head!r} is a union ControlNet: --control needs the map's type, "
                           f"e.g. depth@{head}:PATH")
    return str(net.control_type), head


def _controlnet(model_id: str, i: int, spec: str, models: list[Any]) -> Any:
    found = next((m for m in models if m.id == model_id), None)
    if found is None or found.kind != "controlnet":
        known = ", ".join(m.id for m in models if m.kind == "controlnet") or "none registered"
        raise InvalidInput(f"control.{i}", spec, f"{model_id!r} is neither a control type nor a ControlNet "
                           f"id ({CONTROL_USAGE}; ControlNets: {known})")
    return found


def _split_lora(spec: str, i: int) -> dict[str, Any]:
    """ID[:WEIGHT] as the fields of a LoraSpec; JobParams checks them and names the bad one."""
    name, _, weight = spec.partition(":")
    try:
        return {"id": name, "weight": float(weight) if weight else 1.0}
    except ValueError:
        raise InvalidInput(f"loras.{i}", spec, "expected ID[:WEIGHT]") from None


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

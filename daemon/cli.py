"""`layerbridge serve | models | pair | client | protocol`.

Imports stay light at the top: torch and diffusers load only in `serve` (in the engine's thread)
and `models demo`; `layerbridge client status` never touches them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import __version__
from .config import DEFAULT_PORT, Paths, check_bind_host, data_dir, is_lan, load_settings
from .errors import InvalidInput, LayerbridgeError
from .protocol.vocab import ControlNetType, ModelKind

if TYPE_CHECKING:
    from .config import ServerSettings
    from .engine.registry import Registry
    from .executors.base import Executor
    from .tls import Certificate


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except LayerbridgeError as exc:
        print(f"layerbridge: {exc.code}: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="layerbridge", description="Local diffusion daemon for Photoshop and Figma.")
    p.add_argument("--version", action="version", version=f"layerbridge {__version__}")
    p.add_argument("--data-dir", help="models, ledger, results and settings (default: $LAYERBRIDGE_HOME "
                   "or the user data dir)")
    sub = p.add_subparsers(metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the daemon in the foreground")
    serve.add_argument("--host", help="bind address (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    serve.add_argument("--tls-cert", help="LAN mode: the studio's certificate (PEM; default: the settings', "
                       "else a self-signed one made in the data dir)")
    serve.add_argument("--tls-key", help="its private key (PEM), unless the certificate file holds it")
    serve.add_argument("--insecure", action="store_true", help="LAN mode without TLS: tokens and images "
                       "cross the network in the clear (only on a network you trust entirely)")
    serve.add_argument("--executor", choices=["local", "ray"], default="local")
    serve.add_argument("--ray-address", help="with --executor ray: the cluster to join")
    serve.set_defaults(run=_serve)

    models = sub.add_parser("models", help="the model registry").add_subparsers(metavar="ACTION")
    demo = models.add_parser("demo", help="build the tiny random-weight demo models (no download)")
    demo.add_argument("--if-empty", action="store_true", help="only when no model is registered")
    demo.set_defaults(run=_models_demo)
    models.add_parser("list", help="list registered models").set_defaults(run=_models_list)
    add = models.add_parser("add", help="register a diffusers folder or a .safetensors file")
    add.add_argument("path")
    add.add_argument("--id", help="id clients use (default: from the name)")
    add.add_argument("--kind", choices=list(ModelKind))
    add.add_argument("--control-type", choices=list(ControlNetType),
                     help="ControlNet: the map it follows, when its file does not say")
    add.add_argument("--config", help="single-file checkpoint: a diffusers folder of the same "
                     "architecture to read it with")
    add.add_argument("--allow-pickle", action="store_true",
                     help="accept .ckpt/.pt/.bin pickles (loaded with weights_only)")
    add.add_argument("--prediction", choices=["v", "epsilon"],
                     help="checkpoint: how it samples, when the file says otherwise or nothing")
    add.set_defaults(run=_models_add)
    mset = models.add_parser("set", help="change a registered model's settings")
    mset.add_argument("model_id")
    mset.add_argument("--prediction", choices=["v", "epsilon"],
                      help="checkpoint: sample as v-prediction (SD-2 768) or epsilon (SD-2 512 base)")
    vae = mset.add_mutually_exclusive_group()
    vae.add_argument("--vae", metavar="VAE_ID", help="checkpoint: decode its jobs with this VAE")
    vae.add_argument("--own-vae", action="store_true", help="checkpoint: decode with its own VAE again")
    mset.add_argument("--name", help="the name clients show")
    mset.add_argument("--trigger", action="append", metavar="WORD",
                      help="LoRA or embedding: a trigger word (repeat for several)")
    mset.add_argument("--weight", type=float, help="LoRA: its default weight")
    mset.set_defaults(run=_models_set)
    rm = models.add_parser("remove", help="unregister a model (broken ones too, by the id listed)")
    rm.add_argument("model_id")
    rm.set_defaults(run=_models_remove)
    default = models.add_parser("default", help="set the model used when a client names none")
    default.add_argument("model_id")
    default.set_defaults(run=_models_default)

    pair = sub.add_parser("pair", help="pair a client: prints its token (last line)")
    pair.add_argument("--name", help="the client's name (e.g. photoshop-anna)")
    pair.add_argument("--admin", action="store_true", help="may manage models and clients")
    pair.add_argument("--list", action="store_true", help="list paired clients")
    pair.add_argument("--revoke", metavar="NAME", help="revoke a client's token (takes effect at once)")
    pair.set_defaults(run=_pair)

    from .cli_client import add_client_parser

    add_client_parser(sub)

    tray = sub.add_parser("tray", help="the tray app: runs the daemon, manages models and clients")
    tray_where = tray.add_mutually_exclusive_group()
    tray_where.add_argument("--remote", metavar="URL", help="manage a remote daemon (ws://host:port)")
    tray_where.add_argument("--local", action="store_true", help="manage this computer's daemon again")
    tray.add_argument("--tls-fingerprint", metavar="SHA256", help="with --remote wss://...: trust the "
                      "daemon whose certificate has this SHA-256 fingerprint (`layerbridge pair` "
                      "prints it); saved with the remote")
    tray.add_argument("--no-start", action="store_true", help="do not start the local daemon")
    tray.add_argument("--show", action="store_true", help="open the manager window at once")
    tray.add_argument("--port", type=int, help="start the local daemon on this port")
    tray.set_defaults(run=_tray)

    batch = sub.add_parser("batch", help="run a batch spec (YAML or CSV) through the daemon")
    batch.add_argument("spec", help="YAML or CSV: prompt templates, variables, seeds, models, ...")
    batch.add_argument("--out", help="output folder (default: the spec's name + '-out' beside it)")
    batch.add_argument("--dry-run", action="store_true", help="print how many jobs the spec makes")
    batch.add_argument("--window", type=int, default=16, help="jobs waiting in the daemon at once")
    batch.add_argument("--url", help="daemon URL (default ws://127.0.0.1:7842 or $LAYERBRIDGE_URL)")
    batch.add_argument("--token", help="pairing token (default $LAYERBRIDGE_TOKEN, else the CLI's)")
    add_tls_arguments(batch)
    batch.set_defaults(run=_batch)

    proto = sub.add_parser("protocol", help="the wire protocol").add_subparsers(metavar="ACTION")
    proto.add_parser("schema", help="print the JSON Schema of every message").set_defaults(run=_schema)
    return p


def paths_of(args: argparse.Namespace) -> Paths:
    return data_dir(args.data_dir)


def _serve(args: argparse.Namespace) -> int:
    import ssl

    from .app import DaemonCore
    from .logs import setup_logging
    from .permissions import secure_data_dir
    from .runtime import clear_runtime, write_runtime
    from .server import run_daemon

    os.umask(0o077)  # all the daemon writes (ledger, blobs, results, logs) is for this user only
    paths = paths_of(args).ensure()
    setup_logging(paths.logs)
    secure_data_dir(paths.root)
    settings = load_settings(paths)
    host = check_bind_host(args.host) if args.host else settings.server.host
    tls: ssl.SSLContext | None = None
    fingerprint: str | None = None
    certificate = _certificate(args, paths, settings.server, host)
    if certificate is not None:
        from .tls import server_context

        tls, fingerprint = server_context(certificate), certificate.fingerprint
    executor: Executor
    if args.executor == "ray":
        from .executors.ray import RayExecutor  # optional extra; clear error when missing

        executor = RayExecutor(paths, settings.engine, address=args.ray_address)
    else:
        from .executors.local import LocalExecutor, diffusers_engine

        executor = LocalExecutor(diffusers_engine(paths, settings.engine))
    core = DaemonCore(paths, settings, executor)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        for sig in (signal.SIGINT, signal.SIGTERM):
            # Windows has no signal handlers on the loop: Ctrl+C raises KeyboardInterrupt instead
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, _resolve, stop)

        def ready(url: str) -> None:
            port = int(url.rsplit(":", 1)[1])
            write_runtime(paths, url=url, host=host, port=port, tls_fingerprint=fingerprint)
            print(f"Layerbridge listening on {url}", flush=True)
            print(f"  port: {port}", flush=True)
            if fingerprint is not None:
                print(f"  TLS certificate SHA-256: {fingerprint}", flush=True)
            print(f"  data dir: {paths.root}", flush=True)
            print("  pair a client:  layerbridge pair --name my-photoshop   (paste the token "
                  "into the panel)", flush=True)

        try:
            await run_daemon(core, host, args.port, ready, stop, tls=tls)
        finally:
            clear_runtime(paths)

    asyncio.run(run())
    # Everything durable is closed (ledger, sockets). Exit now rather than join the engine's
    # thread, which may still be importing torch or finishing a step nobody will read.
    logging.shutdown()
    sys.stdout.flush()
    os._exit(0)


def _certificate(args: argparse.Namespace, paths: Paths, server: ServerSettings, host: str) -> Certificate | None:
    """What `serve` speaks TLS with: a given certificate anywhere; in LAN mode, the settings' or
    a self-signed one; None for loopback, or LAN mode with an explicit --insecure."""
    from .tls import server_certificate

    if args.insecure:
        if args.tls_cert or args.tls_key:
            raise InvalidInput("insecure", True, "--insecure turns TLS off: give it or --tls-cert, not both")
        if is_lan(host):
            logging.getLogger("layerbridge.tls").warning(
                "LAN mode without TLS (--insecure): tokens, prompts and images cross the network "
                "unencrypted to and from %s", host)
        return None
    if args.tls_cert or args.tls_key or server.tls_cert or is_lan(host):
        return server_certificate(paths, server, host, args.tls_cert, args.tls_key)
    return None


def _registry(args: argparse.Namespace) -> Registry:
    from .engine.registry import Registry

    return Registry(paths_of(args).ensure())


def _models_demo(args: argparse.Namespace) -> int:
    paths = paths_of(args).ensure()
    if args.if_empty and _registry(args).list():
        return 0
    from .engine.demo import build_demo

    for info in build_demo(paths):
        print(f"built {info.id} ({info.arch}, {info.kind})")
    return 0


def _models_list(args: argparse.Namespace) -> int:
    reg = _registry(args)
    entries, broken = reg.survey()
    if not entries and not broken:
        print("no models; build the demo with `layerbridge models demo` or add one with "
              "`layerbridge models add PATH`")
    for e in entries:
        m = e.info
        mark = "*" if m.default else " "
        sampling = {"v_prediction": "v", "epsilon": "eps"}.get(m.prediction or "", "-")
        print(f"{mark} {m.id:24} {m.kind:10} {m.arch:14} {m.format:11} {sampling:4} "
              f"{m.size_bytes / 2**20:9.1f} MiB  {m.name}")
    for b in broken:
        print(f"! {b.id:24} BROKEN: {b.reason}  (layerbridge models remove {b.id})")
    return 0


def _models_add(args: argparse.Namespace) -> int:
    progress = _DownloadBar() if str(args.path).startswith("hf:") else None
    info = _registry(args).add(args.path, model_id=args.id, kind=args.kind, allow_pickle=args.allow_pickle,
                               control_type=args.control_type, config=args.config,
                               prediction=args.prediction, progress=progress)
    extra = f", {info.prediction}" if info.prediction else ""
    print(f"added {info.id} ({info.kind}, {info.arch}, {info.format}{extra})")
    return 0


def _models_set(args: argparse.Namespace) -> int:
    vae = "" if args.own_vae else args.vae
    changes = {"prediction": args.prediction, "vae": vae, "name": args.name,
               "trigger_words": args.trigger, "default_weight": args.weight}
    if all(v is None for v in changes.values()):
        print("models set: nothing to change (give --prediction, --vae, --own-vae, --name, "
              "--trigger or --weight)", file=sys.stderr)
        return 2
    info = _registry(args).update(args.model_id, **changes)
    shown = {"prediction": info.prediction, "vae": info.vae or "its own", "name": info.name,
             "trigger words": ", ".join(info.trigger_words), "weight": info.default_weight}
    keys = {"prediction": "prediction", "vae": "vae", "name": "name",
            "trigger_words": "trigger words", "default_weight": "weight"}
    print(f"{info.id}: " + "; ".join(f"{keys[k]} {shown[keys[k]]}" for k, v in changes.items()
                                     if v is not None))
    return 0


class _DownloadBar:
    """A one-line progress bar on stderr for `models add hf:...` (Ctrl+C stops; run the same
    command again to resume)."""

    def __init__(self) -> None:
        self._last = -1

    def __call__(self, done: int, total: int, file: str) -> bool:
        percent = int(done * 100 / total) if total else 100
        if percent != self._last or not file:
            self._last = percent
            bar = "#" * (percent // 4)
            end = "\n" if not file else ""
            print(f"\r[{bar:25}] {percent:3d}% {done / 2**20:8.1f}/{total / 2**20:.1f} MiB "
                  f"{file[-40:]:40}", end=end, file=sys.stderr, flush=True)
        return False


def _models_remove(args: argparse.Namespace) -> int:
    _registry(args).remove(args.model_id)
    print(f"removed {args.model_id}")
    return 0


def _models_default(args: argparse.Namespace) -> int:
    _registry(args).set_default(args.model_id)
    print(f"default model: {args.model_id}")
    return 0


def _pair(args: argparse.Namespace) -> int:
    from .auth import TokenStore
    from .permissions import private_umask

    paths = paths_of(args).ensure()
    with private_umask():  # a ledger made here holds token hashes: this user's only
        store = TokenStore(paths.ledger)
    try:
        if args.list:
            for c in store.list():
                seen = "never" if c.last_seen is None else _ago(c.last_seen)
                print(f"{c.name:24} {c.scope:7} last seen {seen}")
            return 0
        if args.revoke:
            store.revoke(args.revoke)
            print(f"revoked {args.revoke}; its connections close within a second")
            return 0
        if not args.name:
            print("layerbridge: pair needs --name NAME (or --list / --revoke NAME)", file=sys.stderr)
            return 2
        token = store.pair(args.name, "admin" if args.admin else "client")
        _print_tls(paths)
        print(f"Paired {args.name!r} ({'admin' if args.admin else 'client'}). Its token, shown once:",
              file=sys.stderr)
        print(token)
        return 0
    finally:
        store.close()


def _print_tls(paths: Paths) -> None:
    """In LAN mode, the certificate a client must trust (or pin): its SHA-256 fingerprint. The
    self-signed one is made here on first use, so pairing may come before the first start."""
    from .runtime import read_runtime
    from .tls import server_certificate

    running = read_runtime(paths)
    if running is not None:
        fingerprint, url = running.tls_fingerprint, running.url
    else:
        server = load_settings(paths).server
        if not (server.tls_cert or is_lan(server.host)):
            return
        fingerprint, url = server_certificate(paths, server, server.host).fingerprint, None
    if fingerprint is None:
        return
    where = f" of {url}" if url else ""
    print(f"TLS certificate SHA-256{where}: {fingerprint}", file=sys.stderr)
    print("  a client on another machine pins it: layerbridge client --url wss://HOST:PORT "
          "--tls-fingerprint FINGERPRINT ...", file=sys.stderr)


def _ago(t: float) -> str:
    import time

    s = int(time.time() - t)
    return f"{s} s ago" if s < 120 else f"{s // 60} min ago" if s < 7200 else f"{s // 3600} h ago"


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _tray(args: argparse.Namespace) -> int:
    from layerbridge.desktop.app import run  # PySide6 and qasync: the `desktop` extra

    code: int = run(args)
    return code


def _batch(args: argparse.Namespace) -> int:
    from .batch import main as batch_main

    return batch_main(args)


def _schema(args: argparse.Namespace) -> int:
    from .protocol.schema import schema_text

    sys.stdout.write(schema_text())
    return 0


def default_token(args: argparse.Namespace) -> str:
    """--token, else $LAYERBRIDGE_TOKEN, else the CLI's own admin token (created on first use)."""
    if args.token:
        return str(args.token)
    env = os.environ.get("LAYERBRIDGE_TOKEN")
    if env:
        return env
    from .auth import cli_token
    from .permissions import private_umask

    with private_umask():  # the ledger and the token file it may create are this user's only
        return cli_token(paths_of(args))


def default_url(args: argparse.Namespace) -> str:
    """$LAYERBRIDGE_URL, else the local daemon's as it bound (its runtime file), else the
    settings' port on loopback."""
    env = os.environ.get("LAYERBRIDGE_URL")
    if env:
        return env
    from .runtime import read_runtime

    running = read_runtime(paths_of(args))
    if running is not None:
        return running.local_url
    return f"ws://127.0.0.1:{load_settings(paths_of(args)).server.port}"


def add_tls_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tls-fingerprint", metavar="SHA256", help="wss://: trust the daemon whose certificate "
                   "has this SHA-256 fingerprint (`layerbridge pair` prints it; default "
                   "$LAYERBRIDGE_TLS_FINGERPRINT)")
    p.add_argument("--ca", metavar="FILE", help="wss://: verify the daemon with this CA (PEM) instead of "
                   "the system's (default $LAYERBRIDGE_CA)")


def default_tls(args: argparse.Namespace, url: str) -> tuple[str | None, str | None]:
    """(CA file, pinned fingerprint) for `url`: the flags, else the environment, else, for the
    local daemon's own URL, the fingerprint it wrote in its runtime file."""
    ca = getattr(args, "ca", None) or os.environ.get("LAYERBRIDGE_CA") or None
    pin = getattr(args, "tls_fingerprint", None) or os.environ.get("LAYERBRIDGE_TLS_FINGERPRINT") or None
    if ca or pin or not url.lower().startswith("wss://"):
        return ca, pin
    from .runtime import read_runtime

    running = read_runtime(paths_of(args))
    if running is not None and url.rstrip("/") in (running.local_url, running.url):
        return None, running.tls_fingerprint
    return None, None


if __name__ == "__main__":
    sys.exit(main())


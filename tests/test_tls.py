"""LAN mode speaks wss://: a real daemon bound beyond the loopback names (127.0.0.2), clients that
pin its certificate's fingerprint or trust it as a CA, and refusals for everything else."""

from __future__ import annotations

import datetime
import json
import os
import re
import signal
import socket
import ssl
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from layerbridge.daemon import tls
from layerbridge.daemon.app import DaemonCore
from layerbridge.daemon.auth import TokenStore
from layerbridge.daemon.client import DaemonClient, RemoteError
from layerbridge.daemon.config import Paths, ServerSettings, Settings
from layerbridge.daemon.errors import InvalidInput
from layerbridge.daemon.executors.local import LocalExecutor, diffusers_engine
from layerbridge.daemon.server import WebSocketServer

LAN_HOST = "127.0.0.2"  # not a loopback *name*: the daemon treats it as LAN mode
LB = [sys.executable, "-m", "layerbridge.daemon.cli"]


def can_bind(host: str) -> bool:
    try:
        with socket.socket() as s:
            s.bind((host, 0))
        return True
    except OSError:
        return False


needs_lan_address = pytest.mark.skipif(not can_bind(LAN_HOST), reason=f"{LAN_HOST} cannot be bound here")


# --------------------------------------------------------------------------- the certificate


def test_the_self_signed_certificate_is_made_once_with_a_private_key(tmp_path: Path) -> None:
    paths = Paths(tmp_path).ensure()
    first = tls.self_signed(paths, LAN_HOST)
    assert first.key is not None and stat.S_IMODE(first.key.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.tls.stat().st_mode) == 0o700
    assert tls.self_signed(paths, LAN_HOST).fingerprint == first.fingerprint  # reused, not remade
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", first.fingerprint)
    assert tls.data_dir_fingerprint(paths) == first.fingerprint


def test_the_certificate_names_this_machine_and_is_not_a_ca(tmp_path: Path) -> None:
    from cryptography import x509

    cert = x509.load_pem_x509_certificate(tls.self_signed(Paths(tmp_path).ensure(), LAN_HOST).cert.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in names.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1", LAN_HOST}
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
    assert days <= 826  # Apple's limit for TLS server certificates (825 days, plus the day of skew)


def test_a_certificate_near_its_end_is_renewed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = Paths(tmp_path).ensure()
    monkeypatch.setattr(tls, "VALID_DAYS", 10)
    old = tls.self_signed(paths).fingerprint
    monkeypatch.setattr(tls, "VALID_DAYS", 825)
    renewed = tls.self_signed(paths)
    assert renewed.fingerprint != old
    from cryptography import x509

    end = x509.load_pem_x509_certificate(renewed.cert.read_bytes()).not_valid_after_utc
    assert end - datetime.datetime.now(datetime.UTC) > datetime.timedelta(days=800)


def test_a_given_certificate_must_exist(tmp_path: Path) -> None:
    paths = Paths(tmp_path).ensure()
    with pytest.raises(InvalidInput) as missing:
        tls.server_certificate(paths, ServerSettings(), LAN_HOST, cert=str(tmp_path / "studio.pem"))
    assert missing.value.field == "tls_cert"
    with pytest.raises(InvalidInput) as keyless:
        tls.server_certificate(paths, ServerSettings(), LAN_HOST, key=str(tmp_path / "studio.key"))
    assert keyless.value.field == "tls_key"


def test_a_key_that_does_not_match_its_certificate_is_named(tmp_path: Path) -> None:
    one = tls.self_signed(Paths(tmp_path / "a").ensure())
    other = tls.self_signed(Paths(tmp_path / "b").ensure())
    with pytest.raises(InvalidInput) as refused:
        tls.server_context(tls.Certificate(one.cert, other.key, self_signed=False))
    assert refused.value.field == "tls_key"


@pytest.mark.parametrize("written", [
    "ab:cd:" * 15 + "ab:cd", ("ABCD" * 16), "SHA256:" + "ab" * 32, "sha256 Fingerprint=" + "AB:" * 31 + "AB",
])
def test_a_fingerprint_is_read_in_the_forms_tools_print(written: str) -> None:
    assert re.fullmatch(r"([0-9A-F]{2}:){31}[0-9A-F]{2}", tls.parse_fingerprint(written))


def test_a_malformed_fingerprint_is_refused_by_name() -> None:
    with pytest.raises(InvalidInput) as refused:
        tls.parse_fingerprint("ab:cd")
    assert refused.value.field == "tls_fingerprint"


# --------------------------------------------------------------------------- a real wss daemon


@dataclass
class LanDaemon:
    url: str
    paths: Paths
    token: str
    certificate: tls.Certificate

    def last_seen(self, name: str) -> float | None:
        store = TokenStore(self.paths.ledger)
        try:
            return next(c.last_seen for c in store.list() if c.name == name)
        finally:
            store.close()


@pytest.fixture
async def lan_daemon(paths: Paths) -> AsyncIterator[LanDaemon]:
    if not can_bind(LAN_HOST):
        pytest.skip(f"{LAN_HOST} cannot be bound here")
    settings = Settings()
    settings.server.host = LAN_HOST
    settings.server.allowed_hosts = [LAN_HOST]  # what a studio sets for its machine's name
    settings.engine.threads = 1
    core = DaemonCore(paths, settings, LocalExecutor(diffusers_engine(paths, settings.engine)))
    await core.start()
    certificate = tls.server_certificate(paths, settings.server, LAN_HOST)
    server = WebSocketServer(core)
    url = await server.start(LAN_HOST, 0, tls.server_context(certificate))
    store = TokenStore(paths.ledger)
    token = store.pair("designer")
    store.close()
    try:
        yield LanDaemon(url, paths, token, certificate)
    finally:
        await server.close()
        await core.stop()


async def test_a_client_pinning_the_fingerprint_is_served(lan_daemon: LanDaemon) -> None:
    assert lan_daemon.url.startswith(f"wss://{LAN_HOST}:")
    async with await DaemonClient.connect(lan_daemon.url, lan_daemon.token,
                                          tls_fingerprint=lan_daemon.certificate.fingerprint) as client:
        assert (await client.status()).version
    assert lan_daemon.last_seen("designer") is not None


async def test_a_wrong_fingerprint_is_refused_before_the_token_is_sent(lan_daemon: LanDaemon) -> None:
    wrong = ":".join(["AB"] * 32)
    with pytest.raises(RemoteError) as refused:
        await DaemonClient.connect(lan_daemon.url, lan_daemon.token, tls_fingerprint=wrong)
    assert refused.value.code == "tls_refused" and lan_daemon.certificate.fingerprint in refused.value.message
    assert lan_daemon.last_seen("designer") is None  # the daemon never saw the token


async def test_a_client_trusting_the_certificate_as_its_ca_is_served(lan_daemon: LanDaemon) -> None:
    async with await DaemonClient.connect(lan_daemon.url, lan_daemon.token,
                                          ca=str(lan_daemon.certificate.cert)) as client:
        assert (await client.status()).version


async def test_an_untrusted_certificate_is_refused_with_the_way_out(lan_daemon: LanDaemon) -> None:
    with pytest.raises(RemoteError) as refused:
        await DaemonClient.connect(lan_daemon.url, lan_daemon.token)  # the system CAs know nothing of it
    assert refused.value.code == "tls_refused" and "--tls-fingerprint" in refused.value.message
    assert lan_daemon.last_seen("designer") is None


async def test_plain_ws_gets_no_answer_from_a_lan_daemon(lan_daemon: LanDaemon) -> None:
    plain = lan_daemon.url.replace("wss://", "ws://")
    with pytest.raises(RemoteError) as refused:
        await DaemonClient.connect(plain, lan_daemon.token)
    assert refused.value.code == "handshake_refused" and "wss://" in refused.value.message
    assert lan_daemon.last_seen("designer") is None


async def test_a_pin_for_a_plain_url_is_refused(lan_daemon: LanDaemon) -> None:
    with pytest.raises(RemoteError) as refused:
        await DaemonClient.connect("ws://127.0.0.1:1", "t", tls_fingerprint=lan_daemon.certificate.fingerprint)
    assert refused.value.field == "url"


# --------------------------------------------------------------------------- `layerbridge serve`


class Served:
    def __init__(self, data: Path, *args: str) -> None:
        env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
        env.pop("LAYERBRIDGE_URL", None)
        self.proc = subprocess.Popen([*LB, "--data-dir", str(data), "serve", "--port", "0", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        self.lines: list[str] = []
        for line in self.proc.stdout:
            self.lines.append(line.rstrip())
            if line.startswith("  data dir:"):
                break
        if not self.lines or "listening on" not in self.lines[0]:
            self.proc.kill()
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise AssertionError(f"serve did not start: {self.lines} {err}")
        self.url = self.lines[0].split("listening on ", 1)[1]

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=60)
        return err


def lb(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    for name in ("LAYERBRIDGE_URL", "LAYERBRIDGE_TOKEN", "LAYERBRIDGE_TLS_FINGERPRINT", "LAYERBRIDGE_CA"):
        env.pop(name, None)
    return subprocess.run([*LB, "--data-dir", str(data), *args], capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "data"
    Paths(root).ensure()
    (root / "settings.json").write_text(json.dumps({"server": {"allowed_hosts": [LAN_HOST]}}))
    yield root


@needs_lan_address
def test_serve_on_a_lan_address_speaks_wss_and_pair_prints_its_fingerprint(data: Path) -> None:
    (data / "settings.json").chmod(0o644)  # as an older version left it
    served = Served(data, "--host", LAN_HOST)
    try:
        assert served.url.startswith(f"wss://{LAN_HOST}:")
        port = int(served.url.rsplit(":", 1)[1])
        assert f"  port: {port}" in served.lines
        shown = next(line for line in served.lines if "TLS certificate SHA-256" in line).rsplit(" ", 1)[1]
        assert shown == tls.fingerprint_of_file(data / "tls" / "cert.pem")
        assert stat.S_IMODE((data / "tls" / "key.pem").stat().st_mode) == 0o600
        assert stat.S_IMODE((data / "settings.json").stat().st_mode) == 0o600  # fixed at start

        paired = lb(data, "pair", "--name", "anna")
        assert paired.returncode == 0, paired.stderr
        assert shown in paired.stderr
        token = paired.stdout.strip().splitlines()[-1]

        ok = lb(data, "client", "--url", served.url, "--token", token, "--tls-fingerprint", shown, "status")
        assert ok.returncode == 0, ok.stderr
        wrong = lb(data, "client", "--url", served.url, "--token", token,
                   "--tls-fingerprint", "00" * 32, "status")
        assert wrong.returncode == 1 and "tls_refused" in wrong.stderr and "Traceback" not in wrong.stderr
        local = lb(data, "client", "status")  # this machine's CLI finds the URL and the pin itself
        assert local.returncode == 0, local.stderr
        assert (data / "daemon.json").exists()
    finally:
        served.stop()
    assert not (data / "daemon.json").exists()


@needs_lan_address
def test_plain_ws_on_a_lan_address_needs_insecure(data: Path) -> None:
    served = Served(data, "--host", LAN_HOST, "--insecure")
    try:
        assert served.url.startswith(f"ws://{LAN_HOST}:")
        assert not any("TLS certificate" in line for line in served.lines)
    finally:
        err = served.stop()
    assert "without TLS (--insecure)" in err


def test_insecure_and_a_certificate_together_are_refused(data: Path) -> None:
    proc = lb(data, "serve", "--host", LAN_HOST, "--insecure", "--tls-cert", str(data / "x.pem"))
    assert proc.returncode == 1 and "insecure" in proc.stderr and "Traceback" not in proc.stderr


def test_loopback_stays_plain_ws(data: Path) -> None:
    served = Served(data)
    try:
        assert served.url.startswith("ws://127.0.0.1:")
    finally:
        served.stop()
    assert not (data / "tls").exists()


def test_a_studio_certificate_is_served_as_given(data: Path, tmp_path: Path) -> None:
    studio = tls.self_signed(Paths(tmp_path / "studio-ca").ensure(), "127.0.0.1")  # stands in for one
    served = Served(data, "--tls-cert", str(studio.cert), "--tls-key", str(studio.key))
    try:
        assert served.url.startswith("wss://127.0.0.1:")
        assert f"  TLS certificate SHA-256: {studio.fingerprint}" in served.lines
        ctx = ssl.create_default_context(cafile=str(studio.cert))
        port = int(served.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as raw, \
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            assert tls.fingerprint(s.getpeercert(binary_form=True) or b"") == studio.fingerprint
    finally:
        served.stop()
    assert not (data / "tls").exists()  # nothing self-signed was made

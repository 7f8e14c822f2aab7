"""TLS for LAN mode: the server's certificate (the studio's, or a self-signed one made on first
use in the data dir), its SHA-256 fingerprint, and the client side (system CAs, a CA file, or a
pinned fingerprint).

Imports only the standard library at the top; `cryptography` loads when a certificate is made.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import ipaddress
import logging
import os
import re
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .config import Paths, ServerSettings
from .errors import InvalidInput, LayerbridgeError

log = logging.getLogger("layerbridge.tls")

CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
# Apple refuses TLS server certificates valid for more than 825 days, even trusted by hand
VALID_DAYS = 825
RENEW_BEFORE_DAYS = 30
_HEX = re.compile(r"[0-9a-f]{64}")


class TlsError(LayerbridgeError):
    """The daemon's certificate is not the one expected, or cannot be trusted."""

    code = "tls_refused"


@dataclass(frozen=True)
class Certificate:
    cert: Path
    key: Path | None  # None: the key is in the cert file
    self_signed: bool

    @property
    def fingerprint(self) -> str:
        return fingerprint_of_file(self.cert)


# --------------------------------------------------------------------------- fingerprints


def fingerprint(der: bytes) -> str:
    """SHA-256 of a DER certificate as browsers and `openssl x509 -fingerprint -sha256` show it:
    upper-case hex pairs joined by colons."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, 64, 2))


def fingerprint_of_file(cert: Path) -> str:
    """The fingerprint of the first certificate in a PEM file (the server's own, before any chain)."""
    text = cert.read_text(encoding="ascii", errors="replace")
    begin = text.find("-----BEGIN CERTIFICATE-----")
    end = text.find("-----END CERTIFICATE-----", begin)
    if begin < 0 or end < 0:
        raise InvalidInput("tls_cert", str(cert), "holds no PEM certificate")
    return fingerprint(ssl.PEM_cert_to_DER_cert(text[begin : end + len("-----END CERTIFICATE-----")]))


def parse_fingerprint(text: str) -> str:
    """Accepts `AB:CD:...`, plain hex, `SHA256:...` or openssl's `sha256 Fingerprint=...`;
    returns the canonical colon form. Raises InvalidInput when it is not 32 bytes of hex."""
    body = text.strip().lower()
    for prefix in ("sha256 fingerprint=", "sha256:", "sha256="):
        body = body.removeprefix(prefix)
    digits = re.sub(r"[\s:]", "", body)
    if not _HEX.fullmatch(digits):
        raise InvalidInput("tls_fingerprint", text, "expected a SHA-256 fingerprint: 64 hex digits, "
                           "colons allowed (as `layerbridge pair` prints it)")
    return ":".join(digits.upper()[i : i + 2] for i in range(0, 64, 2))


# --------------------------------------------------------------------------- the server side


def server_certificate(paths: Paths, settings: ServerSettings, host: str,
                       cert: str | None = None, key: str | None = None) -> Certificate:
    """The certificate `serve` uses: `cert`/`key` (the flags), else the settings', else the
    self-signed one in the data dir, made (or renewed) here when needed."""
    cert = cert or settings.tls_cert
    key = key or (settings.tls_key if not cert or cert == settings.tls_cert else None)
    if cert:
        path = Path(cert).expanduser()
        if not path.is_file():
            raise InvalidInput("tls_cert", cert, "no such file")
        if key and not Path(key).expanduser().is_file():
            raise InvalidInput("tls_key", key, "no such file")
        return Certificate(path, Path(key).expanduser() if key else None, self_signed=False)
    if key:
        raise InvalidInput("tls_key", key, "a key needs its certificate (--tls-cert)")
    return self_signed(paths, host)


def server_context(certificate: Certificate) -> ssl.SSLContext:
    """A TLS 1.2+ server context; InvalidInput naming the file when it cannot be loaded."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(certificate.cert, certificate.key)
    except (ssl.SSLError, OSError) as exc:
        field = "tls_key" if certificate.key is not None else "tls_cert"
        shown = certificate.key if certificate.key is not None else certificate.cert
        raise InvalidInput(field, str(shown), f"cannot be loaded with its certificate ({exc})") from None
    return ctx


def self_signed(paths: Paths, host: str = "") -> Certificate:
    """The data dir's self-signed certificate: made on first use, renewed near its end (its
    fingerprint then changes: `layerbridge pair` prints the new one)."""
    folder = paths.tls
    cert, key = folder / CERT_FILE, folder / KEY_FILE
    if cert.is_file() and key.is_file():
        try:
            expires = _expiry(cert)
        except ValueError as exc:
            log.warning("the self-signed certificate %s cannot be read (%s): making a new one", cert, exc)
        else:
            left = expires - datetime.datetime.now(datetime.UTC)
            if left > datetime.timedelta(days=RENEW_BEFORE_DAYS):
                return Certificate(cert, key, self_signed=True)
            log.warning("the self-signed certificate ends on %s: making a new one (clients pinning "
                        "the old fingerprint must pin the new one)", expires.date())
    _make_self_signed(cert, key, _names(host))
    made = Certificate(cert, key, self_signed=True)
    log.info("made a self-signed certificate for LAN mode: %s, SHA-256 %s", cert, made.fingerprint)
    return made


def _expiry(cert: Path) -> datetime.datetime:
    from cryptography import x509

    return x509.load_pem_x509_certificate(cert.read_bytes()).not_valid_after_utc


def _names(host: str) -> tuple[list[str], list[str]]:
    """DNS names and IP addresses the certificate names: this machine as others reach it."""
    hostname = socket.gethostname().strip().lower()
    dns = ["localhost", *([hostname] if hostname else [])]
    if hostname and "." not in hostname:
        dns.append(f"{hostname}.local")  # mDNS, how macOS and most LANs name a machine
    ips = ["127.0.0.1", "::1"]
    with contextlib.suppress(OSError):  # no resolver: the loopback names still come with it
        ips += [str(info[4][0]) for info in socket.getaddrinfo(hostname, None) if hostname]
    if host:
        try:
            addr = ipaddress.ip_address(host)
            if not addr.is_unspecified:
                ips.append(str(addr))
        except ValueError:
            dns.append(host.lower())
    return _unique(dns), _unique(str(ipaddress.ip_address(ip.split("%")[0])) for ip in ips)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _make_self_signed(cert: Path, key: Path, names: tuple[list[str], list[str]]) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    dns, ips = names
    private = ec.generate_private_key(ec.SECP256R1())
    machine = dns[1] if len(dns) > 1 else dns[0]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Layerbridge on {machine}"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Layerbridge (self-signed)")])
    now = datetime.datetime.now(datetime.UTC)
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in dns]
    sans += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    built = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))  # clocks on a LAN disagree
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        # not a CA: a machine told to trust it trusts this one server and nothing it could sign
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(private.public_key()), critical=False)
        .sign(private, hashes.SHA256())
    )
    cert.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    _write_private(key, key_pem)
    _write_private(cert, built.public_bytes(serialization.Encoding.PEM))


def _write_private(path: Path, data: bytes) -> None:
    """Written whole under a temporary name, 0600 from its creation, then renamed into place."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    tmp.replace(path)


def data_dir_fingerprint(paths: Paths) -> str | None:
    """The fingerprint clients of this data dir's daemon pin: the running daemon's (from its
    runtime file), else the self-signed certificate's, else None (no TLS here yet)."""
    from .runtime import read_runtime

    running = read_runtime(paths)
    if running is not None and running.tls_fingerprint:
        return running.tls_fingerprint
    cert = paths.tls / CERT_FILE
    return fingerprint_of_file(cert) if cert.is_file() else None


# --------------------------------------------------------------------------- the client side


def client_context(ca: str | None = None, pin: str | None = None) -> ssl.SSLContext:
    """Verify with the system's CAs, or with `ca` (a PEM file: the studio CA, or the daemon's
    self-signed certificate), or not at all when a fingerprint is pinned: `check_peer` is then
    the whole check and must run before anything secret is sent."""
    if pin:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        try:
            ctx = ssl.create_default_context(cafile=ca)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidInput("ca", ca, f"cannot be read as PEM certificates ({exc})") from None
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def check_peer(ssl_object: ssl.SSLObject | ssl.SSLSocket | None, pin: str) -> None:
    """Raises TlsError unless the peer's certificate has the pinned fingerprint."""
    expected = parse_fingerprint(pin)
    der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
    if not der:
        raise TlsError("the daemon presented no certificate", field="tls_fingerprint")
    got = fingerprint(der)
    if got != expected:
        raise TlsError(f"the daemon's certificate has SHA-256 {got}, not the pinned {expected}: "
                       "another machine may be answering at this address (or the certificate "
                       "was renewed: compare with `layerbridge pair` on the daemon's machine)",
                       field="tls_fingerprint")

"""TLS for Mosquitto: a local CA, the broker's server certificate and client certificates.

``cityiot certs`` writes them with the ``cryptography`` library (no ``openssl`` on PATH needed):

- ``ca.crt`` / ``ca.key`` — the CA. Devices, collectors and the simulator trust ``ca.crt``;
  ``ca.key`` stays with whoever issues certificates and is never mounted into a container.
- ``server.crt`` / ``server.key`` — Mosquitto's listener 8883. Subject alternative names:
  ``localhost``, ``127.0.0.1`` and every ``--host`` (DNS name or IP): clients verify the hostname.
- ``clients/<name>.crt`` / ``.key`` — for mutual TLS (``require_certificate true``); the common
  name is ``<name>``, which Mosquitto can take as the username (``use_identity_as_username``).
- ``devices/<device_id>.crt`` / ``.key`` — a device's own credential: the common name is its
  device id, for the device listener whose ACL pins a device to its own topics
  (``cityiot.access.acl.render_device_acl``). Kept apart from ``clients/`` so that a device id
  is never mistaken for a vendor slug or a service user.

Private keys are written 0600, certificates 0644. An existing CA is kept unless ``rotate`` (every
deployed trust store would have to change); leaf certificates are issued anew on every run, signed
by that CA, so adding a host or a client never breaks a client that already trusts the CA.
The builders (``new_ca``, ``issue_server``, ``issue_client``) are pure apart from key generation;
``write_cert_dir`` is the only function that touches the file system.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from core.errors import CityiotError

__all__ = [
    "CA_DAYS",
    "DEFAULT_HOSTS",
    "LEAF_DAYS",
    "CertFiles",
    "Issued",
    "KeyType",
    "check_client_name",
    "issue_client",
    "issue_server",
    "new_ca",
    "write_cert_dir",
]

KeyType = Literal["ec", "rsa"]
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

# Always in the server certificate: the local runner and port-forwards connect by these.
DEFAULT_HOSTS: tuple[str, ...] = ("localhost", "127.0.0.1")
CA_DAYS = 3650
# About a year: short enough that renewal is a routine, long enough not to be a weekly chore.
LEAF_DAYS = 397
# Certificates start this far in the past, so a device whose clock runs a little slow accepts them.
CLOCK_SKEW = dt.timedelta(minutes=5)
RSA_BITS = 2048
# A client name becomes a file name and a common name (possibly an MQTT username): keep it plain.
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


@dataclass(frozen=True)
class Issued:
    """A private key and the certificate issued for it."""

    key: PrivateKey
    cert: x509.Certificate

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


@dataclass(frozen=True)
class CertFiles:
    """What ``write_cert_dir`` produced: paths of the CA, the server and each client's files."""

    directory: Path
    ca_cert: Path
    ca_key: Path
    server_cert: Path
    server_key: Path
    clients: dict[str, tuple[Path, Path]] = field(default_factory=dict)
    devices: dict[str, tuple[Path, Path]] = field(default_factory=dict)

    def client_cert(self, name: str) -> Path:
        return self.clients[name][0]

    def client_key(self, name: str) -> Path:
        return self.clients[name][1]


def _new_key(key_type: KeyType) -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cityiot"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else dt.datetime.now(dt.UTC)


def new_ca(
    *,
    common_name: str = "cityiot local CA",
    days: int = CA_DAYS,
    key_type: KeyType = "ec",
    now: dt.datetime | None = None,
) -> Issued:
    """A self-signed CA that may sign leaf certificates only (path length 0)."""
    key = _new_key(key_type)
    start = _now(now) - CLOCK_SKEW
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(key, cert)


def _san(hosts: Iterable[str]) -> x509.SubjectAlternativeName:
    names: list[x509.GeneralName] = []
    seen: set[str] = set()
    for host in hosts:
        host = host.strip()
        if not host or host in seen:
            continue
        seen.add(host)
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(names)


def _leaf(
    ca: Issued,
    *,
    common_name: str,
    usage: x509.ObjectIdentifier,
    san: x509.SubjectAlternativeName | None,
    days: int,
    key_type: KeyType,
    now: dt.datetime | None,
) -> Issued:
    key = _new_key(key_type)
    start = _now(now) - CLOCK_SKEW
    # A leaf must not outlive the CA that vouches for it.
    end = min(start + dt.timedelta(days=days), ca.cert.not_valid_after_utc)
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                # RSA key exchange (TLS 1.2 RSA suites, old device stacks) encrypts with the key.
                key_encipherment=key_type == "rsa",
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if san is not None:
        builder = builder.add_extension(san, critical=False)
    return Issued(key, builder.sign(ca.key, hashes.SHA256()))


def issue_server(
    ca: Issued,
    *,
    hosts: Sequence[str] = (),
    days: int = LEAF_DAYS,
    key_type: KeyType = "ec",
    now: dt.datetime | None = None,
) -> Issued:
    """Mosquitto's certificate: ``localhost``, ``127.0.0.1`` and ``hosts`` as SANs (serverAuth)."""
    all_hosts = [*DEFAULT_HOSTS, *hosts]
    return _leaf(
        ca,
        common_name=all_hosts[len(DEFAULT_HOSTS)] if hosts else DEFAULT_HOSTS[0],
        usage=ExtendedKeyUsageOID.SERVER_AUTH,
        san=_san(all_hosts),
        days=days,
        key_type=key_type,
        now=now,
    )


def check_client_name(name: str) -> str:
    """The name unchanged, or a ``CityiotError`` saying which characters are allowed."""
    if not name or len(name) > 64 or not set(name) <= _NAME_CHARS or name.startswith("."):
        raise CityiotError(
            f"client name {name!r}: use 1-64 of A-Z a-z 0-9 _ . - (not starting with '.')"
        )
    return name


def issue_client(
    ca: Issued,
    *,
    name: str,
    days: int = LEAF_DAYS,
    key_type: KeyType = "ec",
    now: dt.datetime | None = None,
) -> Issued:
    """A client certificate (clientAuth) whose common name is ``name``."""
    return _leaf(
        ca,
        common_name=check_client_name(name),
        usage=ExtendedKeyUsageOID.CLIENT_AUTH,
        san=None,
        days=days,
        key_type=key_type,
        now=now,
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Create with the final mode (no window in which a key is world-readable), then enforce it
    # for a file that already existed with looser bits.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


def _load_ca(cert_path: Path, key_path: Path) -> Issued:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise CityiotError(
            f"cannot read the CA in {cert_path.parent}: {exc}; fix: restore it, or pass --rotate "
            "to make a new CA (every client must then trust the new ca.crt)"
        ) from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise CityiotError(f"{key_path}: unsupported CA key type {type(key).__name__}")
    return Issued(key, cert)


def write_cert_dir(
    directory: Path,
    *,
    hosts: Sequence[str] = (),
    clients: Iterable[str] = (),
    devices: Iterable[str] = (),
    days: int = LEAF_DAYS,
    key_type: KeyType = "ec",
    rotate: bool = False,
) -> CertFiles:
    """Write (or reuse) the CA, then issue the server, each client and each device certificate
    into directory."""
    names = sorted({check_client_name(name) for name in clients})
    device_ids = sorted({check_client_name(device_id) for device_id in devices})
    files = CertFiles(
        directory=directory,
        ca_cert=directory / "ca.crt",
        ca_key=directory / "ca.key",
        server_cert=directory / "server.crt",
        server_key=directory / "server.key",
        clients={
            name: (directory / "clients" / f"{name}.crt", directory / "clients" / f"{name}.key")
            for name in names
        },
        devices={
            device_id: (
                directory / "devices" / f"{device_id}.crt",
                directory / "devices" / f"{device_id}.key",
            )
            for device_id in device_ids
        },
    )
    if files.ca_cert.exists() and files.ca_key.exists() and not rotate:
        ca = _load_ca(files.ca_cert, files.ca_key)
    else:
        ca = new_ca(key_type=key_type)
        _write(files.ca_key, ca.key_pem(), 0o600)
        _write(files.ca_cert, ca.cert_pem(), 0o644)
    server = issue_server(ca, hosts=hosts, days=days, key_type=key_type)
    _write(files.server_key, server.key_pem(), 0o600)
    _write(files.server_cert, server.cert_pem(), 0o644)
    for name, (cert_path, key_path) in [*files.clients.items(), *files.devices.items()]:
        client = issue_client(ca, name=name, days=days, key_type=key_type)
        _write(key_path, client.key_pem(), 0o600)
        _write(cert_path, client.cert_pem(), 0o644)
    return files

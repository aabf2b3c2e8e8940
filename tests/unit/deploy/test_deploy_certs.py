"""`cityiot certs`: a CA, a server certificate with the right names, client certs, keys 0600."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from typer import Typer
from typer.testing import CliRunner

from cityiot.access.certs import issue_client, issue_server, new_ca, write_cert_dir
from cityiot.cli.certs import certs
from core.errors import CityiotError


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _sans(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.DNSName), [
        str(ip) for ip in san.get_values_for_type(x509.IPAddress)
    ]


def test_certs_server_names_and_chain() -> None:
    """The server certificate names localhost, 127.0.0.1 and extra hosts, signed by the CA."""
    ca = new_ca()
    server = issue_server(ca, hosts=["mosquitto", "10.1.2.3", "localhost"])
    dns, ips = _sans(server.cert)
    assert dns == ["localhost", "mosquitto"]
    assert ips == ["127.0.0.1", "10.1.2.3"]
    assert all(ipaddress.ip_address(ip) for ip in ips)
    server.cert.verify_directly_issued_by(ca.cert)
    usage = server.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    basic = ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert basic.ca
    assert basic.path_length == 0
    assert server.cert.not_valid_after_utc <= ca.cert.not_valid_after_utc


def test_certs_client_common_name_and_usage() -> None:
    """A client certificate carries its name as CN and clientAuth only."""
    ca = new_ca(key_type="rsa")
    client = issue_client(ca, name="cityiot-collector", key_type="rsa")
    client.cert.verify_directly_issued_by(ca.cert)
    cn = client.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == "cityiot-collector"
    usage = client.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert isinstance(client.key, rsa.RSAPrivateKey)
    assert client.key.key_size == 2048
    key_usage = client.cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert key_usage.key_encipherment


@pytest.mark.parametrize("name", ["", "../etc/passwd", ".hidden", "a b", "x" * 65])
def test_certs_client_name_rejected(name: str) -> None:
    """Names that are not plain file-and-username safe are refused with the allowed characters."""
    with pytest.raises(CityiotError, match="A-Z a-z 0-9"):
        issue_client(new_ca(), name=name)


def test_certs_write_dir_modes(tmp_path: Path) -> None:
    """Keys are written 0600, certificates 0644, clients under clients/."""
    files = write_cert_dir(tmp_path / "tls", hosts=["mqtt.example.city"], clients=["dabashou"])
    keys = [files.ca_key, files.server_key, files.client_key("dabashou")]
    certs_ = [files.ca_cert, files.server_cert, files.client_cert("dabashou")]
    assert [oct(p.stat().st_mode & 0o777) for p in keys] == ["0o600"] * 3
    assert [oct(p.stat().st_mode & 0o777) for p in certs_] == ["0o644"] * 3
    assert files.client_cert("dabashou") == tmp_path / "tls" / "clients" / "dabashou.crt"
    assert "mqtt.example.city" in _sans(_cert(files.server_cert))[0]
    assert isinstance(
        x509.load_pem_x509_certificate(files.server_cert.read_bytes()).public_key(),
        ec.EllipticCurvePublicKey,
    )


def test_certs_rerun_keeps_ca_rotate_replaces(tmp_path: Path) -> None:
    """A second run reuses the CA and re-signs leaves with it; --rotate makes a new CA."""
    first = write_cert_dir(tmp_path)
    ca_pem = first.ca_cert.read_bytes()
    server_pem = first.server_cert.read_bytes()
    second = write_cert_dir(tmp_path, hosts=["mosquitto"])
    assert second.ca_cert.read_bytes() == ca_pem
    assert second.server_cert.read_bytes() != server_pem
    _cert(second.server_cert).verify_directly_issued_by(_cert(second.ca_cert))
    rotated = write_cert_dir(tmp_path, rotate=True)
    assert rotated.ca_cert.read_bytes() != ca_pem
    _cert(rotated.server_cert).verify_directly_issued_by(_cert(rotated.ca_cert))


def test_certs_unreadable_ca_names_fix(tmp_path: Path) -> None:
    """A damaged ca.key is an error naming --rotate, not a silently new CA."""
    write_cert_dir(tmp_path)
    (tmp_path / "ca.key").write_text("not a key")
    with pytest.raises(CityiotError, match="--rotate"):
        write_cert_dir(tmp_path)


def test_certs_cli_writes_collector_client_by_default(tmp_path: Path) -> None:
    """`cityiot certs --out DIR --host NAME` writes the CA, server and a collector certificate."""
    app = Typer()
    app.command()(certs)
    result = CliRunner().invoke(app, ["--out", str(tmp_path), "--host", "mosquitto"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "clients" / "cityiot-collector.crt").is_file()
    assert "mosquitto" in _sans(_cert(tmp_path / "server.crt"))[0]
    assert "BEGIN" not in result.output  # prints paths, never key material

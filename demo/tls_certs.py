"""A throwaway certificate authority for a test PostgreSQL server over TLS.

One CA signs a server certificate for 127.0.0.1/localhost (so ``sslmode=verify-full`` checks
its name) and a client certificate per login (the common name is the role, as PostgreSQL's
``clientcert=verify-full`` requires). Keys are written owner-only, as libpq demands.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

VALID = dt.timedelta(days=2)


@dataclass
class TlsFiles:
    """Where a CA's certificate, the server's pair and the clients' pairs were written."""

    ca_cert: Path
    server_cert: Path
    server_key: Path
    clients: dict[str, tuple[Path, Path]] = field(default_factory=dict)  # login -> (cert, key)

    def client_env(self, login: str) -> dict[str, str]:
        """libpq variables for ``login``: verify the server fully, present the login's cert."""
        cert, key = self.clients[login]
        return {
            "PGSSLMODE": "verify-full",
            "PGSSLROOTCERT": str(self.ca_cert),
            "PGSSLCERT": str(cert),
            "PGSSLKEY": str(key),
        }


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def _sign(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[str, ec.EllipticCurvePrivateKey] | None,
    sans: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALID)
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write_cert(cert: x509.Certificate, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def make(folder: Path, logins: list[str], ca_name: str = "customer-analytics test CA") -> TlsFiles:
    """Write a new CA, a server pair for 127.0.0.1/localhost and a client pair per login."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _sign(ca_name, ca_key, None)
    files = TlsFiles(folder / "ca.crt", folder / "server.crt", folder / "server.key")
    _write_cert(ca, files.ca_cert)
    server_key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    _write_cert(_sign("localhost", server_key, (ca_name, ca_key), sans), files.server_cert)
    _write_key(server_key, files.server_key)
    for login in logins:
        key = ec.generate_private_key(ec.SECP256R1())
        cert_path, key_path = folder / f"{login}.crt", folder / f"{login}.key"
        _write_cert(_sign(login, key, (ca_name, ca_key)), cert_path)
        _write_key(key, key_path)
        files.clients[login] = (cert_path, key_path)
    return files

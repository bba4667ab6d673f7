"""Throw-away certificates for tests that run TLS on loopback (nats-server, HTTPS, SMTP).

Every certificate names ``127.0.0.1`` (an IP subject alternative name, which is what a
client checks for an address) and lives one day. Tests only: the kit's own certificate
handling is in :mod:`kit.trust` and the OPC UA adapter's ``pki`` module.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path
from typing import Any


def _cert(subject: str, issuer: str, key: Any, signing_key: Any, *, ca: bool, leaf: bool) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if leaf:
        san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        builder = builder.add_extension(san, critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _write(cert: Any, key: Any, cert_path: Path, key_path: Path) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives import serialization

    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def self_signed(d: Path, name: str = "kit-test") -> tuple[Path, Path]:
    """``(cert, key)`` PEM files in ``d``: a self-signed certificate for 127.0.0.1 that is
    also its own CA (what a client names as the trusted CA of a site-internal server)."""
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    cert = _cert(name, name, key, key, ca=True, leaf=True)
    return _write(cert, key, d / f"{name}.pem", d / f"{name}.key")


def loopback_pki(d: Path, name: str = "kit-test") -> dict[str, Path]:
    """A CA and a server certificate it signed for 127.0.0.1, as PEM files in ``d``:
    ``{"ca": …, "cert": …, "key": …}`` (the server's certificate and key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ca_key, srv_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca_name = f"{name}-ca"
    ca = _cert(ca_name, ca_name, ca_key, ca_key, ca=True, leaf=False)
    srv = _cert("127.0.0.1", ca_name, srv_key, ca_key, ca=False, leaf=True)
    files = {"ca": d / f"{name}-ca.pem", "cert": d / f"{name}.pem", "key": d / f"{name}.key"}
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    _write(srv, srv_key, files["cert"], files["key"])
    return files

"""The kit's OPC UA certificate store: own certificate, trusted/rejected/issuers folders,
and the server-certificate validator asyncua lacks by default.

Layout under ``<data_dir>/pki/`` (the usual OPC UA convention)::

    own/kit.der, own/kit.key.pem   the kit's application instance certificate and key (0600)
    trusted/<thumbprint>.der        server certificates (or CAs) the operator trusts
    issuers/                        intermediate/CA certificates used to build chains
    rejected/<thumbprint>.der       unknown server certificates, waiting for `kit opcua trust`
    crl/                            certificate revocation lists (optional)

asyncua validates the server certificate only if ``client.certificate_validator`` is set,
and its validator defaults to the *client* role. :class:`ServerCertificateValidator` checks,
in this order: trust (an unknown certificate is copied to ``rejected/`` and refused with
``BadCertificateUntrusted``), validity period, ApplicationUri in the SAN, key usage and the
serverAuth extended key usage, revocation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.truststore import TrustStore
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kit.errors import KitError

log = logging.getLogger(__name__)
FOLDERS = ("own", "trusted", "rejected", "issuers", "crl")


def default_application_uri(hostname: str | None = None) -> str:
    """``urn:fast-track-kit:<hostname>``: the kit's ApplicationUri (and its certificate's SAN URI)."""
    return f"urn:fast-track-kit:{hostname or socket.gethostname()}"


def thumbprint(cert: x509.Certificate) -> str:
    """SHA-1 thumbprint in upper-case hex, as OPC UA tools (and TIA Portal) display it."""
    return hashlib.sha1(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()


def load_cert(path: Path) -> x509.Certificate:
    """Load a DER or PEM certificate file."""
    data = Path(path).read_bytes()
    return (
        x509.load_pem_x509_certificate(data)
        if data.lstrip().startswith(b"-----")
        else x509.load_der_x509_certificate(data)
    )


def application_uris(cert: x509.Certificate) -> list[str]:
    """URIs in the certificate's subjectAltName (the ApplicationUri should be one of them)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return list(san.get_values_for_type(x509.UniformResourceIdentifier))


def make_certificate(
    key: rsa.RSAPrivateKey,
    application_uri: str,
    *,
    common_name: str,
    hostnames: list[str],
    server: bool,
    days: int = 365 * 5,
    not_before: dt.datetime | None = None,
    organisation: str = "Fast-Track Kit",
) -> x509.Certificate:
    """A self-signed OPC UA application instance certificate (OPC 10000-6 §6.2.2).

    Args:
        key: RSA key (2048 bit or more).
        application_uri: put in the SAN as a URI; must equal the application's ApplicationUri.
        common_name: subject CN (the application name).
        hostnames: DNS names (or IP literals) of the host.
        server: serverAuth (True) or clientAuth (False) extended key usage.
        days: validity from ``not_before``.
        not_before: start of validity (default: now minus one hour for clock skew).
    """
    start = not_before or dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )
    alt: list[x509.GeneralName] = [x509.UniformResourceIdentifier(application_uri)]
    for h in hostnames:
        try:
            import ipaddress

            alt.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            alt.append(x509.DNSName(h))
    b = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    return b.sign(key, hashes.SHA256())


def new_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key (what every current security policy accepts)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    """Write a PEM (PKCS8, unencrypted) key readable only by the owner (OPC 10000-4 §6.1.2)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )


@dataclass
class CertInfo:
    """What `kit opcua certs` shows about one certificate."""

    thumbprint: str
    state: str
    """``trusted`` or ``rejected`` (or ``own``)."""
    subject: str
    application_uri: str | None
    not_before: str
    not_after: str
    expired: bool
    file: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (control API)."""
        return asdict(self)


class Pki:
    """The certificate folders of one data directory."""

    def __init__(self, data_dir: Path | str, application_uri: str | None = None) -> None:
        self.root = Path(data_dir) / "pki"
        self.application_uri = application_uri or default_application_uri()

    def path(self, folder: str) -> Path:
        """``<root>/<folder>``, created on first use."""
        p = self.root / folder
        p.mkdir(parents=True, exist_ok=True)
        return p

    @property
    def cert_file(self) -> Path:
        """The kit's own certificate (DER)."""
        return self.path("own") / "kit.der"

    @property
    def key_file(self) -> Path:
        """The kit's own private key (PEM, mode 0600)."""
        return self.path("own") / "kit.key.pem"

    def ensure_own(self) -> tuple[Path, Path]:
        """Create the kit's certificate once; reuse it while it is valid and matches the URI.

        It is regenerated (same key) only when it expired or its SAN URI no longer matches the
        configured ApplicationUri — the servers that trusted the old one must then trust the
        new one, so this is logged as a warning.
        """
        for folder in FOLDERS:
            self.path(folder)
        key: rsa.RSAPrivateKey | None = None
        if self.key_file.is_file():
            loaded = serialization.load_pem_private_key(self.key_file.read_bytes(), password=None)
            key = loaded if isinstance(loaded, rsa.RSAPrivateKey) else None
        if key is None:
            key = new_key()
            write_key(self.key_file, key)
        if self.cert_file.is_file():
            cert = load_cert(self.cert_file)
            fresh = cert.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
            # Our own RSA key and certificate: both have public_numbers().
            same_key = cert.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
            if fresh and same_key and self.application_uri in application_uris(cert):
                return self.cert_file, self.key_file
            log.warning(
                "OPC UA client certificate %s is expired or does not match %s; generating a new one — "
                "servers must trust the new certificate",
                self.cert_file,
                self.application_uri,
            )
        host = socket.gethostname()
        cert = make_certificate(
            key,
            self.application_uri,
            common_name=f"Fast-Track Kit@{host}",
            hostnames=[host],
            server=False,
        )
        self.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.DER))
        return self.cert_file, self.key_file

    # -- listing and moving ---------------------------------------------------------------
    def _info(self, f: Path, state: str) -> CertInfo | None:
        try:
            c = load_cert(f)
        except Exception:  # not a certificate (stray file): ignore, never crash the listing
            return None
        uris = application_uris(c)
        return CertInfo(
            thumbprint=thumbprint(c),
            state=state,
            subject=c.subject.rfc4514_string(),
            application_uri=uris[0] if uris else None,
            not_before=c.not_valid_before_utc.isoformat(),
            not_after=c.not_valid_after_utc.isoformat(),
            expired=c.not_valid_after_utc < dt.datetime.now(dt.UTC),
            file=str(f),
        )

    def list(self) -> list[CertInfo]:
        """Rejected and trusted certificates (rejected first: those need a decision)."""
        out: list[CertInfo] = []
        for state in ("rejected", "trusted"):
            for f in sorted(self.path(state).glob("*")):
                if f.suffix.lower() in (".der", ".pem", ".crt", ".cer") and (
                    info := self._info(f, state)
                ):
                    out.append(info)
        return out

    def _find(self, state: str, prefix: str) -> CertInfo:
        prefix = prefix.replace(":", "").upper()
        hits = [c for c in self.list() if c.state == state and c.thumbprint.startswith(prefix)]
        if not prefix or not hits:
            known = ", ".join(c.thumbprint[:12] for c in self.list() if c.state == state) or "none"
            raise KitError(
                f"no {state} certificate with thumbprint {prefix or '(empty)'}; {state}: {known}"
            )
        if len(hits) > 1:
            raise KitError(
                f"thumbprint prefix {prefix} matches {len(hits)} certificates; give more digits"
            )
        return hits[0]

    def trust(self, thumb: str) -> CertInfo:
        """Move a rejected certificate (by thumbprint or unique prefix) to trusted/."""
        c = self._find("rejected", thumb)
        dest = self.path("trusted") / f"{c.thumbprint}.der"
        dest.write_bytes(load_cert(Path(c.file)).public_bytes(serialization.Encoding.DER))
        Path(c.file).unlink()
        c.state, c.file = "trusted", str(dest)
        return c

    def reject(self, thumb: str) -> CertInfo:
        """Move a trusted certificate back to rejected/ (stop trusting it)."""
        c = self._find("trusted", thumb)
        dest = self.path("rejected") / f"{c.thumbprint}.der"
        dest.write_bytes(load_cert(Path(c.file)).public_bytes(serialization.Encoding.DER))
        Path(c.file).unlink()
        c.state, c.file = "rejected", str(dest)
        return c

    def add_trusted(self, cert: x509.Certificate) -> Path:
        """Trust a certificate directly (tests, or an operator copying a server's .der)."""
        dest = self.path("trusted") / f"{thumbprint(cert)}.der"
        dest.write_bytes(cert.public_bytes(serialization.Encoding.DER))
        (self.path("rejected") / dest.name).unlink(missing_ok=True)
        return dest

    def store_rejected(self, cert: x509.Certificate) -> Path:
        """Keep an unknown certificate under rejected/ for the operator to inspect and trust."""
        dest = self.path("rejected") / f"{thumbprint(cert)}.der"
        if not dest.exists():
            dest.write_bytes(cert.public_bytes(serialization.Encoding.DER))
        return dest

    def trusted_thumbprints(self) -> set[str]:
        """Thumbprints of every certificate directly in trusted/."""
        return {c.thumbprint for c in self.list() if c.state == "trusted"}

    def has_ca(self) -> bool:
        """Whether trusted/ or issuers/ holds a CA certificate (chain validation needed)."""
        for folder in ("trusted", "issuers"):
            for f in self.path(folder).glob("*"):
                try:
                    if (
                        load_cert(f)
                        .extensions.get_extension_for_class(x509.BasicConstraints)
                        .value.ca
                    ):
                        return True
                except Exception:  # not a certificate, or no BasicConstraints: not a CA
                    continue
        return False

    def validator(self) -> ServerCertificateValidator:
        """A validator for ``client.certificate_validator``."""
        return ServerCertificateValidator(self)


class ServerCertificateValidator:
    """Validates a server certificate at CreateSession (role: server).

    Called by asyncua as ``await validator(cert, server_application_description)``; raises
    ``ServiceError`` with the OPC UA status so the connection fails with that name.
    """

    def __init__(self, pki: Pki) -> None:
        self.pki = pki
        self.last_failure: str | None = None
        """Status name of the last refusal (shown in health and errors)."""

    def _fail(self, code: int, why: str) -> None:
        self.last_failure = ua.StatusCode(code).name  # type: ignore[arg-type]  # asyncua annotates its int subclass; any int works
        log.warning("server certificate refused: %s (%s)", self.last_failure, why)
        raise ServiceError(code)

    async def __call__(self, cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
        await self.validate(cert, app)

    async def validate(self, cert: x509.Certificate, app: ua.ApplicationDescription) -> None:
        """Check trust, time, URI, key usage and revocation (raises ServiceError)."""
        self.last_failure = None
        # Trusted directly (thumbprint in trusted/, the usual self-signed case) or through a CA chain.
        store = TrustStore(
            [self.pki.path("trusted"), self.pki.path("issuers")], [self.pki.path("crl")]
        )
        await store.load_crl()
        direct = thumbprint(cert) in self.pki.trusted_thumbprints()
        # Chain validation only when a CA is present (an empty store cannot be built, and a
        # miss logs a traceback).
        has_ca = self.pki.has_ca()
        if has_ca and not direct:
            await store.load_trust()
        if not direct and not (has_ca and store.is_trusted(cert)):
            path = self.pki.store_rejected(cert)
            self._fail(
                ua.StatusCodes.BadCertificateUntrusted,
                f"unknown certificate {thumbprint(cert)} stored at {path}; trust it with `kit opcua trust`",
            )
        now = dt.datetime.now(dt.UTC)
        if not (cert.not_valid_before_utc <= now <= cert.not_valid_after_utc):
            self._fail(
                ua.StatusCodes.BadCertificateTimeInvalid,
                f"valid {cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d}",
            )
        uris = application_uris(cert)
        if app is not None and app.ApplicationUri and app.ApplicationUri not in uris:
            self._fail(
                ua.StatusCodes.BadCertificateUriInvalid,
                f"server ApplicationUri {app.ApplicationUri!r} not in certificate SAN {uris}",
            )
        try:
            ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
            if not (ku.digital_signature and ku.key_encipherment):
                self._fail(
                    ua.StatusCodes.BadCertificateUseNotAllowed,
                    "key usage lacks digitalSignature/keyEncipherment",
                )
        except x509.ExtensionNotFound:
            self._fail(ua.StatusCodes.BadCertificateInvalid, "no KeyUsage extension")
        try:
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            if ExtendedKeyUsageOID.SERVER_AUTH not in eku:
                self._fail(
                    ua.StatusCodes.BadCertificateUseNotAllowed,
                    "extended key usage lacks serverAuth",
                )
        except x509.ExtensionNotFound:
            pass  # optional in OPC 10000-6; many PLC certificates omit it
        if store.is_revoked(cert):
            self._fail(ua.StatusCodes.BadCertificateRevoked, "listed in a CRL under crl/")

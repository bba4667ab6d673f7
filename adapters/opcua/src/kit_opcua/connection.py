"""Opening a secure OPC UA session and resolving profile points to NodeIds.

Shared by the adapter, ``test_connection`` and ``kit browse``. Security is decided here:
the endpoint's certificate is validated (trust, time, URI, key usage) *before* the secure
channel is opened with it, and again by asyncua at CreateSession through
``client.certificate_validator`` — asyncua alone would accept any certificate.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncua import Client, ua
from asyncua.common.utils import ServiceError
from asyncua.crypto import security_policies as sp
from asyncua.crypto.uacrypto import CertProperties
from cryptography import x509

from kit.aio import wait_for
from kit.errors import AdapterError
from kit_opcua.config import OpcuaConfig
from kit_opcua.pki import Pki, thumbprint
from kit_opcua.profile import NodeAddress, OpcuaPoint, OpcuaProfile

log = logging.getLogger(__name__)

POLICIES: dict[str, type[sp.SecurityPolicy]] = {
    "Basic256Sha256": sp.SecurityPolicyBasic256Sha256,
    "Aes128_Sha256_RsaOaep": sp.SecurityPolicyAes128Sha256RsaOaep,
    "Aes256_Sha256_RsaPss": sp.SecurityPolicyAes256Sha256RsaPss,
    "Basic128Rsa15": sp.SecurityPolicyBasic128Rsa15,
    "Basic256": sp.SecurityPolicyBasic256,
}
POLICY_URI_PREFIX = "http://opcfoundation.org/UA/SecurityPolicy#"


class CertificateRefused(AdapterError):
    """The server's certificate failed validation (status name in ``code``)."""

    def __init__(self, message: str, code: str, thumb: str | None = None) -> None:
        self.code = code
        self.thumbprint = thumb
        super().__init__(message)


def data_dir_default() -> Path:
    """The data directory of the environment's site settings (command-line use; inside a
    runtime the component context's ``data_dir`` is passed instead)."""
    from kit.settings import load_settings

    try:
        return load_settings().data_dir
    except Exception:  # unreadable site config: the default location still works
        from kit.settings import default_data_dir

        return default_data_dir()


def pki_for(cfg: OpcuaConfig, data_dir: Path | None = None) -> Pki:
    """The PKI store this config uses: ``cfg.data_dir``, else the runtime's ``data_dir``
    (``ctx.data_dir``), else the settings' data directory."""
    return Pki(cfg.data_dir or data_dir or data_dir_default(), cfg.application_uri)


def _mode(name: str) -> ua.MessageSecurityMode:
    mode: ua.MessageSecurityMode = getattr(ua.MessageSecurityMode, name)
    return mode


async def open_client(
    cfg: OpcuaConfig, pki: Pki | None = None, data_dir: Path | None = None
) -> Client:
    """Connect, validate the server certificate, create and activate a session.

    ``data_dir``: the site data directory whose ``pki/`` is used (see :func:`pki_for`).

    Raises:
        CertificateRefused: the server certificate is unknown (now in ``pki/rejected``),
            expired, for another ApplicationUri, or not usable by a server.
        AdapterError: unreachable, no matching endpoint, login refused (actionable message).
    """
    pki = pki or pki_for(cfg, data_dir)
    client = Client(cfg.endpoint, timeout=cfg.timeout_s, watchdog_intervall=cfg.keepalive_s)
    client.application_uri = pki.application_uri
    client.name = client.description = "Fast-Track Kit"
    client.product_uri = "urn:fast-track-kit"
    client.session_timeout = 60_000  # a lost kit's session is freed by the server within a minute
    if cfg.identity == "username":
        client.set_user(cfg.username or "")
        client.set_password(cfg.password or "")
    try:
        if cfg.security_policy != "None":
            await _secure(client, cfg, pki)
        else:
            log.warning(
                "OPC UA %s: security policy None accepted by site config (allow_insecure): traffic is "
                "neither signed nor encrypted",
                cfg.shown_endpoint,
            )
        await client.connect()
    except CertificateRefused:
        raise
    except ua.UaStatusCodeError as exc:
        await _close_quietly(client)
        name = (
            type(exc).__name__
            if type(exc).__name__.startswith("Bad")
            else ua.StatusCode(exc.code).name
        )
        failure = getattr(client.certificate_validator, "last_failure", None)
        if failure:
            raise CertificateRefused(
                f"{cfg.shown_endpoint}: server certificate refused: {failure}", failure
            ) from None
        raise AdapterError(
            f"{cfg.shown_endpoint}: server refused the session: {name}{_hint(name)}"
        ) from None
    except (TimeoutError, OSError, ConnectionError) as exc:
        await _close_quietly(client)
        raise AdapterError(
            f"{cfg.shown_endpoint}: cannot reach the OPC UA server ({exc or type(exc).__name__}); check "
            "address, port (usually 4840), that the server is enabled and no firewall blocks it"
        ) from None
    except ua.UaError as exc:
        await _close_quietly(client)
        raise AdapterError(f"{cfg.shown_endpoint}: {exc}") from None
    return client


def _hint(name: str) -> str:
    return {
        "BadIdentityTokenRejected": " (user name or password wrong, or anonymous login disabled)",
        "BadUserAccessDenied": " (user name or password wrong)",
        "BadIdentityTokenInvalid": " (this identity type is not enabled on the server)",
        "BadSecurityChecksFailed": " (the server does not trust the kit's certificate yet: trust it on the server, "
        "see docs/adapters/opcua.md)",
        "BadCertificateUntrusted": " (the server does not trust the kit's certificate yet)",
    }.get(name, "")


async def _secure(client: Client, cfg: OpcuaConfig, pki: Pki) -> None:
    cert_file, key_file = pki.ensure_own()
    validator = pki.validator()
    client.certificate_validator = validator
    policy = POLICIES[cfg.security_policy]
    mode = _mode(cfg.security_mode)
    if cfg.insecure:
        log.warning(
            "OPC UA %s: deprecated policy %s accepted by site config (allow_insecure)",
            cfg.shown_endpoint,
            cfg.security_policy,
        )
    try:
        endpoints = await client.connect_and_get_server_endpoints()
    except (TimeoutError, OSError, ConnectionError) as exc:
        raise AdapterError(
            f"{cfg.shown_endpoint}: cannot reach the OPC UA server ({exc or type(exc).__name__}); check "
            "address, port (usually 4840), that the server is enabled and no firewall blocks it"
        ) from None
    try:
        ep = Client.find_endpoint(endpoints, mode, policy.URI)
    except ua.UaError:
        offered = sorted(
            {
                f"{e.SecurityPolicyUri.removeprefix(POLICY_URI_PREFIX)}/{e.SecurityMode.name}"
                for e in endpoints
            }
        )
        raise AdapterError(
            f"{cfg.shown_endpoint}: the server offers no endpoint with {cfg.security_policy}/"
            f"{cfg.security_mode}; it offers: {', '.join(offered)}"
        ) from None
    der = ep.ServerCertificate
    cert = x509.load_der_x509_certificate(_first_cert(der))
    try:
        await validator.validate(cert, ep.Server)
    except ServiceError:
        code = validator.last_failure or "BadCertificateInvalid"
        thumb = thumbprint(cert)
        what = {
            "BadCertificateUntrusted": f"is not trusted yet; it was stored under {pki.root / 'rejected'} — check "
            f"the thumbprint on the server, then run `kit opcua trust {thumb[:12]}`",
            "BadCertificateTimeInvalid": "is expired or not yet valid; renew it on the server",
            "BadCertificateUriInvalid": "names a different ApplicationUri than the server reports; "
            "regenerate the server certificate",
        }.get(code, "cannot be used")
        raise CertificateRefused(
            f"{cfg.shown_endpoint}: server certificate {thumb[:12]}… {what} ({code})", code, thumb
        ) from None
    await client.set_security(
        policy,
        str(cert_file),
        str(key_file),
        server_certificate=CertProperties(_first_cert(der), extension="der"),
        mode=mode,
    )


def _first_cert(der: bytes) -> bytes:
    # A chain is DER certificates concatenated; the leaf is the first one (length from its header).
    if len(der) > 4 and der[0] == 0x30 and der[1] == 0x82:
        return der[: 4 + int.from_bytes(der[2:4], "big")]
    return der


async def _close_quietly(client: Client) -> None:
    with contextlib.suppress(Exception):
        await wait_for(client.disconnect(), 2)


async def close(client: Client) -> None:
    """Disconnect, bounded in time, never raising (the server may already be gone)."""
    await _close_quietly(client)
    with contextlib.suppress(Exception):
        client.disconnect_socket()


@dataclass
class ResolvedPoint:
    """A profile point bound to a NodeId of the connected server (or why it could not be)."""

    point: OpcuaPoint
    nodeid: ua.NodeId | None
    unit: str | None
    error: str | None = None
    """Status name / reason when unresolved; the point is then published as bad."""


@dataclass
class Identity:
    """BuildInfo of the server (OPC 10000-5 ServerStatus.BuildInfo)."""

    manufacturer_name: str = ""
    product_name: str = ""
    software_version: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """One line for messages and health."""
        return (
            " ".join(
                p for p in (self.manufacturer_name, self.product_name, self.software_version) if p
            )
            or "unknown"
        )


async def read_identity(client: Client) -> Identity:
    """Read ManufacturerName, ProductName and SoftwareVersion (empty strings if missing)."""
    ids = [
        ua.ObjectIds.Server_ServerStatus_BuildInfo_ManufacturerName,
        ua.ObjectIds.Server_ServerStatus_BuildInfo_ProductName,
        ua.ObjectIds.Server_ServerStatus_BuildInfo_SoftwareVersion,
    ]
    try:
        vals = await client.read_values([client.get_node(ua.NodeId(i)) for i in ids])  # type: ignore[arg-type]
    except Exception:  # a server without BuildInfo is still usable
        return Identity()
    return Identity(*[str(v or "") for v in vals])  # type: ignore[arg-type]  # the three names


async def resolve(
    client: Client, profile: OpcuaProfile, points: list[OpcuaPoint]
) -> list[ResolvedPoint]:
    """Bind each point to a NodeId using the server's NamespaceArray (URIs, never indices)."""
    ns_array = await client.get_namespace_array()
    index = {uri: i for i, uri in enumerate(ns_array)}

    def ns_index(ns: str | int) -> int | None:
        return 0 if ns == 0 else index.get(profile.namespace_uri(ns))  # type: ignore[arg-type]

    out: list[ResolvedPoint] = []
    for p in points:
        try:
            if p.node is not None:
                addr = profile.address(p)
                assert addr is not None
                idx = ns_index(addr.namespace)
                if idx is None:
                    out.append(
                        ResolvedPoint(p, None, p.unit, f"namespace_unknown:{addr.namespace}")
                    )
                    continue
                nodeid = to_nodeid(addr, idx)
            else:
                path = []
                for ns, name in profile.browse_elements(p):
                    idx = ns_index(ns)
                    if idx is None:
                        raise LookupError(f"namespace_unknown:{ns}")
                    path.append(ua.QualifiedName(name, idx))
                node = await client.nodes.objects.get_child(path)
                nodeid = node.nodeid
        except LookupError as exc:
            out.append(ResolvedPoint(p, None, p.unit, str(exc)))
            continue
        except ua.UaStatusCodeError as exc:
            out.append(ResolvedPoint(p, None, p.unit, ua.StatusCode(exc.code).name))
            continue
        unit = p.unit
        if unit is None and p.unit_from_server:
            unit = await _eu_unit(client, nodeid)
        out.append(ResolvedPoint(p, nodeid, unit))
    return out


def to_nodeid(addr: NodeAddress, idx: int) -> ua.NodeId:
    """A NodeId from a parsed address and the server's namespace index."""
    ident: Any = addr.identifier
    if addr.id_type == "i":
        ident = int(ident)
    elif addr.id_type == "g":
        import uuid

        ident = uuid.UUID(ident)
    elif addr.id_type == "b":
        import base64

        ident = base64.b64decode(ident)
    return ua.NodeId(ident, idx)  # type: ignore[arg-type]  # asyncua annotates its int subclass; any int works


async def _eu_unit(client: Client, nodeid: ua.NodeId) -> str | None:
    try:
        eu = await client.get_node(nodeid).get_child(ua.QualifiedName("EngineeringUnits", 0))
        info = await eu.read_value()
        return (info.DisplayName.Text or None) if info is not None else None
    except Exception:  # no EngineeringUnits property: the profile's unit (None) stands
        return None

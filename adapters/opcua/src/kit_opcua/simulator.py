"""OPC UA device simulator: an asyncua server serving a profile with changing values.

``OpcuaAdapter.simulator(profile, host, port, **options)`` returns an :class:`OpcuaSimulator`
(the simulator contract of the kit: ``start``/``stop``, ``host``/``port``/``url``, fault
injection). Clients connect to a small TCP relay in front of the asyncua server, which
is what makes network faults injectable without touching asyncua internals:

* ``drop_connections()`` — close every client connection (the server keeps running);
* ``set_delay(s)`` — delay every message in both directions;
* ``set_silent(True)`` — keep connections open but stop answering (a hung device);
* ``restart()`` — stop and start again on the *same* port, with a fresh address space and
  no sessions (what a PLC power-cycle looks like to a client);
* ``set_status(point, "BadSensorFailure")`` — serve a point with a bad (or uncertain) status.

Security: ``security_policy``/``security_mode`` restrict the endpoints (e.g. only
Basic256Sha256 SignAndEncrypt); ``trusted_clients`` (certificates) makes the server refuse
clients whose certificate is not among them. The server certificate is generated per
simulator (or passed as ``certificate=(cert, key)`` to test expired or mismatched ones).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import logging
import socket
from typing import Any

from asyncua import Server, ua
from asyncua.common.utils import ServiceError
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kit_opcua.connection import to_nodeid
from kit_opcua.pki import make_certificate, new_key, thumbprint
from kit_opcua.profile import OpcuaProfile
from kit_opcua.sim_relay import Relay, free_port
from kit_opcua.sim_values import SimPoint

log = logging.getLogger(__name__)

__all__ = ["OpcuaSimulator", "SimPoint", "free_port"]

_POLICY_TYPES = {
    ("None", "None"): ua.SecurityPolicyType.NoSecurity,
    ("Basic256Sha256", "Sign"): ua.SecurityPolicyType.Basic256Sha256_Sign,
    ("Basic256Sha256", "SignAndEncrypt"): ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
    ("Aes128_Sha256_RsaOaep", "Sign"): ua.SecurityPolicyType.Aes128Sha256RsaOaep_Sign,
    (
        "Aes128_Sha256_RsaOaep",
        "SignAndEncrypt",
    ): ua.SecurityPolicyType.Aes128Sha256RsaOaep_SignAndEncrypt,
    ("Aes256_Sha256_RsaPss", "Sign"): ua.SecurityPolicyType.Aes256Sha256RsaPss_Sign,
    (
        "Aes256_Sha256_RsaPss",
        "SignAndEncrypt",
    ): ua.SecurityPolicyType.Aes256Sha256RsaPss_SignAndEncrypt,
}
_SECURE_ALL = [v for k, v in _POLICY_TYPES.items() if k[0] != "None"]

_VARIANT = {
    "Boolean": ua.VariantType.Boolean,
    "SByte": ua.VariantType.SByte,
    "Byte": ua.VariantType.Byte,
    "Int16": ua.VariantType.Int16,
    "UInt16": ua.VariantType.UInt16,
    "Int32": ua.VariantType.Int32,
    "UInt32": ua.VariantType.UInt32,
    "Int64": ua.VariantType.Int64,
    "UInt64": ua.VariantType.UInt64,
    "Float": ua.VariantType.Float,
    "Double": ua.VariantType.Double,
    "String": ua.VariantType.String,
    "DateTime": ua.VariantType.DateTime,
}


class OpcuaSimulator:
    """A simulated OPC UA device serving one profile (see the module docstring)."""

    def __init__(
        self,
        profile: OpcuaProfile,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        security_policy: str | None = None,
        security_mode: str = "SignAndEncrypt",
        trusted_clients: list[x509.Certificate] | None = None,
        certificate: tuple[x509.Certificate, Any] | None = None,
        application_uri: str | None = None,
        update_interval_ms: float | None = None,
        seed: int = 1,
        users: dict[str, str] | None = None,
        max_monitored_items: int | None = None,
        subscriptions: bool = True,
        **_ignored: Any,
    ) -> None:
        """Args:
        profile: the OPC UA profile to serve.
        host, port: listen address (port 0 picks a free port, kept across restarts).
        security_policy: serve only this policy (with ``security_mode``); default: None
            and all secure policies.
        trusted_clients: if given, only clients presenting one of these certificates.
        certificate: server certificate and key (default: generated, valid, matching URI).
        application_uri: the server's ApplicationUri (default ``urn:fast-track-kit:sim:<id>``).
        update_interval_ms: how often values change (default: the profile's simulation).
        users: user name → password; when given, anonymous login is refused.
        max_monitored_items: monitored items per subscription before the server answers
            BadTooManyMonitoredItems (like an S7-1200 at about 1,000).
        subscriptions: False = the server refuses subscriptions (BadTooManySubscriptions).
        """
        self.profile = profile
        self.host = host
        self.port = port
        self.security_policy = security_policy
        self.security_mode = security_mode
        self.trusted_clients = trusted_clients
        self.application_uri = application_uri or f"urn:fast-track-kit:sim:{profile.id}"
        self.interval = (update_interval_ms or profile.simulation.update_interval_ms) / 1000
        self.users = users
        self.max_monitored_items = max_monitored_items
        self.subscriptions = subscriptions
        self.certificate, self.key = certificate or self._stored_certificate()
        self.points = [
            SimPoint(p, profile.simulation.points.get(p.name), seed + i)
            for i, p in enumerate(profile.points)
        ]
        self.status: dict[str, int] = {}
        self.values: dict[str, Any] = {}
        """Last value served per point (tests compare against it)."""
        self.server: Server | None = None
        self._relay: Relay | None = None
        self._nodes: dict[str, ua.NodeId] = {}
        self._task: asyncio.Task[None] | None = None
        self._inner = 0
        self._t0: float | None = None
        self._frozen = False
        self.restarts = 0

    @property
    def url(self) -> str:
        """``opc.tcp://host:port`` (valid after start)."""
        return f"opc.tcp://{self.host}:{self.port}"

    @property
    def thumbprint(self) -> str:
        """SHA-1 thumbprint of the server certificate."""
        return thumbprint(self.certificate)

    def _stored_certificate(self) -> tuple[x509.Certificate, Any]:
        """The simulator's certificate for this ApplicationUri, kept in the user's cache so
        `kit sim` keeps the same thumbprint between runs (trust it once)."""
        import hashlib
        import os
        from pathlib import Path

        base = (
            Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
            / "fast-track-kit"
            / "opcua-sim"
        )
        stem = base / hashlib.sha1(self.application_uri.encode()).hexdigest()[:16]
        cert_f, key_f = stem.with_suffix(".der"), stem.with_suffix(".key.pem")
        try:
            cert = x509.load_der_x509_certificate(cert_f.read_bytes())
            key = serialization.load_pem_private_key(key_f.read_bytes(), None)
            fresh = cert.not_valid_after_utc > dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
            # The simulator's own RSA key and certificate: both have public_numbers().
            same = cert.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
            if fresh and same:
                return cert, key
        except (OSError, ValueError):
            pass  # missing or unreadable: make a new one
        key = new_key()
        cert = make_certificate(
            key,
            self.application_uri,
            common_name=f"kit sim {self.profile.id}",
            hostnames=["localhost", "127.0.0.1", socket.gethostname()],
            server=True,
        )
        try:
            base.mkdir(parents=True, exist_ok=True)
            for f, data in (
                (
                    key_f,
                    key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    ),
                ),
                (cert_f, cert.public_bytes(serialization.Encoding.DER)),
            ):
                tmp = f.with_name(f"{f.name}.{os.getpid()}.tmp")
                tmp.write_bytes(data)
                tmp.replace(f)  # atomic: concurrent simulators never read half a file
        except OSError:
            pass  # read-only home: the certificate just is not reused
        return cert, key

    # -- life cycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        """Build the address space and listen (same port after a restart)."""
        if not self.port:
            self.port = free_port(self.host)
        if self.server is None:
            # The inner port is private (the relay fronts it), so a port taken between
            # free_port() and bind (another process on a busy machine) just means another try.
            for attempt in range(5):
                self._inner = free_port("127.0.0.1")
                self.server = await self._build(self._inner)
                try:
                    await self.server.start()
                    break
                except OSError as exc:
                    if exc.errno != errno.EADDRINUSE or attempt == 4:
                        raise
        else:
            await self.server.start()
        self._relay = Relay(self.host, self.port, ("127.0.0.1", self._inner))
        await self._relay.start()
        loop = asyncio.get_running_loop()
        if self._t0 is None:
            self._t0 = loop.time()
        await self._update(loop.time() - self._t0)
        self._task = loop.create_task(self._run())

    async def stop(self) -> None:
        """Stop listening and close every connection (values keep their state for a restart)."""
        await self._halt()
        self.server = None

    async def _halt(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None
        if self._relay:
            await self._relay.stop()
            self._relay = None
        if self.server:
            with contextlib.suppress(Exception):
                await self.server.stop()

    async def restart(self) -> None:
        """Stop, then start again on the same port: every connection, session and
        subscription is gone, as after a PLC power cycle. (The address space object is
        reused because building asyncua's standard address space takes seconds.)"""
        await self._halt()
        self.restarts += 1
        await self.start()

    # -- fault injection ----------------------------------------------------------------------
    def drop_connections(self) -> None:
        """Cut every client connection; the server keeps running."""
        if self._relay:
            self._relay.drop()

    def set_delay(self, seconds: float) -> None:
        """Delay every message by ``seconds``."""
        if self._relay:
            self._relay.delay = max(0.0, seconds)

    def set_silent(self, silent: bool) -> None:
        """Stop (or resume) answering while keeping connections open."""
        if self._relay:
            self._relay.silent = silent

    def freeze(self, frozen: bool = True) -> None:
        """Stop (or resume) value changes."""
        self._frozen = frozen

    async def set_status(self, point: str, status: str | int | None) -> None:
        """Serve ``point`` with this StatusCode (name like ``BadSensorFailure``); None = Good again."""
        self.profile.point(point)  # KeyError for unknown points
        if status is None:
            self.status.pop(point, None)
        else:
            self.status[point] = (
                status if isinstance(status, int) else getattr(ua.StatusCodes, status)
            )
        if self._t0 is not None and self.server is not None:
            await self._update(asyncio.get_running_loop().time() - self._t0, advance=False)

    def inject_status(self, point: str, status: str | int = "BadDeviceFailure") -> None:
        """Synchronous :meth:`set_status`: serve ``point`` with a bad StatusCode from the next
        value update on (for callers without an event loop of their own, e.g. ``kit certify``'s
        fault run, which calls exception-injection methods without awaiting them)."""
        self.profile.point(point)  # KeyError for unknown points
        self.status[point] = status if isinstance(status, int) else getattr(ua.StatusCodes, status)

    def clear_statuses(self) -> None:
        """Serve every point with status Good again from the next value update on."""
        self.status.clear()

    async def set_value(self, point: str, value: Any) -> None:
        """Force a point's value now (it keeps changing per its model afterwards unless frozen)."""
        sp = next(s for s in self.points if s.point.name == point)
        await self._write(sp, sp.coerce(value))

    # -- internals --------------------------------------------------------------------------------
    async def _build(self, inner_port: int) -> Server:
        server = Server()
        await server.init()
        server.set_endpoint(f"opc.tcp://127.0.0.1:{inner_port}/")
        server.set_server_name(
            f"Fast-Track Kit simulator: {self.profile.vendor} {self.profile.model}"
        )
        await server.set_application_uri(self.application_uri)
        if self.security_policy:
            server.set_security_policy(
                [
                    _POLICY_TYPES[
                        (
                            self.security_policy,
                            "None" if self.security_policy == "None" else self.security_mode,
                        )
                    ]
                ]
            )
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity, *_SECURE_ALL])
        await server.load_certificate(
            self.certificate.public_bytes(serialization.Encoding.DER), format="der"
        )
        await server.load_private_key(
            self.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            format="pem",
        )
        if self.trusted_clients is not None:
            server.set_certificate_validator(self._validate_client)
        if self.users is not None:
            from asyncua.server.user_managers import UserManager

            users = self.users

            class _Users(UserManager):
                def get_user(
                    self,
                    iserver: Any,
                    username: str | None = None,
                    password: str | None = None,
                    certificate: Any = None,
                ) -> Any:
                    from asyncua.crypto.permission_rules import User, UserRole

                    if username is not None and users.get(username) == password:
                        return User(role=UserRole.User, name=username)
                    return None

            server.iserver.user_manager = _Users()
        if not self.subscriptions:
            server.iserver.max_subscriptions = 0
        if self.max_monitored_items is not None:
            self._limit_monitored_items(server, self.max_monitored_items)
        bi = self.profile.simulation.build_info
        await server.set_build_info(
            "urn:fast-track-kit:sim",
            (bi.manufacturer_name if bi else None) or self.profile.vendor,
            (bi.product_name if bi else None) or self.profile.model,
            (bi.software_version if bi else None) or "sim",
            "1",
            dt.datetime.now(dt.UTC),
        )
        await self._address_space(server)
        return server

    @staticmethod
    def _limit_monitored_items(server: Server, limit: int) -> None:
        svc = server.iserver.subscription_service
        original = svc.create_monitored_items

        async def create(
            params: ua.CreateMonitoredItemsParameters,
        ) -> list[ua.MonitoredItemCreateResult]:
            sub = svc.subscriptions.get(params.SubscriptionId)
            have = len(sub.monitored_item_srv._monitored_items) if sub is not None else 0
            room = max(0, limit - have)
            items = list(params.ItemsToCreate)
            params.ItemsToCreate = items[:room]
            results = await original(params) if params.ItemsToCreate else []
            for _ in items[room:]:
                r = ua.MonitoredItemCreateResult()
                r.StatusCode = ua.StatusCode(ua.StatusCodes.BadTooManyMonitoredItems)  # type: ignore[arg-type]
                results.append(r)
            return results

        # An instance attribute: only this simulator is limited.
        svc.create_monitored_items = create  # type: ignore[method-assign]

    async def _validate_client(
        self, cert: x509.Certificate, app: ua.ApplicationDescription
    ) -> None:
        await CertificateValidator(
            CertificateValidatorOptions.TIME_RANGE
            | CertificateValidatorOptions.URI
            | CertificateValidatorOptions.PEER_CLIENT
        ).validate(cert, app)
        if thumbprint(cert) not in {thumbprint(c) for c in self.trusted_clients or []}:
            raise ServiceError(ua.StatusCodes.BadSecurityChecksFailed)

    async def _address_space(self, server: Server) -> None:
        ns_index: dict[str | int, int] = {0: 0}

        async def idx(ns: str | int) -> int:
            uri = self.profile.namespace_uri(ns)
            if uri not in ns_index:
                ns_index[uri] = await server.register_namespace(str(uri))
            return ns_index[uri]

        objects = server.nodes.objects
        folders: dict[tuple[tuple[str | int, str], ...], Any] = {}
        for sp in self.points:
            p = sp.point
            vtype = _VARIANT[sp.type]
            initial = sp.coerce(
                sp.sim.value if sp.sim.value is not None else (False if sp.type == "Boolean" else 0)
            )
            if p.node is not None:
                addr = self.profile.address(p)
                assert addr is not None
                i = await idx(addr.namespace)
                nodeid = to_nodeid(addr, i)
                var = await objects.add_variable(
                    nodeid, ua.QualifiedName(addr.identifier[-60:], i), ua.Variant(initial, vtype)
                )
            else:
                parent = objects
                elements = self.profile.browse_elements(p)
                for depth, (ns, name) in enumerate(elements[:-1]):
                    key = tuple(elements[: depth + 1])
                    if key not in folders:
                        folders[key] = await parent.add_object(await idx(ns), name)
                    parent = folders[key]
                ns, name = elements[-1]
                var = await parent.add_variable(await idx(ns), name, ua.Variant(initial, vtype))
            if p.access == "read_write":
                await var.set_writable()
            if p.unit or p.deadband is not None:
                await self._analog_properties(var, sp)
            self._nodes[p.name] = var.nodeid

    async def _analog_properties(self, var: Any, sp: SimPoint) -> None:
        # EngineeringUnits (so unit_from_server works) and EURange (so percent deadbands work).
        if sp.point.unit:
            eu = ua.EUInformation(
                NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact",
                UnitId=-1,
                DisplayName=ua.LocalizedText(sp.point.unit),
                Description=ua.LocalizedText(sp.point.unit),
            )
            await var.add_property(
                0, "EngineeringUnits", ua.Variant(eu, ua.VariantType.ExtensionObject)
            )
        rng = ua.Range(Low=float(sp.sim.min), High=float(sp.sim.max))
        await var.add_property(0, "EURange", ua.Variant(rng, ua.VariantType.ExtensionObject))

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            next_at += self.interval
            await asyncio.sleep(max(0.0, next_at - loop.time()))  # the device's update schedule
            if not self._frozen:
                try:
                    await self._update(loop.time() - (self._t0 or 0.0))
                except Exception:  # keep simulating; a failed write is logged, not fatal
                    log.exception("simulator update failed")

    async def _update(self, t: float, advance: bool = True) -> None:
        for sp in self.points:
            value = (
                sp.step(t, self.values) if advance else self.values.get(sp.point.name, sp.coerce(0))
            )
            await self._write(sp, value)

    async def _write(self, sp: SimPoint, value: Any) -> None:
        if self.server is None:
            return
        now = dt.datetime.now(dt.UTC)
        code = self.status.get(sp.point.name, ua.StatusCodes.Good)
        dv = ua.DataValue(
            ua.Variant(value, _VARIANT[sp.type]),
            # asyncua annotates its int and datetime subclasses; plain values work.
            StatusCode=ua.StatusCode(code),  # type: ignore[arg-type]
            SourceTimestamp=now,  # type: ignore[arg-type]
            ServerTimestamp=now,  # type: ignore[arg-type]
        )
        await self.server.write_attribute_value(self._nodes[sp.point.name], dv)
        self.values[sp.point.name] = value

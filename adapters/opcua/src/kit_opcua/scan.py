"""``kit scan`` for OPC UA endpoints: GetEndpoints, then (only where offered) a look inside.

GetEndpoints needs no session and no credentials: it returns the server's application
description (name, URI, product URI), the security modes and policies it offers, the user
token types, and its certificate. The certificate is reported by SHA-256 fingerprint only —
it is never added to a trust list (``kit opcua trust`` is the deliberate step).

When the server itself offers an endpoint without security and with anonymous login, the
scan opens one short anonymous session there (no certificate involved) and reads three
standard nodes: NamespaceArray (companion specifications in use), ServerStatus BuildInfo
(manufacturer, product, software version) and CurrentTime (the server clock's offset to ours,
the first data-plumbing check). These are matched against the library's OPC UA profiles:
BuildInfo against the profile's ``identification`` patterns (+3; a mismatch excludes the
profile) and the profile's namespace URIs against NamespaceArray (+1 each present, −1 each
missing), with the confidence formula of :func:`kit.scan.inventory.confidence`. Servers that
offer only secure endpoints are listed from GetEndpoints alone. Every service call group
(GetEndpoints; session; read) is paced by the scan.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from asyncua import Client, ua

from kit.aio import wait_for
from kit.scan.inventory import MATCH_THRESHOLD, confidence

_WEAK = {"None", "Basic128Rsa15", "Basic256"}
"""Policies that count against a server (none, or deprecated by the OPC Foundation)."""


def _policy(uri: str) -> str:
    return uri.rsplit("#", 1)[-1] if uri else "None"


async def scan_endpoint(
    host: str,
    port: int,
    *,
    pace: Callable[[], Awaitable[None]],
    profiles: Sequence[Any] = (),
    units: Sequence[int] = (),
    timeout_s: float = 1.0,
) -> dict[str, Any]:
    """GetEndpoints on ``opc.tcp://host:port``; the fields of an inventory ``Endpoint``."""
    url = f"opc.tcp://{host}:{port}"
    await pace()
    client = Client(url, timeout=max(timeout_s, 1.0))
    try:
        eps = await wait_for(client.connect_and_get_server_endpoints(), timeout_s + 4.0)
    except (TimeoutError, OSError, ua.UaError) as exc:
        return {"status": "no_answer", "detail": f"no GetEndpoints answer: {exc}"[:300]}
    endpoints = []
    app: dict[str, str] = {}
    certs: set[str] = set()
    for e in eps:
        s = e.Server
        app = {
            "application_name": (s.ApplicationName.Text or "") if s.ApplicationName else "",
            "application_uri": s.ApplicationUri or "",
            "product_uri": s.ProductUri or "",
        }
        if e.ServerCertificate:
            certs.add(hashlib.sha256(e.ServerCertificate).hexdigest())
        endpoints.append(
            {
                "url": e.EndpointUrl,
                "security_mode": ua.MessageSecurityMode(e.SecurityMode).name,
                "security_policy": _policy(e.SecurityPolicyUri),
                "user_tokens": sorted(
                    {ua.UserTokenType(t.TokenType).name for t in e.UserIdentityTokens or []}
                ),
            }
        )
    policies = sorted({x["security_policy"] for x in endpoints})
    secure = [
        x
        for x in endpoints
        if x["security_mode"] == "SignAndEncrypt" and x["security_policy"] not in _WEAK
    ]
    anonymous_open = any(
        x["security_policy"] == "None" and "Anonymous" in x["user_tokens"] for x in endpoints
    )
    inside: dict[str, Any] = {}
    requests = 1
    if anonymous_open:
        requests += 2
        inside = await _look_inside(url, pace, timeout_s)
    ident = {k: v for k, v in app.items() if v}
    ident.update({k: v for k, v in inside.get("build_info", {}).items() if v})
    ranked = _match(profiles, inside) if inside.get("namespaces") is not None else []
    best = ranked[0] if ranked else None
    ok = best is not None and best["confidence"] >= MATCH_THRESHOLD
    device = {
        "status": "identified" if ok else "unknown",
        "profile": best["profile"] if ok and best is not None else None,
        "confidence": best["confidence"] if best else 0.0,
        "candidates": ranked[:5],
        "requests": requests,
        "identification": ident,
        "notes": [
            "security policies offered: " + ", ".join(policies),
            "secure endpoint (SignAndEncrypt, current policy) available"
            if secure
            else "no secure endpoint (SignAndEncrypt with a current policy) offered",
        ]
        + (
            [f"server clock offset {inside['clock_offset_s']:+.3f} s"]
            if "clock_offset_s" in inside
            else []
        )
        + ([inside["error"]] if "error" in inside else []),
    }
    return {
        "status": "scanned",
        "detail": app.get("application_name", ""),
        "info": {
            "application": app,
            "endpoints": endpoints,
            "certificate_sha256": sorted(certs),
            "certificate_trusted": False,
            **{k: v for k, v in inside.items() if k in ("namespaces", "clock_offset_s")},
        },
        "devices": [device],
    }


async def _look_inside(
    url: str, pace: Callable[[], Awaitable[None]], timeout_s: float
) -> dict[str, Any]:
    """Anonymous session without security: NamespaceArray, BuildInfo, clock offset."""
    client = Client(url, timeout=max(timeout_s, 1.0))
    out: dict[str, Any] = {}
    try:
        await pace()
        await wait_for(client.connect(), timeout_s + 4.0)
        try:
            await pace()
            ns = await client.get_namespace_array()
            before = dt.datetime.now(dt.UTC)
            status = await client.get_node(ua.ObjectIds.Server_ServerStatus).read_value()
            after = dt.datetime.now(dt.UTC)
        finally:
            await client.disconnect()
    except (TimeoutError, OSError, ua.UaError) as exc:
        return {"error": f"anonymous session not possible: {exc}"[:200]}
    bi = status.BuildInfo
    out["namespaces"] = list(ns)
    out["build_info"] = {
        "manufacturer_name": bi.ManufacturerName or "",
        "product_name": bi.ProductName or "",
        "software_version": bi.SoftwareVersion or "",
    }
    if status.CurrentTime is not None:
        server_time = status.CurrentTime
        if server_time.tzinfo is None:
            server_time = server_time.replace(tzinfo=dt.UTC)
        mid = before + (after - before) / 2
        out["clock_offset_s"] = round((server_time - mid).total_seconds(), 3)
    return out


def _match(profiles: Sequence[Any], inside: dict[str, Any]) -> list[dict[str, Any]]:
    """Candidates, best first, from BuildInfo and the namespaces (see the module docstring)."""
    bi = inside.get("build_info", {})
    have = set(inside.get("namespaces") or [])
    out = []
    for prof in profiles:
        score = 0.0
        evidence: list[str] = []
        ident = getattr(prof, "identification", None)
        fields = {k: getattr(ident, k, None) for k in ("manufacturer_name", "product_name")}
        if ident is not None and any(fields.values()):
            bad = ident.mismatches(
                bi.get("manufacturer_name", ""),
                bi.get("product_name", ""),
                bi.get("software_version", ""),
            )
            if bad:
                continue  # the server names another maker or product: not this profile
            score += 3
            evidence.append(
                f"BuildInfo {bi.get('manufacturer_name', '')!r} {bi.get('product_name', '')!r}"
            )
        for uri in (getattr(prof, "namespaces", None) or {}).values():
            if uri in have:
                score += 1
                evidence.append(f"namespace {uri}")
            else:
                score -= 1
                evidence.append(f"namespace {uri} missing")
        out.append(
            {
                "profile": prof.id,
                "confidence": round(confidence(score), 3),
                "score": score,
                "evidence": evidence,
            }
        )
    out.sort(key=lambda c: (-c["score"], c["profile"]))
    return out

"""``kit scan`` for OPC UA endpoints: GetEndpoints, without a session and without trust.

GetEndpoints needs no session and no credentials: it returns the server's application
description (name, URI, product URI), the security modes and policies it offers, the user
token types, and its certificate. The certificate is reported by SHA-256 fingerprint only —
it is never added to a trust list (``kit opcua trust`` is the deliberate step). One request,
paced by the scan like every other.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from asyncua import Client, ua

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
        eps = await asyncio.wait_for(client.connect_and_get_server_endpoints(), timeout_s + 4.0)
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
    device = {
        "status": "unknown",
        "identification": {k: v for k, v in app.items() if v},
        "notes": [
            "security policies offered: " + ", ".join(policies),
            "secure endpoint (SignAndEncrypt, current policy) available"
            if secure
            else "no secure endpoint (SignAndEncrypt with a current policy) offered",
        ],
        "requests": 1,
    }
    return {
        "status": "scanned",
        "detail": app.get("application_name", ""),
        "info": {
            "application": app,
            "endpoints": endpoints,
            "certificate_sha256": sorted(certs),
            "certificate_trusted": False,
        },
        "devices": [device],
    }

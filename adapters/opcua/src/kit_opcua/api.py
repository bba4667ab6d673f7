"""Request/reply models of the OPC UA certificate endpoints (``opcua.certs.*``)."""

from __future__ import annotations

from pydantic import Field

from kit.api import Empty, Reply, Request, endpoint


class CertInfo(Reply):
    """One certificate (a server's, trusted or rejected)."""

    thumbprint: str
    state: str | None = None
    """``trusted``, ``rejected`` or ``own``."""
    subject: str | None = None
    application_uri: str | None = None
    not_before: str | None = None
    not_after: str | None = None
    expired: bool | None = None
    file: str | None = None


class CertList(Reply):
    """The kit's own client certificate and every server certificate seen."""

    own: CertInfo | None = None
    certificates: list[CertInfo] = Field(default_factory=list)


class ThumbprintRequest(Request):
    """One certificate by its thumbprint (``opcua.certs.list`` shows them)."""

    thumbprint: str = Field(min_length=1, max_length=200)


LIST = endpoint("opcua.certs.list", Empty, CertList, "OPC UA certificates.")
TRUST = endpoint("opcua.certs.trust", ThumbprintRequest, CertInfo, "Trust a server certificate.")
REJECT = endpoint("opcua.certs.reject", ThumbprintRequest, CertInfo, "Reject a certificate.")

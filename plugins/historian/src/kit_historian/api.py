"""Typed request and reply of the historian's control API endpoint ``history.query``.

Kept in the historian package (the endpoint is the plugin's, not kit's), built on
:mod:`kit.api`: the runtime validates a body into :class:`QueryRequest` before the handler
runs (a wrong body gets a structured error naming the field), the handler answers a
:class:`QueryReply`, and the CLI and tests use the same models through :data:`QUERY`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator

from kit.api import Reply, Request, endpoint
from kit.errors import KitError


class QueryRequest(Request):
    """Points of one asset between two times, raw or aggregated per ``every``."""

    asset: str = Field(min_length=1, max_length=400)
    """Asset path ``site/area/line/asset``."""
    points: list[str] = Field(min_length=1)
    """Point, KPI or event-type names (a comma-separated text is accepted too)."""
    from_: str = Field(alias="from", min_length=1, max_length=100)
    """Start: ISO 8601 (UTC if no offset), ``now`` or relative ``-2h``."""
    to: str = Field(min_length=1, max_length=100)
    """End (exclusive), same forms."""
    every: str | None = Field(None, max_length=20)
    """Aggregate into intervals (``1m``, ``15m``, ``1h``)."""
    agg: Literal["mean", "min", "max", "last"] = "mean"
    window: str | None = Field(None, max_length=40)
    """Only KPI rows of this KPI window (``shift``, ``rolling``)."""
    component: str | None = Field(None, max_length=200)
    """Historian component to ask (default: the site-wide one)."""
    limit: int = Field(100_000, ge=1, le=10_000_000)

    @field_validator("points", mode="before")
    @classmethod
    def _split(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.split(",")
        if isinstance(v, list):
            return [p.strip() for p in v if isinstance(p, str) and p.strip()] or v
        return v


class QueryReply(Reply):
    """Answer of ``history.query``: a table, ISO 8601 UTC times in ``ts``."""

    columns: list[str] = Field(default_factory=list)
    rows: list[list[Any]] = Field(default_factory=list)
    truncated: bool = False
    """True when more than ``limit`` rows matched (narrow the range or use ``every``)."""
    units: dict[str, str | None] = Field(default_factory=dict)
    """Unit of each requested point (for export headers)."""


QUERY = endpoint("history.query", QueryRequest, QueryReply, "Stored values of an asset.")

#: An exported file travels in one reply: at most this many bytes before base64.
MAX_EXPORT_BYTES = 5 * 1024 * 1024


class ExportRequest(QueryRequest):
    """A query written as a file for people: ``csv`` or ``xlsx``, local time, units in headers."""

    format: Literal["csv", "xlsx"] = "csv"
    tz: str | None = Field(None, max_length=64)
    """IANA time zone of the sheet (the person's, e.g. ``Europe/Berlin``); default: the
    runtime machine's."""


class ExportReply(Reply):
    """The file of ``history.export`` (base64), for the caller to save where it runs."""

    filename: str
    data: str
    rows: int
    tz: str
    truncated: bool = False


EXPORT = endpoint(
    "history.export",
    ExportRequest,
    ExportReply,
    "Stored values of an asset as a CSV or Excel file (local time, units in headers).",
)

# Names of the first typed version of this module (kept for callers written against it).
HistoryQueryRequest = QueryRequest
HistoryQueryReply = QueryReply


def parse_request(body: Any) -> QueryRequest:
    """Validate a ``history.query`` body outside the control API (CLI with ``--dir``, tests).

    Raises:
        KitError: ``history.query: <field>: <message>`` for each problem.
    """
    try:
        return QueryRequest.model_validate(body or {})
    except ValidationError as exc:
        msgs = [f"{'.'.join(str(x) for x in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()]
        raise KitError("history.query: " + "; ".join(msgs)) from None


__all__ = [
    "EXPORT",
    "QUERY",
    "ExportReply",
    "ExportRequest",
    "QueryReply",
    "QueryRequest",
    "parse_request",
]

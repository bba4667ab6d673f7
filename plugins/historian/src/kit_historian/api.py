"""Typed request and reply of the historian's control API endpoint ``history.query``.

Kept in the historian package (the endpoint is the plugin's, not kit's): the handler
validates the body into :class:`HistoryQueryRequest` and answers a
:class:`HistoryQueryReply` dumped to JSON, so a wrong body gets a clear message
(``history.query: to: …``) instead of a KeyError, and clients can rely on the shape.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kit.errors import KitError


class HistoryQueryRequest(BaseModel):
    """Body of ``history.query``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    asset: str = Field(min_length=1)
    """Asset path ``site/area/line/asset``."""
    points: list[str] = Field(min_length=1)
    """Point, KPI or event-type names (a comma-separated text is accepted too)."""
    from_: str = Field(alias="from", min_length=1)
    """Start: ISO 8601 (UTC if no offset), ``now`` or relative ``-2h``."""
    to: str = Field(min_length=1)
    """End (exclusive), same forms."""
    every: str | None = None
    """Aggregate into intervals (``1m``, ``15m``, ``1h``)."""
    agg: Literal["mean", "min", "max", "last"] = "mean"
    window: str | None = None
    """Only KPI rows of this KPI window (``shift``, ``rolling``)."""
    component: str | None = None
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


class HistoryQueryReply(BaseModel):
    """Answer of ``history.query``: a table, ISO 8601 UTC times in ``ts``."""

    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    """True when more than ``limit`` rows matched (narrow the range or use ``every``)."""
    units: dict[str, str | None] = Field(default_factory=dict)
    """Unit of each requested point (for export headers)."""


def parse_request(body: Any) -> HistoryQueryRequest:
    """Validate a ``history.query`` body.

    Raises:
        KitError: ``history.query: <field>: <message>`` for each problem.
    """
    try:
        return HistoryQueryRequest.model_validate(body or {})
    except ValidationError as exc:
        msgs = [f"{'.'.join(str(x) for x in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()]
        raise KitError("history.query: " + "; ".join(msgs)) from None


__all__ = ["HistoryQueryReply", "HistoryQueryRequest", "parse_request"]

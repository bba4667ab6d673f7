"""Request/reply models of ``history.query``, built on :mod:`kit.api`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from kit.api import Reply, Request, endpoint


class QueryRequest(Request):
    """Points of one asset between two times, raw or aggregated per ``every``."""

    asset: str = Field(min_length=1, max_length=400)
    points: list[str] | str = Field(min_length=1)
    """Point names (a list, or comma-separated text)."""
    from_: str = Field(alias="from", min_length=1, max_length=100)
    """ISO 8601, ``now`` or relative (``-2h``)."""
    to: str = Field(min_length=1, max_length=100)
    every: str | None = Field(None, max_length=20)
    agg: Literal["mean", "min", "max", "last"] = "mean"
    component: str | None = Field(None, max_length=200)
    limit: int = Field(100_000, ge=1, le=1_000_000)


class QueryReply(Reply):
    """A result table: column names, rows, and whether ``limit`` cut it."""

    columns: list[str] = Field(default_factory=list)
    rows: list[list[Any]] = Field(default_factory=list)
    truncated: bool = False


QUERY = endpoint("history.query", QueryRequest, QueryReply, "Stored values of an asset.")

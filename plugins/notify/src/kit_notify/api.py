"""Typed control API of the notify sink: ``notify.log`` (recent deliveries) and
``notify.test`` (send a test message on one route and report the outcome)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kit.api import Reply, Request, endpoint


class LogRequest(Request):
    """Recent delivery outcomes, newest last."""

    component: str | None = Field(None, max_length=200)
    """notify component to ask (default: every one)."""
    route: str | None = Field(None, max_length=100)
    limit: int = Field(50, ge=1, le=1000)


class LogEntry(Reply):
    """One delivery outcome."""

    ts: str
    component: str = ""
    route: str
    key: str
    """Idempotency key ``<event id>:<route>``."""
    event: str = ""
    """Event type."""
    asset: str = ""
    result: str
    """``delivered``, ``retrying``, ``failed`` or ``dropped``."""
    attempts: int = 0
    detail: str = ""


class LogReply(Reply):
    """Answer of ``notify.log``."""

    entries: list[LogEntry] = Field(default_factory=list)
    pending: dict[str, int] = Field(default_factory=dict)
    """Undelivered messages per route (``<component>/<route>``)."""


class TestRequest(Request):
    """Send a test event on ``route`` now (its filters are skipped, its rate limit is not)."""

    route: str = Field(min_length=1, max_length=100)
    component: str | None = Field(None, max_length=200)
    timeout_s: float = Field(30.0, gt=0, le=120)
    """How long to wait for the outcome of the first attempt."""


class TestReply(Reply):
    """Outcome of the first attempt of a test message."""

    route: str
    key: str
    result: str
    """``delivered``, ``retrying`` (failed, will be retried), ``failed``, ``dropped`` or
    ``waiting`` (no outcome within the timeout, e.g. held by the rate limit)."""
    detail: str = ""


LOG = endpoint("notify.log", LogRequest, LogReply, "Recent notification deliveries.")
TEST = endpoint("notify.test", TestRequest, TestReply, "Send a test notification on a route.")

__all__: list[Any] = ["LOG", "TEST", "LogReply", "LogRequest", "TestReply", "TestRequest"]

"""Configuration of the ``notify`` sink: routes, their filters, rate limits and retries.

A *route* sends the events it matches to one destination (``webhook``, ``email``, ``mqtt``).
Secrets (a webhook token, an SMTP password) are never written here: a route names a secret
(``token_secret: mes_token``) kept sealed with the site key (``kit notify secret set``,
:mod:`kit_notify.secrets`).
"""

from __future__ import annotations

import fnmatch
from typing import Annotated, Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kit.payloads import Event

#: Event severities and alarm priorities, lowest first (ISA-18.2 priorities low … critical).
LEVELS = ("info", "low", "medium", "high", "critical")
Level = Literal["info", "low", "medium", "high", "critical"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


def event_level(ev: Event) -> str:
    """The priority an event is filtered by: an alarm's ``data.priority``, else its severity."""
    p = ev.data.get("priority")
    return p if isinstance(p, str) and p in LEVELS else ev.severity


class Match(_Strict):
    """Which events a route sends. Every given criterion must hold; an empty list matches all."""

    kinds: list[str] = Field(default_factory=lambda: ["alarm"])
    """Event kinds (the subject token): ``alarm``, ``work_order``, ``system``, ``spc`` …"""
    types: list[str] = Field(default_factory=list)
    """Event types, e.g. ``alarm_raised`` (not cleared/acknowledged ones); empty: any."""
    states: list[str] = Field(default_factory=list)
    """Values of the event's ``data.state``, e.g. ``approved`` for work orders; empty: any."""
    min_priority: Level | None = None
    """Lowest priority sent (alarm ``data.priority``, else the event severity)."""
    areas: list[str] = Field(default_factory=list)
    """Areas (second token of the asset path ``site/area/line/asset``); empty: any."""
    assets: list[str] = Field(default_factory=list)
    """Asset path patterns (``*`` and ``?`` wildcards, e.g. ``*/assembly/line1/*``); empty: any."""

    def matches(self, ev: Event) -> bool:
        """True if ``ev`` passes every criterion."""
        if self.kinds and ev.kind not in self.kinds:
            return False
        if self.types and ev.type not in self.types:
            return False
        if self.states and str(ev.data.get("state")) not in self.states:
            return False
        if self.min_priority and LEVELS.index(event_level(ev)) < LEVELS.index(self.min_priority):
            return False
        tokens = ev.asset.split("/")
        if self.areas and (len(tokens) < 2 or tokens[1] not in self.areas):
            return False
        return not self.assets or any(fnmatch.fnmatchcase(ev.asset, p) for p in self.assets)


class RateLimit(_Strict):
    """At most ``count`` deliveries per ``per_s`` seconds on this route (a token bucket)."""

    count: int = Field(20, ge=1)
    per_s: float = Field(60.0, gt=0)
    over_limit: Literal["defer", "drop"] = "defer"
    """``defer``: keep the message and send it when the limit allows (nothing is lost);
    ``drop``: discard it and count it (an alarm flood does not become 500 e-mails)."""


class Retry(_Strict):
    """Retries of a failed delivery: exponential backoff (kit.backoff) until it gives up."""

    initial_s: float = Field(2.0, gt=0)
    max_s: float = Field(300.0, gt=0)
    give_up_after_s: float = Field(24 * 3600.0, gt=0)
    """A delivery still failing this long after the event is marked failed (and logged)."""


class _Route(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    """Route name (in the delivery log, the health metrics and the idempotency key)."""
    match: Match = Field(default_factory=Match)
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    retry: Retry = Field(default_factory=Retry)


class WebhookRoute(_Route):
    """POST each matched event as JSON to an HTTP(S) endpoint (an MES, a ticket system)."""

    type: Literal["webhook"]
    url: str
    """``http://`` or ``https://`` URL the JSON is posted to."""
    token_secret: str | None = None
    """Name of a sealed secret sent as ``Authorization: Bearer <token>``."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra request headers (no secrets here: use ``token_secret``)."""
    timeout_s: float = Field(10.0, gt=0, le=300)
    tls_ca: str | None = None
    """CA bundle (PEM file) for an ``https`` endpoint with a site-internal certificate."""

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        u = urlparse(v)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        if u.password:
            raise ValueError("no password in the URL: use token_secret")
        u.port  # noqa: B018 (raises ValueError for a port out of range or not a number)
        return v

    @field_validator("headers")
    @classmethod
    def _no_auth(cls, v: dict[str, str]) -> dict[str, str]:
        if any(k.lower() in ("authorization", "x-api-key") for k in v):
            raise ValueError("no credentials in headers: use token_secret")
        return v


class EmailRoute(_Route):
    """Send each matched event as a plain-text e-mail through an SMTP server."""

    type: Literal["email"]
    host: str
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    """``starttls`` (port 587), ``tls`` (implicit, port 465) or ``none`` (a local relay only)."""
    user: str | None = None
    password_secret: str | None = None
    """Name of the sealed secret holding the SMTP password (with ``user``)."""
    sender: str
    """``From`` address."""
    to: list[str] = Field(min_length=1)
    subject: str = "[{severity}] {asset}: {message}"
    """Subject template: ``{kind}``, ``{type}``, ``{severity}``, ``{priority}``, ``{asset}``,
    ``{message}``, ``{ts}``."""
    timeout_s: float = Field(20.0, gt=0, le=300)
    tls_ca: str | None = None
    """CA bundle (PEM file) for a mail server with a site-internal certificate."""

    @model_validator(mode="after")
    def _auth_pair(self) -> EmailRoute:
        if bool(self.user) != bool(self.password_secret):
            raise ValueError("user and password_secret go together")
        return self


class MqttRoute(_Route):
    """Publish each matched event to an MQTT broker (QoS 1)."""

    type: Literal["mqtt"]
    host: str | None = None
    """Broker; default: the embedded server's MQTT listener, logged in as the component."""
    port: int | None = Field(None, ge=1, le=65535)
    """Default 1883 (an external broker) or the embedded listener's port."""
    user: str | None = None
    password_secret: str | None = None
    topic: str = "kit/out/notify/{kind}/{asset}"
    """Topic template: ``{route}``, ``{kind}``, ``{type}``, ``{severity}``, ``{asset}``."""
    retain: bool = False
    timeout_s: float = Field(10.0, gt=0, le=300)


Route = Annotated[WebhookRoute | EmailRoute | MqttRoute, Field(discriminator="type")]


class NotifyConfig(_Strict):
    """Routes of one ``notify`` component."""

    routes: list[Route] = Field(min_length=1)
    max_pending: int = Field(1000, ge=1, le=100_000)
    """Undelivered messages kept (across restarts); beyond it the oldest is dropped and counted."""
    start_at: Literal["new", "all"] = "new"
    """On the very first start: only events from now on (``new``) or the whole stored history."""

    @field_validator("routes")
    @classmethod
    def _unique(cls, v: list[Any]) -> list[Any]:
        names = [r.name for r in v]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"route names must be unique: {', '.join(dup)}")
        return v

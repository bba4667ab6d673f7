"""Instance configuration of the ``opcua`` adapter component (site config or recipe)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kit_opcua.profile import INSECURE_POLICIES

log = logging.getLogger(__name__)

Policy = Literal[
    "Basic256Sha256",
    "Aes128_Sha256_RsaOaep",
    "Aes256_Sha256_RsaPss",
    "None",
    "Basic128Rsa15",
    "Basic256",
]


class OpcuaConfig(BaseModel):
    """Connection, security and subscription settings of one OPC UA server."""

    model_config = ConfigDict(extra="forbid")

    profile: str
    """Hardware profile id (``kit profiles``), e.g. ``siemens-s7-1500-db``."""
    profile_params: dict[str, Any] = Field(default_factory=dict)
    """Parameters of parameterised profiles (none of the shipped OPC UA profiles uses any yet)."""
    profile_file: Path | None = None
    """Read the profile from this YAML file instead of the library (e.g. a `kit browse` draft)."""
    endpoint: str = Field(pattern=r"^opc\.tcp://")
    """Server endpoint URL, e.g. ``opc.tcp://192.168.0.10:4840``."""
    security_policy: Policy = "Basic256Sha256"
    """SecurityPolicy. ``None`` and the deprecated SHA-1 policies need ``allow_insecure``."""
    security_mode: Literal["Sign", "SignAndEncrypt", "None"] = "SignAndEncrypt"
    """Message security: ``SignAndEncrypt`` (default), ``Sign``, or ``None`` (only with policy None)."""
    allow_insecure: bool = False
    """Explicit site decision to accept policy None or a deprecated policy (logged as a warning)."""
    identity: Literal["anonymous", "username"] = "anonymous"
    """User identity token: ``anonymous`` or ``username`` (needs ``username`` and ``password``)."""
    username: str | None = None
    """User name for ``identity: username``."""
    password: str | None = Field(None, repr=False)
    """Password for ``identity: username`` (never logged or shown)."""
    application_uri: str | None = None
    """The kit's ApplicationUri (default ``urn:fast-track-kit:<hostname>``); it is also the URI
    in the SAN of the kit's certificate."""
    data_dir: Path | None = None
    """Where ``pki/`` lives (default: the runtime's data directory)."""
    points: list[str] | None = None
    """Read only these profile points (default: all)."""
    publishing_interval_ms: float | None = Field(None, gt=0)
    """Subscription publishing interval (default: the profile's)."""
    subscriptions: Literal["auto", "off"] = "auto"
    """``off`` reads by polling only (servers without the subscription service set)."""
    poll_interval_ms: float = Field(1000, gt=0)
    """Read-polling period for points that could not be monitored."""
    max_monitored_items: int | None = Field(None, ge=1)
    """Monitor at most this many items, poll the rest (e.g. 1000 for an S7-1200)."""
    timeout_s: float = Field(4.0, gt=0)
    """Per-request timeout."""
    keepalive_s: float = Field(1.0, gt=0)
    """How often the connection is probed (server state read) when nothing else arrives."""
    reconnect_initial_s: float = Field(0.5, gt=0)
    """First reconnect delay after a lost connection (doubles per failure up to ``reconnect_max_s``)."""
    reconnect_max_s: float = Field(30.0, gt=0)
    """Longest reconnect delay, so a dead server is not hammered."""
    reconnect_jitter: float = Field(0.2, ge=0, le=1)
    """Random spread of each reconnect delay (0.2 = ±20 %), so many adapters do not retry in step."""

    @model_validator(mode="after")
    def _check(self) -> OpcuaConfig:
        insecure = self.security_policy in INSECURE_POLICIES or self.security_mode == "None"
        if insecure and not self.allow_insecure:
            raise ValueError(
                f"security_policy {self.security_policy} / mode {self.security_mode} is insecure or "
                "deprecated; use Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss with "
                "Sign/SignAndEncrypt, or set allow_insecure: true to accept it explicitly"
            )
        if (self.security_policy == "None") != (self.security_mode == "None"):
            raise ValueError("security_policy None goes with security_mode None (and only with it)")
        if self.identity == "username" and not (self.username and self.password is not None):
            raise ValueError("identity username needs username and password")
        return self

    @property
    def shown_endpoint(self) -> str:
        """The endpoint as messages, health and metrics show it: a password written into the
        URL (``opc.tcp://user:password@host``) is replaced by ``***`` (viewers read health)."""
        scheme, sep, rest = self.endpoint.partition("://")
        userinfo, at, hostpart = rest.rpartition("@")
        if not at or ":" not in userinfo:
            return self.endpoint
        return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{hostpart}"

    @property
    def insecure(self) -> bool:
        """True when the site accepted an insecure or deprecated policy."""
        return self.security_policy in INSECURE_POLICIES or self.security_mode == "None"

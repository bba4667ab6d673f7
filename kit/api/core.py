"""Models of the runtime's own endpoints: ``status``, ``components``, ``plugins``,
``components.restart`` (and ``ping``, which answers at once — a liveness probe)."""

from __future__ import annotations

from typing import Any

from pydantic import Field, RootModel

from kit.api.endpoint import Empty, Reply, Request, endpoint


class ComponentSummary(Reply):
    """One component instance as the supervisor sees it."""

    name: str
    type: str
    kind: str
    asset: str | None = None
    owner: str | None = None
    status: str
    """``starting``, ``running``, ``degraded``, ``backoff``, ``failed`` or ``stopped``."""
    restarts: int = 0
    last_error: str | None = None
    next_restart_in: float | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)


class BrokenPluginInfo(Reply):
    """A plugin that could not be loaded, and why."""

    name: str
    distribution: str = ""
    error: str


class BusInfo(Reply):
    """The runtime's bus connection."""

    url: str | None = None
    embedded: bool = False
    connected: bool = False
    server: str | None = None
    malformed: dict[str, int] = Field(default_factory=dict)
    publish_failures: int = 0
    mqtt_port: int | None = None
    server_restarts: int = 0
    """Times the embedded server was restarted after it died (docs/reliability.md)."""
    server_last_exit: str | None = None
    storage_error: str | None = None
    """Set while the bus's store cannot write (disk full); cleared on recovery."""
    server_log: str | None = None


class StatusReply(Reply):
    """``kit status``: version, site, bus and every component."""

    version: str
    site: str
    pid: int
    started: str | None = None
    bus: BusInfo
    components: list[ComponentSummary] = Field(default_factory=list)
    broken_plugins: list[BrokenPluginInfo] = Field(default_factory=list)
    previous_run_unclean: dict[str, Any] | None = None
    storage: dict[str, Any] | None = None
    """Per stream: write rate, store limit and the hours it holds now (kit/retention.py)."""
    """The previous runtime on this data directory ended without stopping (its pid)."""


class ComponentList(RootModel[list[ComponentSummary]]):
    """Every component instance (a JSON list)."""


class TrustInfo(Reply):
    """Signature status of a plugin package (kit.trust.verify.TrustStatus)."""

    status: str
    """``Core``, ``Signed``, ``Unsigned``, ``Invalid`` or ``Modified``."""
    certified: bool = False
    tier: str | None = None
    signers: list[str] = Field(default_factory=list)
    detail: str = ""


class PluginPermissions(Reply):
    """What a plugin's manifest declares it may do on the bus and to devices."""

    publishes: list[str] = Field(default_factory=list)
    subscribes: list[str] = Field(default_factory=list)
    device_writes: bool = False


class PluginInfo(Reply):
    """One loaded plugin: distribution, hooks, components, signature status, manifest."""

    name: str
    distribution: str = ""
    version: str = ""
    hooks: list[str] = Field(default_factory=list)
    components: list[str] = Field(default_factory=list)
    trust: TrustInfo | None = None
    """None when signatures were not checked."""
    vendor: str | None = None
    """From the plugin's manifest (None without one)."""
    manifest: PluginPermissions | None = None


class PluginsReply(Reply):
    """``kit plugins``."""

    plugins: list[PluginInfo] = Field(default_factory=list)
    broken: list[BrokenPluginInfo] = Field(default_factory=list)


class RestartRequest(Request):
    """Restart one component instance."""

    name: str = Field(min_length=1, max_length=200)
    """Instance name (``kit status`` lists them)."""


class RestartReply(Reply):
    """The instance that was restarted."""

    restarted: str


class UsersReloadReply(Reply):
    """Named bus accounts (``kit users add``) the embedded server now accepts."""

    users: list[str] = Field(default_factory=list)


class PingReply(Reply):
    """Answer of ``ping``: the runtime's event loop is serving requests."""

    pong: bool = True


STATUS = endpoint("status", Empty, StatusReply, "Runtime version, site, bus and components.")
COMPONENTS = endpoint("components", Empty, ComponentList, "Every component instance.")
PLUGINS = endpoint("plugins", Empty, PluginsReply, "Loaded and broken plugins.")
RESTART = endpoint(
    "components.restart", RestartRequest, RestartReply, "Restart one component instance."
)
PING = endpoint("ping", Empty, PingReply, "Answers at once (liveness of the event loop).")
USERS_RELOAD = endpoint(
    "users.reload",
    Empty,
    UsersReloadReply,
    "Load the named bus accounts (kit users add) into the embedded server.",
)

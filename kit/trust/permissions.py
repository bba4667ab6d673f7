"""From a component's plugin manifest and bindings to its own NATS connection and permissions.

The runtime calls :class:`ComponentBuses` when it runs the embedded server: each component
instance gets a user whose permissions are its manifest's subjects (narrowed by the
instance's bindings) and its own :class:`kit.bus.Bus` connection. Permission violations the
server reports on a connection are counted per component (shown in ``kit status`` through
``metrics`` and used by ``kit certify``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

from pydantic import BaseModel

from kit.bindings import Binding, assets_of
from kit.bus import Bus
from kit.errors import BusError, ConfigError
from kit.settings import ComponentSpec
from kit.trust.busauth import (
    BusAuth,
    component_permissions,
    narrow_publishes,
    narrow_subscriptions,
)
from kit.trust.manifest import PluginManifest, load_manifest, manifest_path_for_module

log = logging.getLogger(__name__)

#: Used when a plugin ships no manifest (in-process test plugins, old packages): the kind's
#: ordinary surface. ``kit certify`` fails such plugins; the runtime logs a warning.
DEFAULT_SURFACE = {
    "publishes": ["kit.data.>", "kit.kpi.>", "kit.event.>", "kit.health.>"],
    "subscribes": ["kit.data.>"],
}


def plugin_manifest(host: Any, plugin_name: str) -> PluginManifest | None:
    """The manifest of loaded plugin ``plugin_name``: a ``kit_manifest`` attribute of the
    plugin object (in-process plugins) or the file next to its module; None if neither."""
    plugin = host.pm.get_plugin(plugin_name)
    attached = getattr(plugin, "kit_manifest", None)
    if isinstance(attached, PluginManifest):
        return attached
    if isinstance(attached, dict):
        return PluginManifest.model_validate(attached)
    module = getattr(plugin, "__name__", None) or type(plugin).__module__
    p = manifest_path_for_module(module) if module else None
    if p is None:
        return None
    try:
        return load_manifest(p)
    except ConfigError as exc:
        log.error("manifest of plugin %s is invalid: %s", plugin_name, exc)
        return None


def bound_assets(cfg: BaseModel, default_asset: str | None) -> set[str]:
    """Assets a component config's ``inputs`` bindings read from (empty if it has none)."""
    inputs = getattr(cfg, "inputs", None)
    if not isinstance(inputs, BaseModel):
        return set()
    bindings = {k: v for k, v in inputs.__dict__.items() if isinstance(v, Binding) or v is None}
    return assets_of(bindings, default_asset)


def permissions_for(host: Any, spec: ComponentSpec, cfg: BaseModel) -> dict[str, Any]:
    """NATS permissions of component instance ``spec`` (manifest ∩ bindings + plumbing).

    Publishing is narrowed to the instance's own asset (data, last values, KPIs, events);
    subscribing to the assets its bindings read.
    """
    reg = host.component(spec.type)
    man = plugin_manifest(host, reg.plugin)
    if man is None:
        log.warning(
            "plugin %s (component type %s) ships no manifest; %s gets the default permissions",
            reg.plugin,
            spec.type,
            spec.name,
        )
        pubs, subs = DEFAULT_SURFACE["publishes"], DEFAULT_SURFACE["subscribes"]
    else:
        pubs, subs = man.publishes, man.subscribes
    return component_permissions(
        spec.name,
        narrow_publishes(list(pubs), spec.asset),
        narrow_subscriptions(list(subs), bound_assets(cfg, spec.asset)),
    )


class ComponentBuses:
    """One NATS user and connection per component instance on the embedded server."""

    def __init__(self, auth: BusAuth, host: Any) -> None:
        self.auth = auth
        self.host = host
        self.url: str | None = None
        self.buses: dict[str, Bus] = {}
        self.violations: Counter[str] = Counter()
        self.violation_subjects: dict[str, set[str]] = {}

    def declare(self, spec: ComponentSpec, cfg: BaseModel) -> None:
        """Create the user of ``spec`` (before the server starts or before :meth:`reload`)."""
        self.auth.add_component(spec.name, permissions_for(self.host, spec, cfg))

    async def connect(self, spec: ComponentSpec, attempts: int = 50) -> Bus:
        """Open the component's own connection (retried while a config reload takes effect)."""
        assert self.url is not None
        name = spec.name
        await self.close(name)  # re-added (e.g. recipe upgrade): never leak the old connection

        async def on_error(e: Exception) -> None:
            text = str(e)
            if "permissions violation" in text.lower():  # nats-py lower-cases server errors
                self.violations[name] += 1
                self.violation_subjects.setdefault(name, set()).add(_subject_of(text))
                if self.violations[name] == 1:
                    log.warning("component %s was denied by the bus: %s", name, text)

        await self._await_user(name, attempts)
        last: Exception | None = None
        for _ in range(attempts):
            try:
                bus = await Bus.connect(
                    self.url,
                    name=f"kit-component-{name}",
                    connect_timeout=2,
                    on_error=on_error,
                    **self.auth.connect_options(f"c-{name}"),
                )
                self.buses[name] = bus
                return bus
            except BusError as exc:  # authorization not reloaded yet: the server answers, try again
                last = exc
                await asyncio.sleep(0.1)  # bounded retry schedule while the server reloads
        raise BusError(f"component {name}: cannot connect with its own credentials: {last}")

    async def _await_user(self, name: str, attempts: int) -> None:
        """Wait until the server knows the user (after a config reload) with a fast-failing probe.

        The bus client retries a refused login with a one-second wait; a bare probe
        without reconnects fails at once, so a fresh component is up in milliseconds.
        """
        import nats

        assert self.url is not None  # connect() checked it
        opts = {
            k: v for k, v in self.auth.connect_options(f"c-{name}").items() if k != "inbox_prefix"
        }
        for _ in range(attempts):
            try:
                nc = await nats.connect(
                    self.url,
                    allow_reconnect=False,
                    max_reconnect_attempts=0,
                    connect_timeout=2,
                    error_cb=_quiet,
                    **opts,
                )
                await nc.close()
                return
            except Exception:  # authorization not reloaded yet
                await asyncio.sleep(0.02)  # bounded retry schedule while the server reloads

    async def close(self, name: str) -> None:
        """Close the connection of one component."""
        bus = self.buses.pop(name, None)
        if bus is not None:
            await bus.close()

    async def close_all(self) -> None:
        """Close every component connection (runtime shutdown)."""
        for name in list(self.buses):
            await self.close(name)


async def _quiet(_e: Exception) -> None:
    """Probe errors are expected while the server reloads."""


def _subject_of(text: str) -> str:
    import re

    m = re.search(r'(?:publish|subscription) to "([^"]+)"', text, re.IGNORECASE)
    return m.group(1) if m else text

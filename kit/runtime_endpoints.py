"""The runtime's own control endpoints: ``status``, ``components``, ``plugins``, ``restart``,
``ping`` and ``users.reload`` (request models and subjects in :mod:`kit.api.core`).

Split out of :mod:`kit.runtime` so the life cycle (start, supervise, stop) and what the
control API answers about it read separately. :class:`RuntimeEndpoints` only reads the
running :class:`kit.runtime.Runtime` (and asks its supervisor to restart a component); the
recipe and scan endpoints live with their engines (:mod:`kit.recipes.api`,
:mod:`kit.scan.service`).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from kit import __version__
from kit.control import ControlAPI
from kit.errors import KitError

if TYPE_CHECKING:
    from kit.runtime import Runtime


def _version_text(v: Any) -> str:
    try:
        return f"nats-server {v.major}.{v.minor}.{v.patch}"
    except AttributeError:
        return str(v)


class RuntimeEndpoints:
    """Handlers of the runtime's core endpoints, bound to one :class:`kit.runtime.Runtime`."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def register(self, api: ControlAPI) -> None:
        """Serve the core endpoints on ``api`` (before ``api.start()``)."""
        from kit.api import core

        api.add(core.STATUS, self.status)
        api.add(core.COMPONENTS, self.components)
        api.add(core.PLUGINS, self.plugins)
        api.add(core.RESTART, self.restart)
        api.add(core.PING, self.ping)
        api.add(core.USERS_RELOAD, self.users_reload)

    async def status(self, _body: Any) -> dict[str, Any]:
        """``status``: version, bus, components, broken plugins, storage estimate."""
        rt = self.runtime
        assert rt.bus is not None
        comps = [i.summary() for i in rt.supervisor.instances.values()]
        return {
            "version": __version__,
            "site": rt.settings.site,
            "pid": os.getpid(),
            "started": rt.started_at.isoformat() if rt.started_at else None,
            "bus": {
                "url": rt.url,
                "embedded": rt.embedded is not None,
                "connected": rt.bus.nc.is_connected,
                "server": _version_text(rt.bus.nc.connected_server_version)
                if rt.bus.nc.is_connected
                else None,
                "malformed": dict(rt.bus.malformed.counts),
                "publish_failures": rt.bus.publish_failures,
                "duplicates_dropped": dict(rt.bus.acks.duplicates),
                "mqtt_port": rt.embedded.mqtt_port if rt.embedded else None,
                **rt.bus_report(),
            },
            "previous_run_unclean": rt.unclean_previous,
            "components": comps,
            "broken_plugins": [b.__dict__ for b in rt.host.broken],
            "storage": await self._storage(),
        }

    async def _storage(self) -> dict[str, Any] | None:
        # Additive status field (docs/sizing.md): write rate, hours held, bytes per day.
        retention = self.runtime.retention
        if retention is None:
            return None
        try:
            current: dict[str, Any] = await retention.current()
            return current
        except Exception as exc:  # a status reply without the estimate beats no reply
            return {"error": str(exc)}

    async def components(self, _body: Any) -> list[dict[str, Any]]:
        """``components``: one summary per supervised instance."""
        return [i.summary() for i in self.runtime.supervisor.instances.values()]

    async def plugins(self, _body: Any) -> dict[str, Any]:
        """``plugins``: installed plugins with trust and manifest, and the broken ones."""
        from kit.trust.permissions import plugin_manifest

        host = self.runtime.host
        plugins = []
        for p in host.info():
            row: dict[str, Any] = {**p.__dict__, "trust": p.trust or None}
            try:
                man = plugin_manifest(host, p.name)
            except Exception:  # an unreadable manifest is reported by `kit plugin verify`
                man = None
            if man is not None:
                row["vendor"] = man.vendor
                row["manifest"] = {
                    "publishes": man.publishes,
                    "subscribes": man.subscribes,
                    "device_writes": man.device_writes,
                }
            plugins.append(row)
        return {"plugins": plugins, "broken": [b.__dict__ for b in host.broken]}

    async def ping(self, _body: Any) -> dict[str, Any]:
        """``ping``: the runtime answers."""
        return {"pong": True}

    async def users_reload(self, _body: Any) -> dict[str, Any]:
        """``users.reload``: re-read the named bus accounts into the embedded server."""
        from kit.trust.users import load_users

        rt = self.runtime
        if rt.embedded is None or rt.component_buses is None:
            raise KitError("named bus accounts need the embedded server (nats_url is set)")
        rt.embedded.auth_lines = rt.component_buses.auth.conf_lines()
        rt.embedded.reload()
        return {"users": sorted(load_users(rt.settings.data_dir))}

    async def restart(self, body: Any) -> dict[str, Any]:
        """``restart``: restart one component by name."""
        name = body.name
        supervisor = self.runtime.supervisor
        if name not in supervisor.instances:
            raise KitError(f"no component named {name!r}")
        await supervisor.restart(name)
        return {"restarted": name}

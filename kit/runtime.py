"""The runtime: embedded or external NATS, bus provisioning, plugins, supervisor, control API.

``kit up`` builds one :class:`Runtime` and runs it until SIGINT/SIGTERM. Shutdown is
bounded: components get ``stop_timeout_s`` to stop, pending publishes are flushed, the
embedded server is stopped last.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from datetime import datetime
from pathlib import Path
from typing import Any

from kit import __version__, codec, subjects
from kit.bus import Bus
from kit.components import Clock, ComponentContext
from kit.control import ControlAPI
from kit.errors import ConfigError, PluginError
from kit.library import Library
from kit.natsserver import EmbeddedNats
from kit.payloads import Health, HealthStatus, utcnow
from kit.plugins import PluginHost, get_plugin_manager
from kit.recipes import api as recipes_api
from kit.recipes import engine as recipes_engine
from kit.recipes.engine import RecipeEngine
from kit.settings import ComponentSpec, Settings
from kit.supervisor import Instance, Supervisor
from kit.yamlfiles import problem, validation_problems

log = logging.getLogger(__name__)
RUNTIME_FILE = "runtime.json"


def runtime_file(data_dir: Path) -> Path:
    """Where a running runtime advertises its bus URL and pid (read by the CLI)."""
    return Path(data_dir) / RUNTIME_FILE


def read_runtime_file(data_dir: Path) -> dict[str, Any] | None:
    """The advertised runtime of ``data_dir`` if its process is alive, else None."""
    try:
        info: dict[str, Any] = json.loads(runtime_file(data_dir).read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, ProcessLookupError):
        return None
    return info


def _version_text(v: Any) -> str:
    try:
        return f"nats-server {v.major}.{v.minor}.{v.patch}"
    except AttributeError:
        return str(v)


class Runtime:
    """One running kit instance."""

    def __init__(
        self, settings: Settings, host: PluginHost | None = None, clock: Clock | None = None
    ) -> None:
        self.settings = settings
        if host is None:  # verify signatures against this site's trust store and plugin_policy
            from kit.trust.verify import make_verifier

            host = get_plugin_manager(
                verify=make_verifier(settings.data_dir, settings.plugin_policy)
            )
        self.host = host
        self.library = Library(host, settings.data_dir)
        """The site library (site dir, shipped, plugins); every component's ``ctx.library``."""
        self.recipe_engine = RecipeEngine(self)
        """Installs, upgrades and restores recipes (served as ``recipes.*`` control endpoints)."""
        self.component_buses: Any = None
        """kit.trust.permissions.ComponentBuses when the embedded server runs (one user per component)."""
        self.clock = clock or Clock()
        self.embedded: EmbeddedNats | None = None
        self.bus: Bus | None = None
        self.supervisor = Supervisor(settings.supervisor, self._publish_core)
        self.control: ControlAPI | None = None
        self.url: str | None = None
        self.started_at: datetime | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._stop_event = asyncio.Event()

    async def _publish_core(self, subject: str, data: bytes) -> None:
        if self.bus is not None:
            await self.bus.publish_core(subject, data)

    # -- life cycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Start (or connect to) NATS, provision the bus, start the control API and components.

        Raises:
            BusError: NATS cannot be started or reached.
            ConfigError: a configured component's config is invalid (nothing is started).
        """
        s = self.settings
        from kit.trust.secrets import harden_process

        harden_process(s.data_dir)  # umask 077 (nats-server inherits it), data dir 0700
        specs = self.validate_specs(s.components)  # fail before starting anything
        if s.nats_url:
            from kit.trust.natsclient import external_options, tls_preflight

            self.url = s.nats_url
            opts = external_options(s.nats_client)
            await tls_preflight(self.url, opts)
        else:
            # Least privilege (kit.trust): the embedded server requires authentication and
            # each component gets its own user with its manifest's subjects.
            from kit.trust.busauth import BusAuth
            from kit.trust.permissions import ComponentBuses

            auth = BusAuth.load_or_create(s.data_dir)
            self.component_buses = ComponentBuses(auth, self.host)
            for spec, cfg in specs:
                self.component_buses.declare(spec, cfg)
            self.embedded = EmbeddedNats(s.nats, s.data_dir, auth_lines=auth.conf_lines())
            self.url = await self.embedded.start()
            self.component_buses.url = self.url
            auth.save(self.url)
            from kit.trust.busauth import register_local

            register_local(self.url, auth.passwords)
            opts = auth.connect_options("runtime")
        try:
            self.bus = await Bus.connect(self.url, name=f"kit-runtime-{s.site}", **opts)
            await self.bus.provision(s.retention)
            self.control = ControlAPI(self.bus, __version__)
            self._add_endpoints(self.control)
            self.host.register_endpoints(self.control, self)
            await self.control.start()
        except BaseException:
            await self._stop_server()
            raise
        self.started_at = utcnow()
        runtime_file(s.data_dir).write_text(
            json.dumps(
                {
                    "url": self.url,
                    "pid": os.getpid(),
                    "site": s.site,
                    "started": self.started_at.isoformat(),
                }
            )
        )
        self.host.runtime_started(self)
        for spec, cfg in specs:
            bus = await self.component_buses.connect(spec) if self.component_buses else None
            self._add(spec, cfg, bus=bus)
        await recipes_engine.restore_deployments(self)  # re-create recorded deployments
        self._heartbeat = asyncio.get_running_loop().create_task(self._beat())
        log.info("runtime up: bus %s, %d component(s)", self.url, len(specs))

    def validate_specs(self, specs: list[ComponentSpec]) -> list[tuple[ComponentSpec, Any]]:
        """Validate every configured component; raise one ConfigError listing all problems."""
        filename, root = self.settings.origin()
        out, problems = [], []
        names: set[str] = set()
        for i, spec in enumerate(specs):
            if spec.name in names:
                problems.append(
                    f"{filename}: components[{i}].name: duplicate component name {spec.name!r}"
                )
            names.add(spec.name)
            try:
                out.append(self.validate_spec(spec, filename, root, ("components", i, "config")))
            except ConfigError as exc:
                problems.extend(exc.problems)
            except PluginError as exc:
                problems.append(
                    problem(filename, root, ("components", i, "type"), str(exc))
                    if root is not None
                    else f"{filename}: components[{i}].type: {exc}"
                )
        if problems:
            raise ConfigError(f"{filename}: {len(problems)} problem(s) in components", problems)
        return out

    def validate_spec(
        self,
        spec: ComponentSpec,
        filename: str = "site config",
        root: Any = None,
        prefix: tuple[str | int, ...] = (),
    ) -> tuple[ComponentSpec, Any]:
        """Check a component spec against its type's Config model (second validation pass).

        Raises:
            PluginError: unknown component type (with installed types and a suggestion).
            ConfigError: the config does not match the type's model.
        """
        reg = self.host.component(spec.type)
        from pydantic import ValidationError

        try:
            return spec, reg.cls.Config.model_validate(spec.config)
        except ValidationError as exc:
            problems = validation_problems(
                filename, root if root is not None else spec.config, exc, prefix, reg.cls.Config
            )
            raise ConfigError(
                f"component {spec.name!r} ({spec.type}): invalid config", problems
            ) from None

    def trust_store(self) -> Any:
        """The site's trust store (``kit keys trust``), read fresh so a new key counts at once."""
        from kit.trust.truststore import TrustStore

        return TrustStore.load(self.settings.data_dir)

    def _add(
        self, spec: ComponentSpec, cfg: Any, owner: str | None = None, bus: Bus | None = None
    ) -> Instance:
        reg = self.host.component(spec.type)

        def make_context() -> ComponentContext:
            assert self.bus is not None
            return ComponentContext(
                spec.name,
                bus or self.bus,
                asset=spec.asset,
                site=self.settings.site,
                clock=self.clock,
                data_dir=self.settings.data_dir,
                library=self.library,
            )

        inst = Instance(
            name=spec.name,
            type=spec.type,
            cls=reg.cls,
            config=cfg,
            make_context=make_context,
            asset=spec.asset,
            owner=owner,
        )
        self.supervisor.add(inst)
        return inst

    async def add_component(self, spec: ComponentSpec, owner: str | None = None) -> Instance:
        """Validate and start one component instance."""
        spec, cfg = self.validate_spec(spec)
        bus = None
        if self.component_buses is not None and self.embedded is not None:
            self.component_buses.declare(spec, cfg)  # new user: reload the server's authorization
            self.embedded.auth_lines = self.component_buses.auth.conf_lines()
            self.embedded.reload()
            bus = await self.component_buses.connect(spec)
        return self._add(spec, cfg, owner, bus=bus)

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.supervisor.heartbeat_s)  # heartbeat schedule
            await self.supervisor.heartbeat()
            if self.bus is not None:
                h = Health(
                    component="runtime",
                    kind="runtime",
                    status=HealthStatus.running,
                    ts=utcnow(),
                    metrics={
                        "malformed": self.bus.malformed.total,
                        "publish_failures": self.bus.publish_failures,
                        "duplicates_dropped": dict(self.bus.acks.duplicates),
                    },
                )
                with contextlib.suppress(Exception):
                    await self.bus.publish_core(subjects.health_subject("runtime"), codec.encode(h))

    async def stop(self) -> None:
        """Bounded graceful shutdown (components, flush, control API, bus, embedded server)."""
        if self._heartbeat:
            self._heartbeat.cancel()
        with contextlib.suppress(Exception):
            self.host.runtime_stopping(self)
        await self.supervisor.stop_all()
        if self.component_buses is not None:
            await self.component_buses.close_all()
        if self.control:
            await self.control.stop()
        if self.bus:
            await self.bus.close()
        await self._stop_server()
        with contextlib.suppress(OSError):
            info = json.loads(runtime_file(self.settings.data_dir).read_text())
            if info.get("pid") == os.getpid():
                runtime_file(self.settings.data_dir).unlink()

    async def _stop_server(self) -> None:
        if self.embedded:
            await self.embedded.stop()
            if self.url:
                from kit.trust.busauth import unregister_local

                unregister_local(self.url)

    def request_stop(self) -> None:
        """Ask :meth:`run_forever` to shut down (signal handlers call this)."""
        self._stop_event.set()

    async def run_forever(self, on_started: Any = None) -> None:
        """Start, wait for SIGINT/SIGTERM (or :meth:`request_stop`), stop.

        Args:
            on_started: optional callable (sync or async) run once the runtime is up.
        """
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, self.request_stop)
        await self.start()
        try:
            if on_started is not None:
                result = on_started()
                if asyncio.iscoroutine(result):
                    await result
            await self._stop_event.wait()
        finally:
            await self.stop()

    # -- control API ----------------------------------------------------------------------
    def _add_endpoints(self, api: ControlAPI) -> None:
        from kit.api import core

        api.add(core.STATUS, self._ep_status)
        api.add(core.COMPONENTS, self._ep_components)
        api.add(core.PLUGINS, self._ep_plugins)
        api.add(core.RESTART, self._ep_restart)
        api.add(core.PING, self._ep_ping)
        recipes_api.add_endpoints(api, self)  # recipes.*, deployments.*, bundles.*

    async def _ep_status(self, _body: Any) -> dict[str, Any]:
        assert self.bus is not None
        comps = [i.summary() for i in self.supervisor.instances.values()]
        return {
            "version": __version__,
            "site": self.settings.site,
            "pid": os.getpid(),
            "started": self.started_at.isoformat() if self.started_at else None,
            "bus": {
                "url": self.url,
                "embedded": self.embedded is not None,
                "connected": self.bus.nc.is_connected,
                "server": _version_text(self.bus.nc.connected_server_version)
                if self.bus.nc.is_connected
                else None,
                "malformed": dict(self.bus.malformed.counts),
                "publish_failures": self.bus.publish_failures,
                "duplicates_dropped": dict(self.bus.acks.duplicates),
                "mqtt_port": self.embedded.mqtt_port if self.embedded else None,
            },
            "components": comps,
            "broken_plugins": [b.__dict__ for b in self.host.broken],
        }

    async def _ep_components(self, _body: Any) -> list[dict[str, Any]]:
        return [i.summary() for i in self.supervisor.instances.values()]

    async def _ep_plugins(self, _body: Any) -> dict[str, Any]:
        from kit.trust.permissions import plugin_manifest

        plugins = []
        for p in self.host.info():
            row: dict[str, Any] = {**p.__dict__, "trust": p.trust or None}
            try:
                man = plugin_manifest(self.host, p.name)
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
        return {"plugins": plugins, "broken": [b.__dict__ for b in self.host.broken]}

    async def _ep_ping(self, _body: Any) -> dict[str, Any]:
        return {"pong": True}

    async def _ep_restart(self, body: Any) -> dict[str, Any]:
        name = body.name
        if name not in self.supervisor.instances:
            from kit.errors import KitError

            raise KitError(f"no component named {name!r}")
        await self.supervisor.restart(name)
        return {"restarted": name}

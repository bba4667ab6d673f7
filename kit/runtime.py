"""The runtime: embedded or external NATS, bus provisioning, plugins, supervisor, control API.

``kit up`` builds one :class:`Runtime` and runs it until SIGINT/SIGTERM. Shutdown is
bounded: components get ``stop_timeout_s`` to stop, pending publishes are flushed, the
embedded server is stopped last. The core control endpoints (``status``, ``restart``, ...)
are in :mod:`kit.runtime_endpoints`, the checks of the configured components in
:mod:`kit.runtime_specs`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from datetime import datetime
from typing import Any

from kit import __version__, codec, runtime_specs, subjects
from kit.bus import Bus
from kit.components import Clock, ComponentContext
from kit.control import ControlAPI
from kit.datadir import RUNTIME_FILE, DataDirLock, read_runtime_file, runtime_file
from kit.errors import ConfigError
from kit.library import Library
from kit.natsserver import EmbeddedNats
from kit.payloads import Health, HealthStatus, utcnow
from kit.plugins import PluginHost, get_plugin_manager
from kit.recipes import api as recipes_api
from kit.recipes import engine as recipes_engine
from kit.recipes.engine import RecipeEngine
from kit.runtime_endpoints import RuntimeEndpoints
from kit.settings import ComponentSpec, Settings
from kit.supervisor import Instance, Supervisor

log = logging.getLogger(__name__)
__all__ = ["RUNTIME_FILE", "Runtime", "read_runtime_file", "runtime_file"]


class Runtime:
    """One running kit instance."""

    def __init__(
        self,
        settings: Settings,
        host: PluginHost | None = None,
        clock: Clock | None = None,
        lock: DataDirLock | None = None,
    ) -> None:
        self.settings = settings
        self.lock = lock or DataDirLock(settings.data_dir)
        """The data directory's lock (``kit demo`` passes one it already holds)."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self.events: list[Any] = []
        """The runtime's own recent events (server restarts, storage errors), newest last."""
        self.unclean_previous: dict[str, Any] | None = None
        """The runtime.json of a previous runtime that did not stop cleanly (None if it did)."""
        self.storage: Any = None
        """kit.storage.StorageWatch of the embedded server (None with an external server)."""
        self.server_exits: list[str] = []
        """How the embedded server died, each time it did."""
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
        self.retention: Any = None
        """kit.retention.RetentionMonitor: write rate and hours held (status ``storage``)."""
        self._stop_event = asyncio.Event()
        self.endpoints = RuntimeEndpoints(self)
        """The core control endpoints (``status``, ``restart``, ...; kit.runtime_endpoints)."""

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
        specs = self.validate_specs(  # fail early
            runtime_specs.with_default_history(s, self.host, s.components)
        )
        # Before anything touches the server, its pid file or the credentials: a second
        # runtime on this data directory would stop the first one's server.
        self.lock.acquire()
        try:
            await self._start(specs)
        except BaseException:
            # A step failed (or Ctrl-C during start): nothing may be left running — no
            # server process, no connection, no task, no stale runtime.json.
            with contextlib.suppress(Exception):
                await self.stop()
            raise

    async def _start(self, specs: list[tuple[ComponentSpec, Any]]) -> None:
        s = self.settings
        # We hold the lock, so a runtime.json left here is from a runtime that did not stop
        # (killed, crashed, power cut): say so once the bus is up.
        try:
            self.unclean_previous = json.loads(runtime_file(s.data_dir).read_text())
        except (OSError, ValueError):
            self.unclean_previous = None
        if s.nats_url:
            if s.hub is not None:  # the leaf link is the embedded server's (docs/fleet.md)
                raise ConfigError(
                    "hub: joining a hub needs the embedded server; with nats_url set, "
                    "configure the leaf link in your own NATS server (docs/fleet.md)"
                )
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
            if s.hub is not None:  # leaf of a hub, own JetStream domain (docs/fleet.md)
                from kit.hub.leaf import apply_link

                apply_link(self.embedded, s.site, s.hub)
            self.url = await self.embedded.start()
            # Supervised like a component: restarted on the same port and store if it dies.
            self.spawn(
                self.embedded.supervise(self._server_died, self._server_restarted),
                "runtime:nats-server",
            )
            from kit.storage import StorageWatch

            self.storage = StorageWatch(self.embedded, self._storage_report)
            self.supervisor.storage = self.storage
            self.spawn(self.storage.run(), "runtime:storage-watch")
            self.component_buses.url = self.url
            auth.save(self.url)
            from kit.trust.busauth import register_local

            register_local(self.url, auth.passwords)
            opts = auth.connect_options("runtime")
        self.bus = await Bus.connect(self.url, name=f"kit-runtime-{s.site}", **opts)
        await self.bus.provision(s.retention)
        self.control = ControlAPI(self.bus, __version__)
        self._add_endpoints(self.control)
        self.host.register_endpoints(self.control, self)
        await self.control.start()
        self.started_at = utcnow()
        runtime_file(s.data_dir).write_text(
            json.dumps(
                {
                    "url": self.url,
                    "pid": os.getpid(),
                    "site": s.site,
                    "started": self.started_at.isoformat(),
                    # MQTT tools and the kit-notify MQTT publisher find the listener here.
                    "mqtt_port": self.embedded.mqtt_port if self.embedded else None,
                }
            )
        )
        if self.unclean_previous is not None:
            prev = self.unclean_previous
            self.spawn(
                self.publish_runtime_event(
                    "unclean_shutdown",
                    f"the previous runtime on this data directory (pid {prev.get('pid')}, "
                    f"started {prev.get('started')}) ended without stopping (killed, crashed or "
                    "power lost); publishes it had not yet had acknowledged were lost",
                    severity="high",
                    data={"pid": prev.get("pid"), "started": prev.get("started")},
                ),
                "runtime:event",
            )
        self.host.runtime_started(self)
        for spec, cfg in specs:
            bus = await self.component_buses.connect(spec) if self.component_buses else None
            self._add(spec, cfg, bus=bus)
        await recipes_engine.restore_deployments(self)  # re-create recorded deployments
        if s.hub is not None:  # answer the hub's bundle rollout offers (docs/fleet.md)
            from kit.hub.agent import start_agent

            await start_agent(self)
        self._heartbeat = self.spawn(self._beat(), "runtime:heartbeat")
        from kit.retention import RetentionMonitor

        self.retention = RetentionMonitor(self.bus.js, s.retention)
        with contextlib.suppress(Exception):  # an estimate must never stop a start
            await self.retention.start()
        log.info("runtime up: bus %s, %d component(s)", self.url, len(specs))

    def validate_specs(self, specs: list[ComponentSpec]) -> list[tuple[ComponentSpec, Any]]:
        """Validate every configured component; raise one ConfigError listing all problems."""
        return runtime_specs.validate_specs(self.settings, self.host, specs)

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
        return runtime_specs.validate_spec(self.host, spec, filename, root, prefix)

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
                report=spec.report,
                storage=self.settings.retention,
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

    async def _server_died(self, how: str) -> None:
        # Nothing can be published now; the event follows once the server is back.
        self.server_exits.append(how)

    async def _server_restarted(self, down_s: float) -> None:
        assert self.embedded is not None
        self.spawn(
            self.publish_runtime_event(
                "nats_server_restarted",
                f"the embedded nats-server {self.embedded.last_exit}; restarted on "
                f"{self.embedded.url} after {down_s:.1f} s (restart {self.embedded.restarts})",
                severity="high",
                data={"down_s": round(down_s, 3), "restarts": self.embedded.restarts},
            ),
            "runtime:event",
        )

    async def _storage_report(
        self, type: str, message: str, severity: str, data: dict[str, Any]
    ) -> None:
        if type == "storage_error":
            log.error("%s", message)
            await self._publish_runtime_health()  # core subject: reaches watchers at once
        self.spawn(self.publish_runtime_event(type, message, severity, data), "runtime:event")

    async def publish_runtime_event(
        self, type: str, message: str, severity: str = "info", data: dict[str, Any] | None = None
    ) -> None:
        """Publish an event about the runtime itself (``kit.event.system.<site>.kit.runtime.nats``),
        once the bus is connected (waits for it), and log it."""
        from kit.payloads import Event

        log.log(logging.INFO if severity == "info" else logging.WARNING, "%s", message)
        if self.bus is None:
            return
        path = subjects.AssetPath.of(self.settings.site, "kit", "runtime", "nats")
        ev = Event(
            kind="system",
            type=type,
            asset=str(path),
            ts=utcnow(),
            source="runtime",
            severity=severity,
            message=message,
            data=data or {},
        )
        self.events.append(ev)
        del self.events[:-50]
        await self.bus.wait_connected()
        await self.bus.publish(subjects.event_subject("system", path), codec.encode(ev))

    def bus_report(self) -> dict[str, Any]:
        """What the runtime knows about its bus server (status, health metrics)."""
        e = self.embedded
        return {
            "server_restarts": e.restarts if e else 0,
            "server_last_exit": e.last_exit if e else None,
            "storage_error": e.storage_error if e else None,
            "server_log": str(e.log_path) if e else None,
            "outages": self.bus.outages if self.bus else 0,
            "unacked_publishes": len(self.bus.acks.unacked) if self.bus else 0,
            **(self.storage.summary() if self.storage else {}),
        }

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self.settings.supervisor.heartbeat_s)  # heartbeat schedule
            await self.supervisor.heartbeat()
            await self._publish_runtime_health()

    async def _publish_runtime_health(self) -> None:
        if self.bus is None:
            return
        report = self.bus_report()
        h = Health(
            component="runtime",
            kind="runtime",
            status=HealthStatus.degraded if report.get("storage_error") else HealthStatus.running,
            ts=utcnow(),
            detail=f"storage error: {report['storage_error']}"
            if report.get("storage_error")
            else "",
            metrics={
                "malformed": self.bus.malformed.total,
                "publish_failures": self.bus.publish_failures,
                "duplicates_dropped": dict(self.bus.acks.duplicates),
                **{k: v for k, v in report.items() if k != "server_log"},
            },
        )
        with contextlib.suppress(Exception):
            await self.bus.publish_core(subjects.health_subject("runtime"), codec.encode(h))

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        """Run ``coro`` in a task the runtime keeps and cancels on stop (never fire-and-forget:
        a task nobody holds can be collected mid-flight, and one left at exit is reported as
        "Task was destroyed but it is pending")."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _cancel_tasks(self) -> None:
        tasks = [t for t in self._tasks if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=self.settings.supervisor.stop_timeout_s)

    async def stop(self) -> None:
        """Bounded graceful shutdown (components, flush, control API, bus, embedded server).

        Safe after a partial start: every step undoes only what exists.
        """
        if self.retention is not None:
            await self.retention.stop()
        with contextlib.suppress(Exception):
            self.host.runtime_stopping(self)
        await self.supervisor.stop_all()
        if self.component_buses is not None:
            cb = self.component_buses
            # In parallel: each close waits (bounded) for its unacknowledged publishes, and
            # one after the other that added up to many seconds with a broken store.
            await asyncio.gather(*(cb.close(n) for n in list(cb.buses)), return_exceptions=True)
        if self.control:
            with contextlib.suppress(Exception):
                await self.control.stop()
        await self._cancel_tasks()  # heartbeat, server watch, ...
        if self.bus:
            with contextlib.suppress(Exception):
                await self.bus.close()
        await self._stop_server()
        with contextlib.suppress(OSError, ValueError):
            info = json.loads(runtime_file(self.settings.data_dir).read_text())
            if info.get("pid") == os.getpid():
                runtime_file(self.settings.data_dir).unlink()
        self.lock.release()

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
        self.endpoints.register(api)  # status, components, plugins, restart, ping, users.reload
        recipes_api.add_endpoints(api, self)  # recipes.*, deployments.*, bundles.*
        from kit.scan.service import add_endpoints as add_scan_endpoints

        self.scan = add_scan_endpoints(api, self)  # scan.* (the TUI's front door)

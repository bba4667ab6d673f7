"""The ``opcua`` adapter component: subscriptions, read-poll fallback, quality, recovery.

One component instance talks to one server and publishes on its asset. Its life is a loop:

1. connect (secure by default, server certificate validated), resolve points by namespace
   URI or browse path, read BuildInfo;
2. create one subscription and the monitored items with each point's sampling interval,
   queue size and deadband, and keep the server's *revised* values (metrics, health);
   points the server will not monitor (its monitored-item limit, no subscription service)
   are read by polling instead;
3. notifications are buffered and published as one sample batch per flush (so a publish
   response with 1,000 changes is one bus message, not 1,000);
4. on connection loss (keep-alive probe, socket closed, subscription timed out) every point
   is published once as ``bad``/``comm_lost`` — consumers never see the last value as if it
   were current — and the loop reconnects with exponential backoff and jitter, re-creating
   the session and every monitored item. No operator action is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from asyncua import Client, ua
from pydantic import BaseModel

from kit.backoff import backoff_delay
from kit.errors import AdapterError, ConfigError
from kit.payloads import HealthStatus, Point, Quality
from kit_opcua import connection as conn
from kit_opcua.component import OpcuaComponent
from kit_opcua.config import OpcuaConfig
from kit_opcua.profile import OpcuaPoint, OpcuaProfile
from kit_opcua.quality import to_point

if TYPE_CHECKING:
    from kit_opcua.simulator import OpcuaSimulator

log = logging.getLogger(__name__)

#: Statuses of CreateMonitoredItems meaning "no more items on this server": poll the rest.
_LIMIT_CODES = {
    ua.StatusCodes.BadTooManyMonitoredItems,
    ua.StatusCodes.BadTooManyOperations,
    ua.StatusCodes.BadOutOfMemory,
    ua.StatusCodes.BadResourceUnavailable,
}
_CHUNK = 500


def load_profile_for(cfg: OpcuaConfig, library: Any = None) -> OpcuaProfile:
    """The profile named by the config (a file, or an id from the site library).

    Args:
        library: the site's :class:`kit.library.Library` (``ctx.library`` in a runtime);
            default: installed plugins plus the environment's site directory (CLI use).

    Raises:
        ConfigError: unknown id, invalid file, or not an OPC UA profile.
    """
    if library is None:
        from kit.library import default_library

        library = default_library()
    prof = library.profile(Path(cfg.profile_file) if cfg.profile_file else cfg.profile)
    if not isinstance(prof, OpcuaProfile):
        raise ConfigError(f"profile {cfg.profile!r} is a {prof.protocol} profile, not opcua")
    if cfg.profile_params:
        raise ConfigError(
            f"profile {prof.id!r} takes no parameters (got {', '.join(sorted(cfg.profile_params))})"
        )
    if cfg.profile_file and prof.id != cfg.profile:
        raise ConfigError(
            f"{cfg.profile_file}: id is {prof.id!r} but the config names profile {cfg.profile!r}"
        )
    return prof


def select_points(profile: OpcuaProfile, names: list[str] | None) -> list[OpcuaPoint]:
    """The profile's points, or the named subset (ConfigError naming unknown points)."""
    if names is None:
        return list(profile.points)
    known = {p.name for p in profile.points}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(
            f"profile {profile.id}: no point(s) {', '.join(unknown)}; it has {', '.join(sorted(known))}"
        )
    return [p for p in profile.points if p.name in names]


def identification_mismatch(profile: OpcuaProfile, ident: conn.Identity) -> list[str]:
    """How the server's BuildInfo differs from the profile's identification (empty = matches)."""
    if profile.identification is None:
        return []
    return profile.identification.mismatches(
        ident.manufacturer_name, ident.product_name, ident.software_version
    )


def build_filter(point: OpcuaPoint) -> ua.DataChangeFilter | None:
    """DataChangeFilter for a point's deadband (None without deadband)."""
    if point.deadband is None:
        return None
    f = ua.DataChangeFilter()
    f.Trigger = ua.DataChangeTrigger.StatusValue
    f.DeadbandType = 1 if point.deadband.type == "absolute" else 2
    f.DeadbandValue = point.deadband.value
    return f


class OpcuaAdapter(OpcuaComponent):
    """Reads an OPC UA server with subscriptions (read-polling fallback), securely, and
    recovers by itself after server restarts and network outages."""

    name: ClassVar[str] = "opcua"
    protocol: ClassVar[str] = "opcua"
    summary: ClassVar[str] = (
        "OPC UA client: subscriptions with deadband, read fallback, certificate trust, auto-recovery"
    )
    Config: ClassVar[type[BaseModel]] = OpcuaConfig
    Profile: ClassVar[type] = OpcuaProfile

    def __init__(self, config: OpcuaConfig, ctx: Any) -> None:
        super().__init__(config, ctx)
        self.cfg: OpcuaConfig = config
        self.profile: OpcuaProfile | None = None
        self.client: Client | None = None
        self.identity: conn.Identity | None = None
        self._handles: dict[int, conn.ResolvedPoint] = {}
        self._poll: list[conn.ResolvedPoint] = []
        self._resolved: list[conn.ResolvedPoint] = []
        self._buffer: list[Point] = []
        self._wake = asyncio.Event()
        self._lost = asyncio.Event()
        self._lost_reason = ""
        self._rng = random.Random()
        self.revised: dict[str, dict[str, float]] = {}
        """Per point: the server's revised sampling interval and queue size."""
        self.revised_publishing_interval_ms: float | None = None
        self.state = "starting"
        self.connects = 0
        self.outages = 0
        self.notifications = 0
        self.published_points = 0
        self.batches = 0
        self.polls = 0
        self.bad_points = 0
        self.last_error: str | None = None
        self.certificate_problem: dict[str, Any] | None = None
        self._in_outage = False
        self.identification_mismatch: list[str] = []

    # -- component life ---------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, subscribe, publish; on any loss publish bad quality and reconnect forever."""
        # Loading the library validates every installed profile: up to a second of CPU, so it
        # runs in a worker thread instead of stalling the event loop (and every other component).
        self.profile = await asyncio.to_thread(load_profile_for, self.cfg, self.ctx.library)
        points = select_points(self.profile, self.cfg.points)
        failures = 0
        flusher = asyncio.create_task(self._flush_loop())
        try:
            while True:
                try:
                    await self._session(points)
                    failures = 0  # a session that ran then broke starts the backoff afresh
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    failures += 1
                    self._note_failure(exc)
                await self._publish_outage(points)
                delay = self._backoff(failures)
                await self._health(
                    HealthStatus.backoff, f"{self.last_error}; retry in {delay:.1f} s"
                )
                await self.ctx.clock.sleep(
                    delay
                )  # reconnect schedule (backoff), not synchronisation
        finally:
            flusher.cancel()
            with contextlib.suppress(BaseException):
                await flusher
            await self._drop_client()

    def _backoff(self, failures: int) -> float:
        return backoff_delay(
            failures,
            self.cfg.reconnect_initial_s,
            self.cfg.reconnect_max_s,
            jitter=self.cfg.reconnect_jitter,
            rng=self._rng,
            floor_s=0.05,
        )

    def _note_failure(self, exc: Exception) -> None:
        msg = str(exc) or type(exc).__name__
        if isinstance(exc, conn.CertificateRefused):
            self.certificate_problem = {"status": exc.code, "thumbprint": exc.thumbprint}
        if msg != self.last_error:  # log once per distinct problem, not on every retry
            log.warning("opcua %s: %s", self.ctx.name, msg)
        self.last_error = msg
        self.state = "backoff"

    async def _session(self, points: list[OpcuaPoint]) -> None:
        """One connected period: returns or raises when the connection is lost."""
        assert self.profile is not None
        self._lost.clear()
        self.client = await conn.open_client(self.cfg, data_dir=self.ctx.data_dir)
        self.client.connection_lost_callback = self._on_connection_lost
        self.connects += 1
        self.certificate_problem = None
        self.identity = await conn.read_identity(self.client)
        self.identification_mismatch = identification_mismatch(self.profile, self.identity)
        if self.identification_mismatch:
            # Warn, do not refuse: a firmware or product-name variant may still have the same layout.
            log.warning(
                "opcua %s: server %s may not be a %s %s: %s",
                self.ctx.name,
                self.identity.describe(),
                self.profile.vendor,
                self.profile.model,
                "; ".join(self.identification_mismatch),
            )
        self._resolved = await conn.resolve(self.client, self.profile, points)
        await self._setup_monitoring()
        self.state = "connected"
        self._in_outage = False
        if self.last_error:
            log.info(
                "opcua %s: connected again to %s (%s)",
                self.ctx.name,
                self.cfg.shown_endpoint,
                self.identity.describe(),
            )
        self.last_error = None
        unresolved = [r for r in self._resolved if r.nodeid is None]
        if unresolved:
            self._emit(
                [
                    Point(
                        name=r.point.name,
                        quality=Quality.bad,
                        reason=r.error or "unresolved",
                        unit=r.unit,
                    )
                    for r in unresolved
                ]
            )
        await self._health(
            HealthStatus.running if not unresolved else HealthStatus.degraded,
            f"{self.cfg.shown_endpoint} {self.identity.describe()}",
        )
        poller = asyncio.create_task(self._poll_loop()) if self._poll else None
        try:
            await self._lost.wait()
            raise AdapterError(f"{self.cfg.shown_endpoint}: connection lost ({self._lost_reason})")
        finally:
            if poller:
                poller.cancel()
                with contextlib.suppress(BaseException):
                    await poller
            await self._drop_client()

    async def _health(self, status: HealthStatus, detail: str) -> None:
        # Bus trouble must not take the device side down: health is best effort.
        try:
            await self.ctx.publish_health(status, detail=detail, **self.metrics())
        except Exception as exc:
            log.debug("opcua %s: health publish failed: %s", self.ctx.name, exc)

    async def _on_connection_lost(self, exc: Exception) -> None:
        self._signal_lost(f"keep-alive failed: {exc!r}")

    def _signal_lost(self, reason: str) -> None:
        if not self._lost.is_set():
            self._lost_reason = reason
            self._lost.set()

    async def _drop_client(self) -> None:
        client, self.client = self.client, None
        self._handles = {}
        if client is not None:
            await conn.close(client)

    async def _publish_outage(self, points: list[OpcuaPoint]) -> None:
        """Every point bad/comm_lost, once per outage: never a stale value shown as current."""
        if self._in_outage:
            return
        self._in_outage = True
        self.outages += 1
        self._buffer.clear()  # notifications of the dead session are not published after the outage mark
        units = {r.point.name: r.unit for r in self._resolved}
        pts = [
            Point(
                name=p.name, quality=Quality.bad, reason="comm_lost", unit=units.get(p.name, p.unit)
            )
            for p in points
        ]
        self.bad_points += len(pts)
        try:
            await self.ctx.publish_samples(pts)
        except Exception as exc:  # the bus is down too: retried before the next reconnect attempt
            self._in_outage = False
            log.warning("opcua %s: publishing the outage mark failed: %s", self.ctx.name, exc)
            return
        self.batches += 1
        if self.state != "backoff":
            self.state = "outage"

    # -- monitoring setup ------------------------------------------------------------------------
    async def _setup_monitoring(self) -> None:
        assert self.client is not None and self.profile is not None
        live = [r for r in self._resolved if r.nodeid is not None]
        self._poll, self._handles, self.revised = [], {}, {}
        if self.cfg.subscriptions == "off" or not live:
            self._poll = live
            return
        d = self.profile.defaults
        interval = self.cfg.publishing_interval_ms or d.publishing_interval_ms
        params = ua.CreateSubscriptionParameters()
        params.RequestedPublishingInterval = interval
        params.RequestedMaxKeepAliveCount = max(3, int(3000 / interval))
        params.RequestedLifetimeCount = params.RequestedMaxKeepAliveCount * 4
        params.MaxNotificationsPerPublish = 0
        params.PublishingEnabled = True
        params.Priority = 0
        try:
            res = await self.client.uaclient.create_subscription(params, self._on_publish)
        except ua.UaStatusCodeError as exc:
            log.warning(
                "opcua %s: subscriptions unavailable (%s); reading by polling",
                self.ctx.name,
                ua.StatusCode(exc.code).name,
            )
            self._poll = live
            return
        self.revised_publishing_interval_ms = res.RevisedPublishingInterval
        sub_id = res.SubscriptionId
        limit = self.cfg.max_monitored_items or len(live)
        to_monitor, self._poll = live[:limit], live[limit:]
        handle = 1
        for start in range(0, len(to_monitor), _CHUNK):
            chunk = to_monitor[start : start + _CHUNK]
            reqs: list[ua.MonitoredItemCreateRequest] = []
            for r in chunk:
                mp = ua.MonitoringParameters()
                mp.ClientHandle = handle + len(reqs)
                mp.SamplingInterval = (
                    r.point.sampling_interval_ms
                    if r.point.sampling_interval_ms is not None
                    else d.sampling_interval_ms
                )
                mp.QueueSize = (
                    r.point.queue_size if r.point.queue_size is not None else d.queue_size
                )
                mp.DiscardOldest = True
                flt = build_filter(r.point)
                if flt is not None:
                    mp.Filter = flt
                rv = ua.ReadValueId()
                rv.NodeId = r.nodeid
                rv.AttributeId = ua.AttributeIds.Value
                mir = ua.MonitoredItemCreateRequest()
                mir.ItemToMonitor = rv
                mir.MonitoringMode = ua.MonitoringMode.Reporting
                mir.RequestedParameters = mp
                reqs.append(mir)
            p = ua.CreateMonitoredItemsParameters()
            p.SubscriptionId = sub_id
            p.TimestampsToReturn = ua.TimestampsToReturn.Both
            p.ItemsToCreate = reqs
            # Register handles first: the first notification may arrive before the response.
            for i, r in enumerate(chunk):
                self._handles[handle + i] = r
            try:
                results = await self.client.uaclient.create_monitored_items(p)
            except ua.UaStatusCodeError as exc:
                if exc.code in _LIMIT_CODES:
                    for i in range(len(chunk)):
                        self._handles.pop(handle + i, None)
                    self._poll.extend(to_monitor[start:])
                    break
                raise
            for i, (r, res_i) in enumerate(zip(chunk, results)):
                code = res_i.StatusCode.value
                if res_i.StatusCode.is_good():
                    self.revised[r.point.name] = {
                        "sampling_interval_ms": res_i.RevisedSamplingInterval,
                        "queue_size": res_i.RevisedQueueSize,
                    }
                    continue
                self._handles.pop(handle + i, None)
                if code in _LIMIT_CODES:
                    self._poll.append(r)  # the server's monitored-item limit: read it instead
                else:
                    # e.g. BadNodeIdUnknown, BadFilterNotAllowed: report the status, keep reading so
                    # the point recovers when the PLC program is fixed.
                    log.warning(
                        "opcua %s: point %s not monitored: %s",
                        self.ctx.name,
                        r.point.name,
                        res_i.StatusCode.name,
                    )
                    self._emit(
                        [
                            Point(
                                name=r.point.name,
                                quality=Quality.bad,
                                reason=res_i.StatusCode.name,
                                unit=r.unit,
                            )
                        ]
                    )
                    self._poll.append(r)
            handle += len(chunk)
        if self._poll:
            log.info(
                "opcua %s: %d point(s) monitored, %d read by polling every %.0f ms",
                self.ctx.name,
                len(self._handles),
                len(self._poll),
                self.cfg.poll_interval_ms,
            )

    # -- data path ---------------------------------------------------------------------------------
    def _on_publish(self, result: ua.PublishResult) -> None:
        """Publish-loop callback: turn notifications into points (cheap, no awaits)."""
        data = result.NotificationMessage.NotificationData or []
        for notif in data:
            if isinstance(notif, ua.DataChangeNotification):
                pts = []
                for item in notif.MonitoredItems:
                    r = self._handles.get(item.ClientHandle)
                    if r is not None:
                        pts.append(to_point(r.point.name, item.Value, r.unit))
                self.notifications += len(pts)
                self._emit(pts)
            elif isinstance(notif, ua.StatusChangeNotification):
                # BadTimeout: the server dropped the subscription — recreate everything.
                if not notif.Status.is_good():
                    self._signal_lost(f"subscription status {notif.Status.name}")

    def _emit(self, points: list[Point]) -> None:
        if points:
            self._buffer.extend(points)
            self._wake.set()

    async def _flush_loop(self) -> None:
        """Publish buffered points as one batch per wake-up (natural batching under load)."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not self._buffer:
                continue
            pts, self._buffer = self._buffer, []
            try:
                await self.ctx.publish_samples(pts)
            except Exception as exc:  # bus trouble must not kill the device side; count and go on
                log.warning(
                    "opcua %s: publishing %d point(s) failed: %s", self.ctx.name, len(pts), exc
                )
                continue
            self.batches += 1
            self.published_points += len(pts)
            self.bad_points += sum(1 for p in pts if p.quality is not Quality.good)

    async def _poll_loop(self) -> None:
        """Read the points that are not monitored, every ``poll_interval_ms``."""
        clock = self.ctx.clock
        next_at = clock.monotonic()
        while True:
            try:
                await self._read_points(self._poll)
            except (TimeoutError, ConnectionError, OSError, ua.UaStatusCodeError) as exc:
                self._signal_lost(f"read failed: {exc!r}")
                return
            self.polls += 1
            next_at += self.cfg.poll_interval_ms / 1000
            await clock.sleep(max(0.0, next_at - clock.monotonic()))  # poll schedule

    async def _read_points(self, targets: list[conn.ResolvedPoint]) -> None:
        assert self.client is not None
        for start in range(0, len(targets), _CHUNK):
            chunk = targets[start : start + _CHUNK]
            values = await self.client.uaclient.read(_read_params(chunk))
            self._emit([to_point(r.point.name, dv, r.unit) for r, dv in zip(chunk, values)])

    # -- reporting ----------------------------------------------------------------------------------
    def metrics(self) -> dict[str, Any]:
        """Connection state, counts, and the server's revised subscription values."""
        intervals = [v["sampling_interval_ms"] for v in self.revised.values()]
        return {
            "state": self.state,
            "endpoint": self.cfg.shown_endpoint,
            "security": f"{self.cfg.security_policy}/{self.cfg.security_mode}",
            "server": self.identity.describe() if self.identity else None,
            "connects": self.connects,
            "outages": self.outages,
            "notifications": self.notifications,
            "published_points": self.published_points,
            "batches": self.batches,
            "polls": self.polls,
            "bad_points": self.bad_points,
            "monitored": len(self._handles),
            "polled": len(self._poll),
            "revised_publishing_interval_ms": self.revised_publishing_interval_ms,
            "revised_sampling_interval_ms": {"min": min(intervals), "max": max(intervals)}
            if intervals
            else None,
            "last_error": self.last_error,
            "certificate_problem": self.certificate_problem,
            "identification_mismatch": self.identification_mismatch or None,
        }

    def revised_for(self, point: str) -> dict[str, float] | None:
        """The server's revised sampling interval and queue size of one point."""
        return self.revised.get(point)

    # -- contract hooks --------------------------------------------------------------------------
    @classmethod
    async def test_connection(cls, config: BaseModel, library: Any = None) -> str:
        """Connect once, read BuildInfo and check the profile's points resolve.

        ``library``: the site library (the recipe engine passes the runtime's); its data
        directory holds the certificate store.

        Raises:
            AdapterError: unreachable, certificate not trusted (with the thumbprint to trust),
                login refused, or none of the profile's points exist on the server.
        """
        cfg = config if isinstance(config, OpcuaConfig) else OpcuaConfig.model_validate(config)
        profile = await asyncio.to_thread(load_profile_for, cfg, library)  # off the loop
        client = await conn.open_client(cfg, data_dir=getattr(library, "data_dir", None))
        try:
            ident = await conn.read_identity(client)
            resolved = await conn.resolve(client, profile, select_points(profile, cfg.points))
            if resolved:
                vals = await client.uaclient.read(
                    _read_params([r for r in resolved if r.nodeid is not None])
                )
            else:
                vals = []
        finally:
            await conn.close(client)
        missing = [f"{r.point.name} ({r.error})" for r in resolved if r.nodeid is None]
        # asyncua types DataValue.StatusCode Optional; a read result always carries one.
        bad = [
            f"{r.point.name} ({dv.StatusCode.name})"  # type: ignore[union-attr]
            for r, dv in zip([r for r in resolved if r.nodeid], vals)
            if not dv.StatusCode.is_good()  # type: ignore[union-attr]
        ]
        if missing and len(missing) == len(resolved):
            raise AdapterError(
                f"{cfg.shown_endpoint} ({ident.describe()}): none of the profile's points exist: "
                f"{', '.join(missing[:5])}; check the profile with `kit browse {cfg.shown_endpoint}`"
            )
        problems = missing + bad
        mism = identification_mismatch(profile, ident)
        return (
            f"{ident.describe()} at {cfg.shown_endpoint}: {len(resolved) - len(problems)}/{len(resolved)} points readable"
            + (f"; problems: {', '.join(problems[:5])}" if problems else "")
            + (
                f"; identification differs from profile {profile.id}: {'; '.join(mism)}"
                if mism
                else ""
            )
        )

    @classmethod
    def simulator(
        cls, profile: OpcuaProfile, host: str = "127.0.0.1", port: int = 0, **options: Any
    ) -> OpcuaSimulator:
        """An asyncua server serving ``profile`` (object or library id) with changing values
        (see :mod:`kit_opcua.simulator`)."""
        from kit_opcua.simulator import OpcuaSimulator

        if not isinstance(profile, OpcuaProfile):
            # an id, as `kit certify` and `kit sim` pass it: the same lookup as the adapter's config
            profile = load_profile_for(
                OpcuaConfig(profile=str(profile), endpoint="opc.tcp://127.0.0.1:4840")
            )

        return OpcuaSimulator(profile, host=host, port=port, **options)


def _read_params(targets: list[conn.ResolvedPoint]) -> ua.ReadParameters:
    params = ua.ReadParameters()
    params.TimestampsToReturn = ua.TimestampsToReturn.Both
    for r in targets:
        rv = ua.ReadValueId()
        rv.NodeId = r.nodeid
        rv.AttributeId = ua.AttributeIds.Value
        params.NodesToRead.append(rv)
    return params

"""Base classes for components (adapters, analytics, sinks, sources) and their context.

A component type is a class with a pydantic ``Config`` model and an async :meth:`run`.
The supervisor creates one instance per configured component, calls :meth:`run` in its own
task and restarts it (a fresh instance) with backoff when it raises. Everything a
component touches outside itself goes through its :class:`ComponentContext`: scoped
publishing, subscriptions, persistent state, a logger and a clock. That keeps plugins
testable (``kit.testing``) and lets the runtime enforce what a manifest declares.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal

from pydantic import BaseModel, ConfigDict
from typing_extensions import TypeVar

from kit import codec, subjects
from kit.aio import wait_for
from kit.bus import KV_LAST, KV_STATE, Bus
from kit.fastpath import BatchEncoder, QualitySpec
from kit.payloads import (
    Event,
    Health,
    HealthStatus,
    KpiValue,
    Point,
    Quality,
    SampleBatch,
    new_epoch,
    utcnow,
)

if TYPE_CHECKING:  # annotations only: kit.library loads YAML machinery components never need
    from kit.library import Library
    from kit.trust.truststore import TrustStore

Kind = Literal["adapter", "analytics", "sink", "source"]


class EmptyConfig(BaseModel):
    """Config model of a component that takes no settings."""

    model_config = ConfigDict(extra="forbid")


# The config model type of a component: ``class Oee(Analytics[OeeConfig])`` types
# ``self.config`` as ``OeeConfig``. Unparametrised subclasses (``class X(Analytics)``, as
# vendor plugins written before this existed do) get ``BaseModel`` — the default — and run
# exactly as before: the parameter is for type checkers only, ``Config`` still names the model.
ConfigT = TypeVar("ConfigT", bound=BaseModel, default=BaseModel)


class Clock:
    """Wall and monotonic time. Tests substitute a fake clock to move time without sleeping."""

    def now(self) -> datetime:
        """Current UTC time (aware)."""
        return utcnow()

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, never going backwards."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a schedule, e.g. a poll interval — not synchronisation)."""
        await asyncio.sleep(seconds)


class ComponentContext:
    """What a running component may use: its name, asset, bus access, state, log and clock,
    and the site's data directory, library (``library``) and trust store (``trust_store()``)."""

    def __init__(
        self,
        name: str,
        bus: Bus,
        *,
        asset: str | None = None,
        site: str = "site",
        clock: Clock | None = None,
        logger: logging.Logger | None = None,
        last_value_interval_s: float = 1.0,
        data_dir: Path | None = None,
        library: Library | None = None,
        report: Any = None,
        storage: Any = None,
    ) -> None:
        self.report = report
        """kit.settings.ReportSettings: report by exception for this component's batches."""
        self.storage = storage
        """kit.settings.RetentionSettings of the site: how KIT_DATA stores this component's
        batches (``data_encoding``, ``data_persistence``); None: as published (JSON, all)."""
        self.name = name
        self.data_dir = Path(data_dir) if data_dir is not None else None
        """The site's data directory (certificate stores, site files); None outside a runtime."""
        self.library = library
        """The site's :class:`kit.library.Library` (profiles and recipes: site, shipped,
        plugins; reloads when a file changes); None outside a runtime."""
        self.bus = bus
        self.site = site
        self.asset = subjects.AssetPath.parse(asset) if asset else None
        self.clock = clock or Clock()
        self.log = logger or logging.getLogger(f"kit.component.{name}")
        self._seq: dict[str, int] = {}
        self._last: dict[subjects.AssetPath, dict[str, Any]] = {}
        # Latest unmerged publication per (asset, producer); merged into _last only when the
        # last-value KV is written (once per interval), so the hot path does O(1) work.
        self._last_pending: dict[subjects.AssetPath, dict[Any, Any]] = {}
        self._last_flushed: dict[subjects.AssetPath, float] = {}
        self._last_interval = last_value_interval_s
        self._subs: list[Any] = []
        self._writers: dict[
            tuple[subjects.AssetPath, tuple[tuple[str, str | None], ...]], SampleWriter
        ] = {}
        self.epoch = new_epoch()
        self._kpi_n = 0
        """This instance's run: part of every batch and its ``Nats-Msg-Id`` (docs/bus.md)."""
        self._tasks: set[asyncio.Task[Any]] = set()
        """Background work (last-value flushes) kept so stop can cancel it."""

    def trust_store(self) -> TrustStore:
        """The site's trust store (keys trusted with ``kit keys trust``), read fresh each call.

        Raises:
            RuntimeError: the context has no data directory (not inside a runtime).
        """
        if self.data_dir is None:
            raise RuntimeError(f"component {self.name!r} runs without a site data directory")
        from kit.trust.truststore import TrustStore

        return TrustStore.load(self.data_dir)

    # -- publishing -----------------------------------------------------------------
    def asset_path(self, asset: str | subjects.AssetPath | None = None) -> subjects.AssetPath:
        """Resolve ``asset`` (or the component's own asset) to an AssetPath."""
        if isinstance(asset, subjects.AssetPath):
            return asset
        if asset:
            return subjects.AssetPath.parse(asset)
        if self.asset is None:
            raise ValueError(f"component {self.name!r} has no asset; pass one explicitly")
        return self.asset

    async def publish_samples(
        self,
        points: list[Point],
        *,
        asset: str | subjects.AssetPath | None = None,
        ts: datetime | None = None,
    ) -> SampleBatch:
        """Publish one sample batch for ``asset`` with the next sequence number of this source.

        Encoded by the one batch encoder (:class:`kit.fastpath.BatchEncoder`, cached per point
        list) like every other producer's batches; the returned model is not re-validated.
        """
        path = self.asset_path(asset)
        spec = tuple((p.name, p.unit) for p in points)
        writer = self._writers.get((path, spec))
        if writer is None:
            if len(self._writers) >= 256:  # point lists that change every call: stay bounded
                self._writers.clear()
            writer = self._writers[(path, spec)] = SampleWriter(self, path, list(spec))
        values = [p.value for p in points]
        qualities = (
            None
            if all(p.quality is Quality.good and not p.reason for p in points)
            else [(p.quality, p.reason) for p in points]
        )
        point_ts = [p.ts for p in points] if any(p.ts is not None for p in points) else None
        ts = ts or self.clock.now()
        seq = await writer.publish(values, qualities, ts=ts, point_ts=point_ts)
        return SampleBatch.model_construct(
            asset=str(path), ts=ts, seq=seq, epoch=self.epoch, source=self.name, points=points
        )

    def _next_seq(self, path: subjects.AssetPath) -> int:
        seq = self._seq.get(path.tokens, 0)
        self._seq[path.tokens] = seq + 1
        return seq

    def sample_writer(
        self, points: list[tuple[str, str | None]], asset: str | subjects.AssetPath | None = None
    ) -> SampleWriter:
        """A fast publisher for a fixed list of ``(semantic name, unit)`` points (adapters' hot path)."""
        return SampleWriter(self, self.asset_path(asset), points)

    async def publish_kpi(
        self,
        kpi: str,
        value: float | int | None,
        *,
        unit: str | None = None,
        asset: str | subjects.AssetPath | None = None,
        **fields: Any,
    ) -> KpiValue:
        """Publish a KPI value on ``kit.kpi.<asset>.<kpi>``."""
        path = self.asset_path(asset)
        item = KpiValue(
            asset=str(path),
            kpi=subjects.sanitize_token(kpi),
            value=value,
            unit=unit,
            ts=fields.pop("ts", None) or self.clock.now(),
            source=self.name,
            **fields,
        )
        # A message id per KPI: a resend after a reconnect (AckWindow) is not stored twice.
        self._kpi_n += 1
        await self.bus.publish(
            subjects.kpi_subject(path, kpi),
            codec.encode(item),
            msg_id=f"{self.name}:{self.epoch}:k{self._kpi_n}",
        )
        return item

    async def publish_event(
        self, kind: str, type: str, *, asset: str | subjects.AssetPath | None = None, **fields: Any
    ) -> Event:
        """Publish an event on ``kit.event.<kind>.<asset>``."""
        path = self.asset_path(asset)
        ev = Event(
            kind=subjects.sanitize_token(kind),
            type=type,
            asset=str(path),
            ts=fields.pop("ts", None) or self.clock.now(),
            source=self.name,
            **fields,
        )
        # The event's own id is its message id: a resend is not recorded twice.
        await self.bus.publish(subjects.event_subject(kind, path), codec.encode(ev), msg_id=ev.id)
        return ev

    async def publish_health(
        self,
        status: HealthStatus,
        *,
        component: str | None = None,
        kind: Literal["component", "device"] = "device",
        detail: str = "",
        **metrics: Any,
    ) -> None:
        """Publish health of a device this component talks to (``kit.health.<component>``)."""
        h = Health(
            component=component or self.name,
            kind=kind,
            status=status,
            ts=self.clock.now(),
            detail=detail,
            metrics=metrics,
        )
        await self.bus.publish_core(subjects.health_subject(h.component), codec.encode(h))

    def duplicates_dropped(self) -> int:
        """Messages of this component the stream acknowledged as duplicates (not stored)."""
        return self.bus.acks.duplicates.get(self.name, 0)

    # -- subscribing ----------------------------------------------------------------
    async def subscribe_samples(
        self, pattern: str, handler: Callable[[SampleBatch], Awaitable[None]]
    ) -> None:
        """Receive sample batches on ``pattern`` (e.g. ``kit.data.site.*.*.press1``).

        Malformed messages are counted on the bus and skipped; ``handler`` sees only valid
        batches.
        """

        async def _h(batch: SampleBatch, _msg: Any) -> None:
            await handler(batch)

        self._subs.append(await self.bus.subscribe(pattern, codec.decode_batch, _h))

    def _spawn(self, coro: Any) -> None:
        # Kept until done and cancelled on stop: an unreferenced task can be collected
        # mid-flight, and one left at exit is "Task was destroyed but it is pending".
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def unsubscribe_all(self) -> None:
        """Drop every subscription and background task of this context (the supervisor
        calls it when the instance stops)."""
        for task in list(self._tasks):
            task.cancel()
        for sub in self._subs:
            try:
                await sub.unsubscribe()
            except Exception:  # connection may be gone at shutdown; nothing left to undo
                pass
        self._subs.clear()

    # -- state ------------------------------------------------------------------------
    def _state_key(self, key: str) -> str:
        return f"{subjects.sanitize_token(self.name)}.{subjects.sanitize_token(key)}"

    async def load_state(self, key: str = "state", timeout_s: float = 120.0) -> Any | None:
        """Load JSON state saved by :meth:`save_state`, or ``None`` if there is none.

        "None saved" and "cannot read it now" are different answers: a timeout or a bus
        outage is retried with backoff for up to ``timeout_s`` and then raises
        :class:`~kit.errors.BusError` — never ``None``, or a component would start afresh
        and overwrite the saved state (e.g. an OEE shift's totals) with its first save.
        """
        from nats.js.errors import KeyDeletedError, KeyNotFoundError

        from kit.backoff import Backoff
        from kit.errors import BusError

        retry = Backoff(0.2, 5.0, clock=self.clock)
        start = self.clock.monotonic()
        while True:
            try:
                kv = await self.bus.kv(KV_STATE)
                entry = await kv.get(self._state_key(key))
                break
            except (KeyNotFoundError, KeyDeletedError):
                return None
            except Exception as exc:  # timeout, no responders, reconnecting, closed …
                if self.clock.monotonic() - start >= timeout_s:
                    raise BusError(
                        f"cannot read saved state {self._state_key(key)!r} from the bus for "
                        f"{timeout_s:.0f} s ({type(exc).__name__}: {exc}); not starting afresh"
                    ) from None
                if retry.failures == 0:
                    self.log.warning("saved state not readable yet (%s); retrying", exc)
                await retry.wait()
        return json.loads(entry.value) if entry and entry.value else None

    async def save_state(self, value: Any, key: str = "state") -> None:
        """Persist JSON-serialisable ``value`` so it survives a runtime restart."""
        kv = await self.bus.kv(KV_STATE)
        await kv.put(self._state_key(key), json.dumps(value, default=str).encode())

    # -- last values --------------------------------------------------------------------
    def _remember_last(self, path: subjects.AssetPath, producer: Any, item: Any) -> None:
        self._last_pending.setdefault(path, {})[producer] = item
        now = self.clock.monotonic()
        if now - self._last_flushed.get(path, -1e9) >= self._last_interval:
            self._last_flushed[path] = now
            self._spawn(self._flush_last(path))

    def _merge_last(self, path: subjects.AssetPath) -> dict[str, Any]:
        merged = self._last.setdefault(path, {})
        for entries in self._last_pending.pop(path, {}).values():
            merged.update(entries())
        return merged

    async def _flush_last(self, path: subjects.AssetPath) -> None:
        # One KV put per asset per interval, not one per point: a 10k-point site stays cheap.
        try:
            self._merge_last(path)
            kv = await self.bus.kv(KV_LAST)
            await kv.put(path.tokens, json.dumps(self._last.get(path, {})).encode())
        except Exception as exc:
            self.log.debug("last-value update failed: %s", exc)


#: How long a stopping component waits for its last state save.
FINAL_SAVE_S = 10.0


async def save_when_dirty(
    save: Callable[[], Awaitable[None]], dirty: asyncio.Event, clock: Clock, interval_s: float
) -> None:
    """Run until cancelled: call ``save()`` after ``dirty`` is set, at most once per ``interval_s``,
    and once more on the way out (so a stop keeps the latest state).

    Components with state that changes per batch use this so the KV bucket is written about
    once a second at high sample rates, not once per batch.
    """
    try:
        while True:
            await dirty.wait()
            dirty.clear()
            await save()
            await clock.sleep(interval_s)  # the save schedule, not synchronisation
    finally:
        # Bounded: a stop must finish even when the bus cannot take the last save (a test
        # once waited 300 s here for a KV put that never answered); the periodic saves
        # above have kept the state up to ``interval_s`` before.
        try:
            await wait_for(asyncio.shield(save()), FINAL_SAVE_S)
        except TimeoutError:
            logging.getLogger("kit.components").warning(
                "the last state save did not finish within %s s; the state saved before stands",
                FINAL_SAVE_S,
            )
        except Exception:  # noqa: S110  (the bus is going away: the last save is best effort)
            pass


class SampleWriter:
    """Publishes batches of a fixed point list with :class:`kit.fastpath.BatchEncoder`.

    ``await writer.publish(values)`` costs one encode and one publish per batch, whatever the
    points' quality. Every sample batch on the bus goes through here (``publish_samples``
    too), so the wire form, sequence numbers, epoch and ``Nats-Msg-Id`` have one source.
    """

    def __init__(
        self, ctx: ComponentContext, path: subjects.AssetPath, points: list[tuple[str, str | None]]
    ) -> None:
        self.ctx = ctx
        self.path = path
        self.encoder = BatchEncoder(points)
        self.subject = subjects.data_subject(path)
        self._asset = str(path)
        # Msg id = source+asset+epoch+seq: a retry after reconnect is de-duplicated by the
        # stream, and a restarted instance (new epoch) never collides with its previous run.
        self._prefix = f"{ctx.name}:{path.tokens}:{ctx.epoch}:"
        self.points = list(points)
        self.rbe: Any = None
        self._subsets: dict[tuple[int, ...], BatchEncoder] = {}
        if getattr(ctx, "report", None) is not None:  # kit.exception (docs/sizing.md)
            from kit.exception import ReportByException

            r = ctx.report
            self.rbe = ReportByException(
                [n for n, _ in points], r.deadband, r.deadbands, r.max_interval_s
            )
        self._last_seq = 0
        self.stored: Any = None
        """:class:`kit.stored.StoredForm` when KIT_DATA keeps another form than the live JSON."""
        st = getattr(ctx, "storage", None)
        if st is not None and st.split_data:
            from kit.stored import StoredForm

            self.stored = StoredForm(ctx, path, self._prefix, self.points, st)

    async def publish(
        self,
        values: Sequence[Any],
        qualities: Sequence[QualitySpec] | None = None,
        ts: datetime | None = None,
        point_ts: Sequence[datetime | None] | None = None,
    ) -> int:
        """Publish one batch; returns its sequence number.

        ``qualities``: one entry per point — ``None`` (good), a reason string (bad) or
        ``(quality, reason)``; pass ``None`` for "all good" (the fastest path).
        """
        ctx = self.ctx
        ts = ts or ctx.clock.now()
        encoder = self.encoder
        sel = None
        if self.rbe is not None:
            sel = self.rbe.select(values, qualities, ctx.clock.monotonic())
            if sel is not None:
                if not sel:  # nothing moved beyond its deadband: nothing to publish
                    return self._last_seq
                encoder = self._subset(tuple(sel))
                values = [values[i] for i in sel]
                qualities = [qualities[i] for i in sel] if qualities is not None else None
                point_ts = [point_ts[i] for i in sel] if point_ts is not None else None
        seq = ctx._next_seq(self.path)
        self._last_seq = seq
        data = encoder.encode(
            self._asset, ts, seq, ctx.name, values, qualities, epoch=ctx.epoch, point_ts=point_ts
        )
        if self.stored is not None:
            await self.stored.publish(data, seq, ts, values, qualities, point_ts, sel)
        else:
            await ctx.bus.publish(self.subject, data, msg_id=self._prefix + str(seq))
        vals = list(values)
        quals = list(qualities) if qualities is not None else None
        pts = list(point_ts) if point_ts is not None else None
        if encoder is not self.encoder:
            # A subset: on top of what is still pending from this writer (oldest first), so
            # the last-value entry of every point is its newest, whatever subset carried it.
            prev = ctx._last_pending.get(self.path, {}).get(id(self))
            ctx._remember_last(
                self.path,
                id(self),
                lambda: {
                    **(prev() if prev is not None else {}),
                    **encoder.last_values(vals, quals, ts.isoformat(), pts),
                },
            )
            return seq
        ctx._remember_last(
            self.path,
            id(self),
            lambda: self.encoder.last_values(vals, quals, ts.isoformat(), pts),
        )
        return seq

    def _subset(self, idx: tuple[int, ...]) -> BatchEncoder:
        enc = self._subsets.get(idx)
        if enc is None:
            if len(self._subsets) >= 256:  # bounded: changing subsets never grow memory
                self._subsets.clear()
            enc = self._subsets[idx] = BatchEncoder([self.points[i] for i in idx])
        return enc


class Component(Generic[ConfigT]):
    """Base of every component type. Subclass one of Adapter, Analytics, Sink, Source.

    Class attributes a subclass sets:
        name: registered type name, used by configs and recipes (``type: modbus``).
        kind: adapter, analytics, sink or source.
        Config: pydantic model of the instance config (``extra="forbid"`` recommended).
        summary: one line shown by ``kit plugins``.

    Parametrise the base with the same model (``class Oee(Analytics[OeeConfig])``) so type
    checkers know ``self.config`` is an ``OeeConfig``; at run time only ``Config`` counts.
    """

    name: ClassVar[str]
    kind: ClassVar[Kind]
    # A ClassVar cannot mention ConfigT; the registry checks it is a pydantic model.
    Config: ClassVar[type[BaseModel]] = EmptyConfig
    summary: ClassVar[str] = ""

    def __init__(self, config: ConfigT, ctx: ComponentContext) -> None:
        self.config = config
        self.ctx = ctx

    async def run(self) -> None:
        """Do the component's work until cancelled. Raising means "crashed": the supervisor
        restarts a fresh instance with backoff. Returning means "finished" (not restarted)."""
        raise NotImplementedError

    def metrics(self) -> dict[str, Any]:
        """Figures for health messages and ``kit status`` (counts, rates, last error)."""
        return {}

    async def on_failed(self, reason: str) -> None:
        """Called once by the supervisor when this instance is marked ``failed`` (crash loop).

        An adapter publishes its points as bad quality here, so a failed component's device
        reads as "bad, component_failed" rather than going silent. Must not raise; bounded.
        """


class Source(Component[ConfigT]):
    """Produces sample batches without a device protocol (e.g. the synthetic source)."""

    kind: ClassVar[Kind] = "source"


class Adapter(Component[ConfigT]):
    """Talks a device protocol and publishes sample batches; may execute guarded writes."""

    kind: ClassVar[Kind] = "adapter"
    #: Whether this adapter can write to devices (guarded by recipes, see docs/security).
    can_write: ClassVar[bool] = False

    @classmethod
    async def test_connection(cls, config: ConfigT) -> str:
        """Check that the device is reachable before anything is installed.

        Returns:
            A short description of what answered (identification if available).

        Raises:
            kit.errors.AdapterError: with a message a technician can act on.
        """
        return "not tested"


class Analytics(Component[ConfigT]):
    """Consumes sample batches and publishes KPIs and events."""

    kind: ClassVar[Kind] = "analytics"


class Sink(Component[ConfigT]):
    """Consumes bus data and stores or exports it (history, files, other systems)."""

    kind: ClassVar[Kind] = "sink"

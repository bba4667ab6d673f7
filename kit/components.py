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
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from kit import codec, subjects
from kit.bus import KV_LAST, KV_STATE, Bus
from kit.payloads import Event, Health, HealthStatus, KpiValue, Point, SampleBatch, utcnow

Kind = Literal["adapter", "analytics", "sink", "source"]


class EmptyConfig(BaseModel):
    """Config model of a component that takes no settings."""

    model_config = ConfigDict(extra="forbid")


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
    """What a running component may use: its name, asset, bus access, state, log and clock."""

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
    ) -> None:
        self.name = name
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
        self._tasks: set[asyncio.Task] = set()

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
        """Publish one sample batch for ``asset`` with the next sequence number of this source."""
        path = self.asset_path(asset)
        key = path.tokens
        seq = self._next_seq(path)
        batch = SampleBatch(
            asset=str(path), ts=ts or self.clock.now(), seq=seq, source=self.name, points=points
        )
        # Msg id = source+asset+seq: a retry after reconnect is de-duplicated by the stream.
        await self.bus.publish(
            subjects.data_subject(path), codec.encode(batch), msg_id=f"{self.name}:{key}:{seq}"
        )
        self._remember_last(path, id(points), batch)
        return batch

    def _next_seq(self, path: subjects.AssetPath) -> int:
        seq = self._seq.get(path.tokens, 0)
        self._seq[path.tokens] = seq + 1
        return seq

    def sample_writer(
        self, points: list[tuple[str, str | None]], asset: str | subjects.AssetPath | None = None
    ) -> SampleWriter:
        """A fast publisher for a fixed list of ``(semantic name, unit)`` points (adapters' hot path)."""
        return SampleWriter(self, self.asset_path(asset), points)

    async def publish_samples_json(
        self,
        points_json: str,
        *,
        asset: str | subjects.AssetPath | None = None,
        ts: datetime | None = None,
    ) -> int:
        """Publish a sample batch whose ``points`` array is already JSON text; returns its seq.

        The hot path of adapters polling thousands of points: building one pydantic
        :class:`Point` per value costs several µs, more than the whole poll. The caller
        guarantees the Point rules (a ``bad`` point carries no value, a non-good one a
        reason); the wire form, sequence numbers and de-duplication id are those of
        :meth:`publish_samples`.
        """
        path = self.asset_path(asset)
        key = path.tokens
        seq = self._seq.get(key, 0)
        self._seq[key] = seq + 1
        ts = ts or self.clock.now()
        head = json.dumps(
            {
                "schema": "kit.samples/1",
                "asset": str(path),
                "ts": ts.isoformat(),
                "seq": seq,
                "source": self.name,
            }
        )
        data = f'{head[:-1]},"points":{points_json}}}'.encode()
        await self.bus.publish(subjects.data_subject(path), data, msg_id=f"{self.name}:{key}:{seq}")
        now = self.clock.monotonic()
        if now - self._last_flushed.get(path, -1e9) >= self._last_interval:
            # Parsed once per interval (not per batch, not through pydantic): stays cheap at 10k points.
            self._last_flushed[path] = now
            merged = self._last.setdefault(path, {})
            gw_ts = ts.isoformat()
            for p in json.loads(points_json):
                p["gw_ts"] = gw_ts
                merged[p["name"]] = p
            self._spawn(self._flush_last(path))
        return seq

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
        await self.bus.publish(subjects.kpi_subject(path, kpi), codec.encode(item))
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
        await self.bus.publish(subjects.event_subject(kind, path), codec.encode(ev))
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

    async def load_state(self, key: str = "state") -> Any | None:
        """Load JSON state saved by :meth:`save_state`, or ``None`` if there is none."""
        kv = await self.bus.kv(KV_STATE)
        try:
            entry = await kv.get(self._state_key(key))
        except Exception:  # nats raises KeyNotFoundError / KeyDeletedError
            return None
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
        for item in self._last_pending.pop(path, {}).values():
            batch = item if isinstance(item, SampleBatch) else item()
            for p in batch.points:
                merged[p.name] = p.model_dump(mode="json", exclude_none=True)
                merged[p.name]["gw_ts"] = batch.ts.isoformat()
        return merged

    async def _flush_last(self, path: subjects.AssetPath) -> None:
        # One KV put per asset per interval, not one per point: a 10k-point site stays cheap.
        try:
            self._merge_last(path)
            kv = await self.bus.kv(KV_LAST)
            await kv.put(path.tokens, json.dumps(self._last.get(path, {})).encode())
        except Exception as exc:
            self.log.debug("last-value update failed: %s", exc)


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
        with contextlib.suppress(Exception):
            await asyncio.shield(save())


class SampleWriter:
    """Publishes batches of a fixed point list with :class:`kit.fastpath.BatchEncoder`.

    ``await writer.publish(values)`` costs one string format and one publish per batch; a
    batch with any non-good point (pass ``qualities``) takes the fully validated path.
    """

    def __init__(
        self, ctx: ComponentContext, path: subjects.AssetPath, points: list[tuple[str, str | None]]
    ) -> None:
        from kit.fastpath import BatchEncoder

        self.ctx = ctx
        self.path = path
        self.encoder = BatchEncoder(points)
        self.subject = subjects.data_subject(path)
        self._asset = str(path)
        self._prefix = f"{ctx.name}:{path.tokens}:"

    async def publish(
        self,
        values: list[Any],
        qualities: list[tuple[Any, str | None]] | None = None,
        ts: datetime | None = None,
    ) -> int:
        """Publish one batch; returns its sequence number."""
        ctx = self.ctx
        ts = ts or ctx.clock.now()
        seq = ctx._next_seq(self.path)
        data = self.encoder.encode(self._asset, ts, seq, ctx.name, values, qualities)
        await ctx.bus.publish(self.subject, data, msg_id=self._prefix + str(seq))
        vals, quals = list(values), (list(qualities) if qualities else None)
        ctx._remember_last(
            self.path,
            id(self),
            lambda: self.encoder.batch(self._asset, ts, seq, ctx.name, vals, quals),
        )
        return seq


class Component:
    """Base of every component type. Subclass one of Adapter, Analytics, Sink, Source.

    Class attributes a subclass sets:
        name: registered type name, used by configs and recipes (``type: modbus``).
        kind: adapter, analytics, sink or source.
        Config: pydantic model of the instance config (``extra="forbid"`` recommended).
        summary: one line shown by ``kit plugins``.
    """

    name: ClassVar[str]
    kind: ClassVar[Kind]
    Config: ClassVar[type[BaseModel]] = EmptyConfig
    summary: ClassVar[str] = ""

    def __init__(self, config: BaseModel, ctx: ComponentContext) -> None:
        self.config = config
        self.ctx = ctx

    async def run(self) -> None:
        """Do the component's work until cancelled. Raising means "crashed": the supervisor
        restarts a fresh instance with backoff. Returning means "finished" (not restarted)."""
        raise NotImplementedError

    def metrics(self) -> dict[str, Any]:
        """Figures for health messages and ``kit status`` (counts, rates, last error)."""
        return {}


class Source(Component):
    """Produces sample batches without a device protocol (e.g. the synthetic source)."""

    kind: ClassVar[Kind] = "source"


class Adapter(Component):
    """Talks a device protocol and publishes sample batches; may execute guarded writes."""

    kind: ClassVar[Kind] = "adapter"
    #: Whether this adapter can write to devices (guarded by recipes, see docs/security).
    can_write: ClassVar[bool] = False

    @classmethod
    async def test_connection(cls, config: BaseModel) -> str:
        """Check that the device is reachable before anything is installed.

        Returns:
            A short description of what answered (identification if available).

        Raises:
            kit.errors.AdapterError: with a message a technician can act on.
        """
        return "not tested"


class Analytics(Component):
    """Consumes sample batches and publishes KPIs and events."""

    kind: ClassVar[Kind] = "analytics"


class Sink(Component):
    """Consumes bus data and stores or exports it (history, files, other systems)."""

    kind: ClassVar[Kind] = "sink"

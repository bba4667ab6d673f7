"""Connection to the NATS bus: connect with reconnect, provision streams and KV, publish.

One :class:`Bus` per process. Publishing goes through JetStream with asynchronous acks
(``publish_async``): the caller does not wait a round trip per message, yet every message
is acknowledged by the stream, and failures are counted, not silently dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import nats
import nats.js.api as js_api
import nats.js.errors as js_errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.kv import KeyValue

import kit.natscompat  # noqa: F401  (nats-py fix, see the module)
from kit import subjects
from kit.aio import wait_for
from kit.busconnect import connect_bounded
from kit.codec import MalformedMessage
from kit.errors import BusError
from kit.settings import RetentionSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

#: KV buckets of the bus contract.
KV_DEPLOYMENTS = "KIT_DEPLOYMENTS"
KV_LAST = "KIT_LAST"
KV_CONFIG = "KIT_CONFIG"
KV_STATE = "KIT_STATE"


@dataclass
class MalformedCounter:
    """Counts malformed messages per source subject and logs the first one of each source.

    Logging once per source keeps a misbehaving publisher at 1 kHz from flooding the log,
    while the count (exposed in health and ``kit status``) shows it is still happening.
    """

    counts: dict[str, int] = field(default_factory=dict)

    def record(self, source: str, error: Exception) -> None:
        """Count one malformed message from ``source``; log it if it is the first."""
        n = self.counts.get(source, 0) + 1
        self.counts[source] = n
        if n == 1:
            log.warning(
                "skipping malformed message on %s: %s (further ones are counted, not logged)",
                source,
                error,
            )

    @property
    def total(self) -> int:
        """All malformed messages seen so far."""
        return sum(self.counts.values())


def stream_configs(r: RetentionSettings) -> list[js_api.StreamConfig]:
    """The three streams of the bus contract with the site's retention limits."""

    def cfg(
        name: str, subj: str, max_age_h: float, max_bytes: int, memory: bool = False
    ) -> js_api.StreamConfig:
        return js_api.StreamConfig(
            name=name,
            subjects=[subj],
            retention=js_api.RetentionPolicy.LIMITS,
            storage=js_api.StorageType.MEMORY if memory else js_api.StorageType.FILE,
            discard=js_api.DiscardPolicy.OLD,
            max_age=max_age_h * 3600,
            max_bytes=max_bytes,
            # Duplicate window lets a producer retry after a reconnect without doubling data.
            duplicate_window=120,
            # S2 on disk (docs/sizing.md); a memory stream is never compressed.
            compression=js_api.StoreCompression.S2
            if r.compression == "s2" and not memory
            else js_api.StoreCompression.NONE,
        )

    in_memory = r.data_in_memory
    return [
        cfg(
            subjects.STREAM_DATA,
            f"{subjects.STORE_DATA_PREFIX if r.split_data else subjects.DATA_PREFIX}.>",
            r.data_max_age_hours,
            r.data_memory_max_bytes if in_memory else r.data_max_bytes,
            memory=in_memory,
        ),
        cfg(subjects.STREAM_KPI, f"{subjects.KPI_PREFIX}.>", r.kpi_max_age_hours, r.kpi_max_bytes),
        cfg(
            subjects.STREAM_EVENTS,
            f"{subjects.EVENT_PREFIX}.>",
            r.events_max_age_hours,
            r.events_max_bytes,
        ),
    ]


def kv_configs() -> list[js_api.KeyValueConfig]:
    """The KV buckets of the bus contract."""
    return [
        js_api.KeyValueConfig(
            bucket=KV_DEPLOYMENTS, history=10, description="installed recipes and their state"
        ),
        js_api.KeyValueConfig(
            bucket=KV_LAST,
            history=1,
            description="last value of every point, one key per asset",
            # A cache rewritten every second by each adapter: on disk it wrote more than
            # KIT_DATA itself (issue 20). In memory it is rebuilt within a poll after a restart.
            storage=js_api.StorageType.MEMORY,
        ),
        js_api.KeyValueConfig(bucket=KV_CONFIG, history=5, description="site configuration"),
        js_api.KeyValueConfig(
            bucket=KV_STATE, history=3, description="persistent state of component instances"
        ),
    ]


def _differs(have: js_api.StreamConfig, want: js_api.StreamConfig) -> bool:
    """Whether a stream's stored config differs from ours in anything provisioning sets."""
    keys = ("subjects", "max_age", "max_bytes", "discard", "duplicate_window", "compression")
    for k in keys:
        a, b = getattr(have, k), getattr(want, k)
        if k == "compression":
            a, b = a or js_api.StoreCompression.NONE, b or js_api.StoreCompression.NONE
        if isinstance(a, float) or isinstance(b, float):
            if abs(float(a or 0) - float(b or 0)) > 1e-6:
                return True
        elif a != b:
            return True
    return False


class AckWindow:
    """JetStream publishing with asynchronous acks and a bounded window of unacked messages.

    Lighter than nats-py's ``publish_async`` (no future and no wait_for task per message):
    each message carries a reply subject ``<inbox>.<n>``; one wildcard subscription counts
    the acks. Unacknowledged messages are kept (up to ``max_pending``) and published again
    after a reconnect; their ``Nats-Msg-Id`` lets the stream drop the ones it already had.
    When the window is full, ``publish`` waits — back-pressure instead of unbounded memory.
    """

    def __init__(self, nc: NATS, max_pending: int) -> None:
        self.nc = nc
        self.max_pending = max_pending
        self.inbox = nc.new_inbox()
        self.unacked: dict[bytes, tuple[str, bytes, dict[str, str] | None]] = {}
        self.failures = 0
        self.resent = 0
        self.duplicates: dict[str, int] = {}
        """Messages the stream dropped as duplicates of a stored ``Nats-Msg-Id``, per source."""
        self._n = 0
        self._space = asyncio.Event()
        self._space.set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._sub: Any = None

    async def start(self) -> None:
        """Subscribe to the ack inbox."""
        self._sub = await self.nc.subscribe(f"{self.inbox}.*", cb=self._on_ack)

    async def _on_ack(self, msg: Msg) -> None:
        token = msg.subject.rpartition(".")[2].encode()
        entry = self.unacked.pop(token, None)
        if entry is None:
            return
        if not msg.data.startswith(b'{"stream"'):
            self.failures += 1
            if self.failures == 1:
                log.warning("JetStream refused a message on %s: %s", entry[0], msg.data[:200])
        elif b'"duplicate"' in msg.data:  # the server writes `"duplicate": true`
            # The stream already had this Nats-Msg-Id: fine for a resend after a reconnect,
            # data loss if a new message reused an old id. Counted per source, never silent.
            msg_id = (entry[2] or {}).get("Nats-Msg-Id", "")
            source = msg_id.partition(":")[0] or entry[0]
            self.duplicates[source] = self.duplicates.get(source, 0) + 1
        if len(self.unacked) < self.max_pending:
            self._space.set()
        if not self.unacked:
            self._idle.set()

    async def publish(self, subject: str, data: bytes, headers: dict[str, str] | None) -> None:
        """Publish with a reply inbox; waits only while the window is full."""
        while len(self.unacked) >= self.max_pending:
            self._space.clear()
            await self._space.wait()
        self._n += 1
        token = str(self._n).encode()
        self.unacked[token] = (subject, data, headers)
        self._idle.clear()
        await self.nc.publish(subject, data, reply=f"{self.inbox}.{self._n}", headers=headers)

    async def resend(self) -> None:
        """Publish every unacknowledged message again (after a reconnect)."""
        for token, (subject, data, headers) in list(self.unacked.items()):
            self.resent += 1
            await self.nc.publish(
                subject, data, reply=f"{self.inbox}.{token.decode()}", headers=headers
            )

    async def wait_idle(self) -> None:
        """Wait until every published message is acknowledged."""
        await self._idle.wait()


class Bus:
    """A connected NATS client with JetStream, the kit's streams and its KV buckets."""

    def __init__(
        self, nc: NATS, js: JetStreamContext, url: str, max_pending_acks: int = 4000
    ) -> None:
        self.nc = nc
        self.js = js
        self.url = url
        self.malformed = MalformedCounter()
        self._kv: dict[str, KeyValue] = {}
        self.acks = AckWindow(nc, max_pending_acks)
        self.outages = 0
        """Times the connection was lost after it was up."""
        self.disconnected_since: float | None = None
        """``time.monotonic()`` when the current outage began (None while connected)."""
        self.reconnected_at: float | None = None
        """``time.monotonic()`` of the last reconnect."""
        self._connected = asyncio.Event()
        self._connected.set()

    def _mark_disconnected(self) -> None:
        if self.disconnected_since is None:
            self.outages += 1
            self.disconnected_since = time.monotonic()
        self._connected.clear()

    def _mark_connected(self) -> None:
        self.disconnected_since = None
        self.reconnected_at = time.monotonic()
        self._connected.set()

    @property
    def connected(self) -> bool:
        """True while the connection is up."""
        return self.nc.is_connected

    def recent_outage(self, grace_s: float) -> bool:
        """True while disconnected, or within ``grace_s`` seconds after a reconnect (an
        error that surfaces then — a KV request timed out — was caused by the outage)."""
        if self.disconnected_since is not None or not self.nc.is_connected:
            return True
        return self.reconnected_at is not None and time.monotonic() - self.reconnected_at < grace_s

    async def wait_connected(self) -> None:
        """Return once the connection is up (at once if it is)."""
        while not self.nc.is_connected:
            if self.nc.is_closed:
                raise BusError("the bus connection was closed")
            self._connected.clear()
            await self._connected.wait()

    @property
    def publish_failures(self) -> int:
        """Messages the stream refused (e.g. no stream for the subject)."""
        return self.acks.failures

    @property
    def duplicates_dropped(self) -> int:
        """Messages the stream acknowledged as duplicates (not stored again)."""
        return sum(self.acks.duplicates.values())

    @classmethod
    async def connect(
        cls,
        url: str,
        name: str = "kit",
        *,
        connect_timeout: float = 5.0,
        max_pending_acks: int = 4000,
        on_error: Callable[[Exception], Awaitable[None]] | None = None,
        **options: Any,
    ) -> Bus:
        """Connect to ``url`` (a comma-separated list for a cluster) with endless reconnect.

        Reconnects back off with jitter so a fleet of gateways does not hammer a restarting
        server at the same instant.

        Raises:
            BusError: if no server answers within ``connect_timeout``.
        """
        servers = [u.strip() for u in url.split(",") if u.strip()]
        holder: list[Bus] = []

        async def _err(e: Exception) -> None:
            log.debug("nats: %s", e)
            if (
                on_error is not None
            ):  # e.g. permission violations, counted per component (kit.trust)
                await on_error(e)

        from kit.trust.busauth import default_client_options

        # A kit embedded server requires credentials: tools that bring none (TUI, benches)
        # get the local ones, and only for that server (kit.trust.busauth).
        options = {**default_client_options(url, options), **options}
        user_reconnected = options.pop("reconnected_cb", None)
        user_disconnected = options.pop("disconnected_cb", None)

        async def _reconnected() -> None:
            log.info(
                "reconnected to NATS at %s",
                # nats-py types connected_url Optional; it is set whenever this callback runs.
                holder[0].nc.connected_url.netloc if holder else url,  # type: ignore[union-attr]
            )
            if holder:
                await holder[0].acks.resend()
            if holder:
                holder[0]._mark_connected()
            if user_reconnected is not None:  # callers (e.g. the TUI) may watch reconnects too
                await user_reconnected()

        async def _disconnected() -> None:
            # nats-py also calls this for each failed *first* attempt; only a lost
            # connection is an outage (the first connect reports its own failure).
            if not holder:
                return
            holder[0]._mark_disconnected()
            if user_disconnected is not None:
                await user_disconnected()

        nc = await connect_bounded(
            servers,
            url=url,
            connect_timeout=connect_timeout,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            error_cb=_err,
            reconnected_cb=_reconnected,
            disconnected_cb=_disconnected,
            name=name,
            **options,
        )
        js = nc.jetstream(publish_async_max_pending=max_pending_acks)
        bus = cls(nc, js, url, max_pending_acks)
        await bus.acks.start()
        holder.append(bus)
        return bus

    async def provision(self, retention: RetentionSettings) -> None:
        """Create or update the streams and KV buckets. Idempotent: safe on every start.

        All in parallel, and only what differs is changed: an unchanged site costs one
        ``STREAM.INFO`` per stream and bucket (start-up time, docs/sizing.md).
        """
        await asyncio.gather(
            *(self._provision_stream(c) for c in stream_configs(retention)),
            *(self._provision_kv(k) for k in kv_configs()),
        )

    async def _provision_stream(self, cfg: js_api.StreamConfig) -> None:
        assert cfg.name is not None  # stream_configs() names every stream
        try:
            info = await self.js.stream_info(cfg.name)
        except js_errors.NotFoundError:
            await self.js.add_stream(cfg)
            return
        have = info.config
        if have.storage != cfg.storage:
            # The server cannot move a stream between file and memory: the site changed
            # retention.data_storage, and that setting says what the stored data is worth.
            log.warning(
                "stream %s: storage changed from %s to %s; recreating it (its %d stored "
                "messages are dropped)",
                cfg.name,
                getattr(have.storage, "value", have.storage),
                cfg.storage.value if cfg.storage else None,
                info.state.messages,
            )
            await self.js.delete_stream(cfg.name)
            await self.js.add_stream(cfg)
        elif _differs(have, cfg):
            # Exists with other limits (site changed retention): update in place.
            await self.js.update_stream(cfg)

    async def _provision_kv(self, kv: js_api.KeyValueConfig) -> None:
        stream = f"KV_{kv.bucket}"
        try:
            info = await self.js.stream_info(stream)
        except js_errors.NotFoundError:
            self._kv[kv.bucket] = await self.js.create_key_value(kv)
            return
        if kv.storage is not None and info.config.storage != kv.storage:
            # Only KIT_LAST (a cache of last values) ever moves: rebuilt by the next poll.
            await self.js.delete_stream(stream)
            self._kv[kv.bucket] = await self.js.create_key_value(kv)
            return
        self._kv[kv.bucket] = await self.js.key_value(kv.bucket)

    async def kv(self, bucket: str) -> KeyValue:
        """The KV bucket ``bucket`` (looked up once, then cached)."""
        if bucket not in self._kv:
            self._kv[bucket] = await self.js.key_value(bucket)
        return self._kv[bucket]

    async def publish(self, subject: str, data: bytes, *, msg_id: str | None = None) -> None:
        """Publish to a stream subject with an asynchronous ack; failures are counted.

        Waits only when more than ``max_pending_acks`` are unacknowledged (back-pressure),
        never for the round trip of this message.
        """
        await self.acks.publish(subject, data, {"Nats-Msg-Id": msg_id} if msg_id else None)

    async def publish_core(self, subject: str, data: bytes) -> None:
        """Plain NATS publish, for subjects no stream captures (health, heartbeat)."""
        await self.nc.publish(subject, data)

    async def subscribe(
        self,
        subject: str,
        decode: Callable[[bytes], T],
        handler: Callable[[T, Msg], Awaitable[None]],
        *,
        queue: str = "",
    ) -> Any:
        """Subscribe to a core subject, decoding each message; malformed ones are counted and skipped."""

        async def _cb(msg: Msg) -> None:
            try:
                item = decode(msg.data)
            except MalformedMessage as exc:
                self.malformed.record(msg.subject, exc)
                return
            await handler(item, msg)

        sub = await self.nc.subscribe(subject, queue=queue, cb=_cb)
        await self.sync_subscriptions()
        return sub

    async def sync_subscriptions(self, timeout: float = 2.0) -> None:
        """Return once the server holds every subscription made so far on this connection.

        A core subscription gets nothing published before the server has its SUB, so a
        component that says "ready" (or a test or the certifier that then publishes from
        another connection) could lose the first messages. A PING/PONG round trip is the
        barrier, but nats-py's ``flush()`` writes its PING straight to the socket, ahead of
        commands still buffered for its flusher task (the SUBs just made): the first round
        trip lets the flusher write them, the second is ordered after them. While
        disconnected there is nothing to wait for: nats-py re-sends every SUB on reconnect.
        """
        if not self.nc.is_connected:
            return
        try:
            for _ in range(2):
                # nats-py annotates the timeout as int; it is seconds passed to wait_for.
                await self.nc.flush(timeout=max(0.1, timeout))  # type: ignore[arg-type]
        except (TimeoutError, nats.errors.Error) as exc:
            log.debug("subscriptions not confirmed by the server: %s", exc)

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until every pending publish is acknowledged (bounded by ``timeout``)."""
        try:
            await self.nc.flush(timeout=max(0.1, timeout))  # type: ignore[arg-type]
            await wait_for(self.acks.wait_idle(), timeout)
        except (TimeoutError, nats.errors.TimeoutError, nats.errors.ConnectionClosedError):
            log.warning("flush timed out with %d publishes unacknowledged", len(self.acks.unacked))

    async def request_json(self, subject: str, body: Any = None, timeout: float = 5.0) -> Any:
        """JSON request/reply helper used by the control API client."""
        msg = await self.nc.request(
            subject, json.dumps(body).encode() if body is not None else b"", timeout=timeout
        )
        return json.loads(msg.data) if msg.data else None

    async def close(self) -> None:
        """Flush, then drain and close the connection."""
        if self.nc.is_closed:
            return
        if self.nc.is_connected:
            await self.flush(timeout=2.0)
        try:
            await wait_for(self.nc.drain(), 3.0)
        except Exception:  # drain can fail if the server went away; closing is what matters
            await self.nc.close()

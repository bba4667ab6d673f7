"""The ``historian`` sink: KIT_DATA and KIT_KPI into Parquet, plus its endpoint and command.

Each stream is read by a JetStream *durable pull consumer* (it survives restarts: the
server remembers what was acknowledged). Messages are buffered, written as one commit
(:class:`kit_historian.storage.Store`) and only then acknowledged — with ack policy
"all", one acknowledgement covers the whole batch. A crash before the ack makes
JetStream deliver the batch again; rows at or below the store's high-water mark are
skipped, so nothing is lost and nothing is written twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import nats.js.api as js_api
import nats.js.errors as nats_errors
from pydantic import BaseModel, ConfigDict, Field

import kit
from kit import codec, subjects
from kit.codec import MalformedMessage
from kit.components import ComponentContext, Sink
from kit.errors import KitError
from kit.settings import default_data_dir

if TYPE_CHECKING:
    from kit_historian.storage import RetentionReport, RowBuffer, Store

log = logging.getLogger(__name__)
#: Schemas of compact batches seen (kit.compact), kept across restarts of the historian.
_SCHEMAS_FILE = "_schemas.json"
#: Seconds between size checks while running (age is checked at each day change).
_SIZE_CHECK_S = 300.0


def _loads(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError as exc:
        raise MalformedMessage(f"not JSON: {exc}") from None


_STREAMS = {
    "data": (subjects.STREAM_DATA, f"{subjects.DATA_PREFIX}.>"),
    "kpi": (subjects.STREAM_KPI, f"{subjects.KPI_PREFIX}.>"),
    "events": (subjects.STREAM_EVENTS, f"{subjects.EVENT_PREFIX}.>"),
}


def _all_streams() -> list[Literal["data", "kpi", "events"]]:
    """Default of ``streams``: raw samples, KPIs and events (typed for the field)."""
    return ["data", "kpi", "events"]


class HistorianConfig(BaseModel):
    """Where and how the historian writes."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    directory: Path | None = None
    """Root of the Parquet tree; default ``<data_dir>/history``."""
    streams: list[Literal["data", "kpi", "events"]] = Field(
        default_factory=_all_streams, min_length=1
    )
    """Which streams to keep: raw samples (``data``), KPIs (``kpi``), events (``events``)."""
    flush_rows: int = Field(50_000, ge=1, le=10_000_000)
    """Write as soon as this many rows are buffered."""
    flush_interval_s: float = Field(10.0, gt=0, le=3600)
    """…or when the oldest buffered row is this old. Bounds what a power cut can delay (never loses)."""
    fetch_batch: int = Field(1000, ge=1, le=100_000)
    """Messages pulled per request."""
    fetch_pause_s: float = Field(1.0, ge=0, le=60)
    """After a request that returned fewer than ``fetch_batch`` messages, wait this long before
    the next, so messages are pulled in groups: fewer server-side consumer-state writes on an
    SD card. 0 pulls continuously."""
    retention_days: int = Field(365, ge=1)
    """Day partitions older than this are deleted."""
    max_bytes: int | None = Field(4 * 1024**3, ge=1)
    """Size limit of the whole tree: beyond it the oldest raw-data days are deleted first,
    KPI and event days only when no finished raw-data day is left. ``null``: no limit."""
    compact: bool = True
    """Merge each finished day's part files into one file per asset (faster queries)."""
    own_asset_only: bool = False
    """Keep only the component's own asset (a recipe deployment that records one device,
    ``recipes/record-device.yaml``). Its Parquet tree then defaults to
    ``<data_dir>/history/assets/<component name>``, so it never shares a high-water mark
    with the site's historian."""

    def root(self, data_dir: Path | None = None) -> Path:
        """The resolved Parquet root: ``directory``, else ``<data_dir>/history`` (the
        runtime's data directory, ``ctx.data_dir``; the settings' default outside one)."""
        if self.directory is not None:
            return Path(self.directory)
        return Path(data_dir or default_data_dir()) / "history"

    def root_for(self, component: str, data_dir: Path | None = None) -> Path:
        """The Parquet root of the component named ``component`` (see ``own_asset_only``)."""
        if self.own_asset_only and self.directory is None:
            return self.root(data_dir) / "assets" / subjects.sanitize_token(component)
        return self.root(data_dir)


class Historian(Sink[HistorianConfig]):
    """Writes bus data and KPIs to Parquet partitioned by day and asset."""

    name: ClassVar[str] = "historian"
    summary: ClassVar[str] = (
        "history of samples and KPIs in Parquet (day/asset partitions), with queries"
    )
    Config: ClassVar[type[BaseModel]] = HistorianConfig

    def __init__(self, config: HistorianConfig, ctx: ComponentContext) -> None:
        super().__init__(config, ctx)
        self.root = config.root_for(ctx.name, ctx.data_dir)
        if config.own_asset_only and ctx.asset is None:
            raise KitError("own_asset_only needs a component with an asset (a recipe's)")
        self.stores: dict[str, Store] = {}
        self._last_batch: dict[str, tuple[Any, ...]] = {}
        self.counts = {
            "messages": 0,
            "rows": 0,
            "duplicates_skipped": 0,
            "duplicate_batches": 0,
            "malformed": 0,
            "flushes": 0,
            "compacted_files": 0,
            "retention_removed_days": 0,
            "retention_removed_bytes": 0,
            "bytes_on_disk": 0,
        }
        self.ready: set[str] = set()
        """Streams whose consumer is attached (tests and status wait for it)."""
        self._day: date | None = None
        self._schemas: Any = None
        """kit.compact.SchemaCache of compact batches read (saved in ``_schemas.json``)."""
        self._size_checked = 0.0

    async def run(self) -> None:
        """Recover the stores, then consume each configured stream until cancelled."""
        from kit_historian.storage import Store

        for kind in self.config.streams:
            store = Store(self.root, kind)
            await asyncio.to_thread(store.recover)
            self.stores[kind] = store
        await self._housekeeping()
        # A TaskGroup: if one stream's consumer fails, the other is cancelled and the
        # supervisor restarts the component as a whole.
        async with asyncio.TaskGroup() as tg:
            for kind in self.config.streams:
                tg.create_task(self._consume(kind))

    async def _consume(self, kind: str) -> None:
        cfg = self.config
        stream, subject = _STREAMS[kind]
        if cfg.own_asset_only and self.ctx.asset is not None:
            tokens = self.ctx.asset.tokens
            subject = {
                "data": subjects.data_subject(self.ctx.asset),
                "kpi": f"{subjects.KPI_PREFIX}.{tokens}.>",
                "events": f"{subjects.EVENT_PREFIX}.*.{tokens}",  # kit.event.<kind>.<asset>
            }[kind]
        if kind == "data":
            # KIT_DATA captures kit.store.data.> when it keeps a compact or sampled form
            # (retention.data_encoding / data_persistence, docs/bus.md): read what it holds.
            info = await self.ctx.bus.js.stream_info(stream)
            if any(
                s.startswith(subjects.STORE_DATA_PREFIX + ".") for s in info.config.subjects or []
            ):
                subject = subjects.STORE_DATA_PREFIX + subject[len(subjects.DATA_PREFIX) :]
        durable = f"historian-{subjects.sanitize_token(self.ctx.name)}-{kind}"
        consumer = js_api.ConsumerConfig(
            durable_name=durable,
            ack_policy=js_api.AckPolicy.ALL,
            deliver_policy=js_api.DeliverPolicy.ALL,
            # Nothing is acked until written, so the ack wait must cover a whole flush interval.
            ack_wait=max(30.0, cfg.flush_interval_s * 3),
            max_ack_pending=-1,
            filter_subject=subject,
        )
        js = self.ctx.bus.js
        try:
            have = await js.consumer_info(stream, durable)
            if have.config.filter_subject != subject:
                # The stored form changed (json ↔ compact/sampled): pull_subscribe would reuse
                # the durable with its old filter and see nothing; update the filter in place
                # (the consumer keeps its position).
                log.info("historian %s: %s consumer now reads %s", self.ctx.name, kind, subject)
                await js.add_consumer(stream, config=consumer)
        except nats_errors.NotFoundError:
            pass  # created by pull_subscribe below
        psub = await js.pull_subscribe(subject, durable=durable, stream=stream, config=consumer)
        from kit_historian.storage import RowBuffer

        store = self.stores[kind]
        buf, last_msg, last_seq, started = RowBuffer(), None, store.hwm, 0.0
        clock = self.ctx.clock
        self.ready.add(kind)
        try:
            while True:
                wait = cfg.flush_interval_s - (clock.monotonic() - started) if len(buf) else 1.0
                try:
                    msgs = await psub.fetch(cfg.fetch_batch, timeout=min(1.0, max(0.05, wait)))
                except TimeoutError:  # nats.errors.TimeoutError or asyncio's, by code path
                    msgs = []
                if 0 < len(msgs) < cfg.fetch_batch and cfg.fetch_pause_s > 0:
                    # A short batch: let the next ones gather instead of one delivery (and
                    # one consumer-state write on the server) per message (docs/sizing.md).
                    await clock.sleep(cfg.fetch_pause_s)  # pacing schedule, not a sync
                for m in msgs:
                    seq = m.metadata.sequence.stream
                    last_msg = m
                    if seq <= last_seq:
                        self.counts["duplicates_skipped"] += 1  # redelivery of what is on disk
                        continue
                    last_seq = seq
                    self.counts["messages"] += 1
                    if not len(buf):
                        started = clock.monotonic()
                    try:
                        if kind == "data":
                            obj = self._decode_data(m.data)
                            if self._republished(obj):
                                continue
                            self.counts["rows"] += buf.add_raw(obj, seq)
                        elif kind == "kpi":
                            self.counts["rows"] += buf.add_kpi(codec.decode_kpi(m.data), seq)
                        else:
                            self.counts["rows"] += buf.add_event(codec.decode_event(m.data), seq)
                    except MalformedMessage as exc:
                        self.counts["malformed"] += 1
                        self.ctx.bus.malformed.record(m.subject, exc)
                due = len(buf) >= cfg.flush_rows or (
                    len(buf) and clock.monotonic() - started >= cfg.flush_interval_s
                )
                # Flush when due; with an empty buffer (only duplicates or malformed messages
                # seen) just move the mark and acknowledge, so they are not delivered again.
                if last_msg is not None and (due or not len(buf)):
                    await self._flush(store, buf, last_seq, last_msg)
                    buf, last_msg = RowBuffer(), None
        finally:
            if last_msg is not None:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self._flush(store, buf, last_seq, last_msg))
            with contextlib.suppress(Exception):
                await psub.unsubscribe()

    def _decode_data(self, data: bytes) -> Any:
        """A stored batch as its JSON object: the bus's JSON or the compact form."""
        if data[:1] != b"\x00":
            return _loads(data)
        from kit.compact import CompactError, SchemaCache, decode

        if self._schemas is None:
            self._schemas = SchemaCache()
            with contextlib.suppress(OSError, ValueError):
                self._schemas.load(json.loads((self.root / _SCHEMAS_FILE).read_text()))
        try:
            n = len(self._schemas)
            obj = decode(data, self._schemas)
        except CompactError as exc:
            raise MalformedMessage(f"SampleBatch: {exc}") from None
        if len(self._schemas) != n:  # a new schema: keep it for after a restart
            self._save_schemas()
        return obj

    def _save_schemas(self) -> None:
        assert self._schemas is not None
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / (_SCHEMAS_FILE + ".tmp")
        tmp.write_text(json.dumps(self._schemas.export()))
        tmp.replace(self.root / _SCHEMAS_FILE)

    def _republished(self, obj: Any) -> bool:
        """True for a batch already stored under another stream sequence (same source, asset,
        seq and time: a producer's retry after the stream's 2-minute duplicate window).
        Late or out-of-order batches are kept: history accepts them in any order."""
        try:
            key, mark = f"{obj['source']}|{obj['asset']}", (obj["seq"], obj["ts"])
        except (KeyError, TypeError):
            return False  # malformed: add_raw reports it
        if self._last_batch.get(key) == mark:
            self.counts["duplicate_batches"] += 1
            return True
        self._last_batch[key] = mark
        return False

    async def _flush(self, store: Store, buf: RowBuffer, last_seq: int, last_msg: Any) -> None:
        if last_seq > store.hwm:
            first = buf.first_seq if buf.first_seq is not None else last_seq
            await asyncio.to_thread(store.write, buf, first, last_seq)
            self.counts["flushes"] += 1
        await (
            last_msg.ack()
        )  # after the commit: a crash before this line means redelivery, not loss
        await self._housekeeping()
        # The size limit can be crossed within a day: check it every few minutes, not per
        # flush (walking the tree costs a directory scan).
        now = self.ctx.clock.monotonic()
        if self.config.max_bytes is not None and now - self._size_checked >= _SIZE_CHECK_S:
            self._size_checked = now
            await self.enforce_retention()

    async def _housekeeping(self) -> None:
        from kit_historian.storage import utc_today

        today = utc_today(self.ctx.clock.now())
        if today == self._day:
            return
        self._day = today
        await self.enforce_retention(today)
        from kit_historian.compact import compact_in_child

        for store in self.stores.values():
            if self.config.compact:
                for day in store.days():
                    # polars merges the files in a child process: the runtime stays small.
                    if day < today and await asyncio.to_thread(store.needs_compaction, day):
                        self.counts["compacted_files"] += await compact_in_child(
                            store.root, store.kind, day
                        )

    async def enforce_retention(self, today: Any = None) -> RetentionReport:
        """Apply the age and size limits now (at start, at each day change and every
        ``_SIZE_CHECK_S`` while running); returns and counts what was removed."""
        from kit_historian.storage import enforce_retention, utc_today

        today = today or utc_today(self.ctx.clock.now())
        rep = await asyncio.to_thread(
            enforce_retention,
            list(self.stores.values()),
            today,
            self.config.retention_days,
            self.config.max_bytes,
        )
        self.counts["retention_removed_days"] += len(rep.days_removed)
        self.counts["retention_removed_bytes"] += rep.bytes_removed
        self.counts["bytes_on_disk"] = rep.bytes_after
        if rep.days_removed:
            log.info(
                "historian %s: retention removed %d day partition(s), %d bytes; %d bytes kept",
                self.ctx.name,
                len(rep.days_removed),
                rep.bytes_removed,
                rep.bytes_after,
            )
        return rep

    def metrics(self) -> dict[str, Any]:
        """Messages, rows and files written; duplicates and malformed messages skipped."""
        return {
            **self.counts,
            "directory": str(self.root),
            "hwm": {k: s.hwm for k, s in self.stores.items()},
            "files": sum(s.files_written for s in self.stores.values()),
        }


def find_historian(runtime: Any, name: str | None = None, asset: str | None = None) -> Any:
    """The supervisor instance of the named historian of ``runtime``; without a name, the
    first site-wide one, else one that records only ``asset`` (a record-device deployment).

    Raises:
        KitError: none is configured or running.
    """
    insts = [
        i
        for n, i in runtime.supervisor.instances.items()
        if i.type == Historian.name and (name is None or n == name)
    ]
    if name is None:
        insts = [i for i in insts if not i.config.own_asset_only] or [
            i for i in insts if asset is not None and str(i.asset) == str(asset)
        ]
    if not insts:
        raise KitError(
            f"no historian component {'named ' + repr(name) + ' ' if name else ''}is configured; "
            "add one (type: historian) to the site config or a recipe"
        )
    return insts[0]  # its config is usable even while the component restarts


@kit.hookimpl
def register_components(register: Any) -> None:
    """Register the historian sink."""
    register.add(Historian)


@kit.hookimpl
def register_endpoints(api: Any, runtime: Any) -> None:
    """``history.query`` (:class:`kit_historian.api.QueryRequest` →
    :class:`kit_historian.api.QueryReply`) and ``history.export`` (the same rows as a CSV or
    Excel file, for callers that save it where they run: the TUI, the web view)."""
    from kit_historian import api as hist_api

    def rows_of(req: hist_api.QueryRequest) -> tuple[Any, Any]:
        """The request's rows (polars, loaded on the first query, not at start: ~35 MiB
        resident) and a function giving the points' units. Runs in a worker thread."""
        from kit_historian.query import parse_time, query, units

        inst = find_historian(runtime, req.component, req.asset)
        root = inst.config.root_for(inst.name, runtime.settings.data_dir)
        start, end = parse_time(req.from_), parse_time(req.to)
        df = query(
            root,
            req.asset,
            req.points,
            start,
            end,
            every=req.every,
            agg=req.agg,
            window=req.window,
        )
        return df, lambda: units(root, req.asset, req.points, start, end)

    async def history_query(req: hist_api.QueryRequest) -> dict[str, Any]:
        def run() -> dict[str, Any]:
            from kit_historian.query import to_json

            df, units_of = rows_of(req)
            return {**to_json(df, req.limit), "units": units_of()}

        return await asyncio.to_thread(run)

    api.add(hist_api.QUERY, history_query)

    async def history_export(req: hist_api.ExportRequest) -> dict[str, Any]:
        # The same rows as history.query, written by the CLI's exporter (kit history export),
        # so a file saved from the TUI or the browser reads exactly like one from the CLI.
        import base64
        import tempfile
        from pathlib import Path

        from kit_historian.export import check_tz, export, local_tz_name

        tz = check_tz(req.tz) if req.tz else local_tz_name()

        def run() -> dict[str, Any]:
            df, units_of = rows_of(req)
            truncated = df.height > req.limit
            df = df.head(req.limit)
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"export.{req.format}"
                rows = export(df, units_of(), tz, req.format, path)
                data = path.read_bytes()
            if len(data) > hist_api.MAX_EXPORT_BYTES:
                raise KitError(
                    f"history.export: the file would be {len(data) / 1e6:.1f} MB (at most "
                    f"{hist_api.MAX_EXPORT_BYTES / 1e6:.0f} MB in one reply); narrow the time "
                    "range, use every (e.g. 1m), or run `kit history export` on the runtime's "
                    "machine"
                )
            stamp = df["ts"].min() if df.height else None
            name = req.asset.rsplit("/", 1)[-1]
            return {
                "filename": f"{name}-{stamp:%Y%m%d-%H%M}.{req.format}"
                if stamp
                else f"{name}.{req.format}",
                "data": base64.b64encode(data).decode(),
                "rows": rows,
                "tz": tz,
                "truncated": truncated,
            }

        return await asyncio.to_thread(run)

    api.add(hist_api.EXPORT, history_export)


@kit.hookimpl
def register_commands(cli: Any) -> None:
    """Add ``kit history``."""
    from kit_historian.cli import history

    cli.add_command(history)


__all__ = ["Historian", "HistorianConfig"]

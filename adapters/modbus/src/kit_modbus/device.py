"""One polled Modbus device: plan, read, decode, quality, backoff and circuit breaker.

:class:`DevicePoller` is transport-agnostic (it talks to a :class:`kit_modbus.line.Line`)
and bus-agnostic (it fills ``values``/``reasons`` arrays and renders them as JSON), so the
adapter component, ``kit probe`` and the benchmark share it.

Failure handling, per device:

* A timeout or lost connection ends the cycle at once (the device's other reads would only
  burn more timeouts on a shared line) and every point polled in that cycle is ``bad`` with
  the reason — never the previous value.
* After ``breaker_failures`` consecutive failed cycles the breaker *opens*: no request goes
  to the device until the next probe, spaced by exponential backoff with jitter. Neighbours
  on the same gateway or serial line keep their poll rate.
* An exception response (``modbus_exception_N``) marks only the points of that read bad;
  exception 02 teaches the planner (:func:`kit_modbus.planner.read_bisecting`). Gateway
  exceptions 0A/0B mean the device behind the gateway is unreachable: they count as a
  failed cycle like a timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kit.errors import AdapterError, DeviceRejected
from kit_modbus import codec
from kit_modbus.line import Line, reason_of
from kit_modbus.planner import BIT_TABLES, IllegalAddress, Item, Planner, Read, read_bisecting

#: Exception codes that say the device itself is unreachable (count like a timeout).
GATEWAY_CODES = {0x0A, 0x0B}


@dataclass
class PointSpec:
    """A profile point reduced to what polling needs."""

    name: str
    table: str
    address: int
    type: str = "uint16"
    byte_order: str = "ABCD"
    count: int = 1
    scale: float = 1.0
    offset: float = 0.0
    bit: int | None = None
    unit: str | None = None
    poll: str = "fast"
    range: tuple[float, float] | None = None
    writable: bool = False
    resolution: float | None = None
    invalid: dict[float, str] | None = None
    byte: str | None = None
    parts: int | None = None


def spec_from_profile_point(p: Any) -> PointSpec:
    """Build a :class:`PointSpec` from a validated ``kit_modbus.profile.ModbusPoint``."""
    return PointSpec(
        name=p.semantic,
        table=p.table,
        address=p.pdu_address,
        type=p.type or "uint16",
        byte_order=p.byte_order or "ABCD",
        count=p.count,
        scale=p.scale,
        offset=p.offset,
        bit=p.bit,
        unit=p.unit,
        poll=p.poll,
        range=tuple(p.range) if p.range else None,
        writable=p.access == "rw",
        resolution=getattr(p, "resolution", None),
        invalid=getattr(p, "invalid_raw", None),
        byte=getattr(p, "byte", None),
        parts=p.length if p.type == "version" else None,
    )


@dataclass
class DeviceStats:
    """Counters published as device health."""

    cycles: int = 0
    good_cycles: int = 0
    requests: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    last_good_read: datetime | None = None
    latency_ms: float | None = None
    skipped_cycles: int = 0
    """Cycles answered from the open breaker without touching the wire."""


class DevicePoller:
    """Reads one device's points through a line; see the module docstring.

    Args:
        specs: the points to poll.
        line: the (shared) line to the device.
        unit_id: Modbus unit / slave id.
        timeout_s: per-request timeout.
        max_registers, max_bits, max_gap: planner limits.
        breaker_failures: failed cycles before the breaker opens.
        backoff_initial_s, backoff_max_s: probe spacing while the breaker is open.
        name: device name for log lines.
        pipeline: send the next read before decoding the current one. Off by default: on
            loopback it measured neutral (±noise) and it costs a task per request; it may help
            devices with long answer times and many reads per cycle.
    """

    def __init__(
        self,
        specs: Sequence[PointSpec],
        line: Line,
        unit_id: int = 1,
        *,
        timeout_s: float = 1.0,
        max_registers: int = 125,
        max_bits: int = 2000,
        max_gap: int = 10,
        breaker_failures: int = 2,
        backoff_initial_s: float = 1.0,
        backoff_max_s: float = 30.0,
        name: str = "device",
        log: logging.Logger | None = None,
        pipeline: bool = False,
    ) -> None:
        self.specs = list(specs)
        self.line, self.unit_id, self.timeout_s = line, unit_id, timeout_s
        self.name = name
        self.log = log or logging.getLogger("kit.modbus")
        self.codecs = [
            codec.PointCodec(
                s.type,
                s.byte_order,
                scale=s.scale,
                offset=s.offset,
                bit=s.bit,
                count=s.count,
                resolution=s.resolution,
                invalid=s.invalid,
                byte=s.byte,
                parts=s.parts,
            )
            if s.table not in BIT_TABLES
            else None
            for s in self.specs
        ]
        items = [
            Item(
                k, s.table, s.address, 1 if s.table in BIT_TABLES else self.codecs[k].count, s.poll
            )  # type: ignore[union-attr]
            for k, s in enumerate(self.specs)
        ]
        self.planner = Planner(
            items, max_registers=max_registers, max_bits=max_bits, max_gap=max_gap
        )
        n = len(self.specs)
        self.values: list[Any] = [None] * n
        self.reasons: list[str | None] = ["not_read"] * n
        self._any_bad = True
        """False when no reason is set: then a good read need not clear reasons point by point."""
        self.breaker_failures = max(1, breaker_failures)
        self.backoff_initial_s, self.backoff_max_s = backoff_initial_s, backoff_max_s
        self.failures = 0
        self.down = False
        self.down_reason: str | None = None
        self.next_probe = 0.0
        self.probe_times: list[float] = []
        """Monotonic times of requests sent while the breaker was open (tests check spacing)."""
        self.stats = DeviceStats()
        # Known to the line as up: the line drops its connection only when ALL its devices are down.
        line.down.setdefault(unit_id, False)
        self.pipeline = pipeline
        self.cycle_json: str | None = None
        """JSON array of the points of the last successful :meth:`poll` (rendered read by read)."""
        self.polls = sorted({s.poll for s in self.specs}) or ["fast"]
        # JSON prefixes per point, rendered once (hot path: one join per batch).
        self._good_prefix = []
        self._bad_prefix = []
        for s in self.specs:
            head = (
                '{"name":'
                + json.dumps(s.name)
                + ((',"unit":' + json.dumps(s.unit, ensure_ascii=False)) if s.unit else "")
            )
            # quality is omitted for good points: "good" is the contract's default (docs/bus.md),
            # and it is a quarter of the bytes of a 10,000-point batch.
            self._good_prefix.append(head + ',"value":')
            self._bad_prefix.append(head + ',"quality":"bad","reason":')
        self._string_keys = {k for k, s in enumerate(self.specs) if s.type in ("string", "version")}
        self._by_poll = {
            p: [k for k, s in enumerate(self.specs) if s.poll == p] for p in self.polls
        }

    @property
    def breaker_open(self) -> bool:
        """True while requests to the device are suspended."""
        return self.failures >= self.breaker_failures

    def keys_for(self, polls: Iterable[str]) -> list[int]:
        """Point indexes of the given poll classes."""
        out: list[int] = []
        for p in polls:
            out.extend(self._by_poll.get(p, ()))
        return out

    async def _read(self, r: Read) -> Sequence[int] | Sequence[bool]:
        self.stats.requests += 1
        try:
            return await self.line.request(
                self.unit_id, r.function_code, r.start, r.count, timeout=self.timeout_s
            )
        except DeviceRejected as exc:
            if exc.code == 2:
                raise IllegalAddress() from None
            raise

    def _mark(self, keys: Iterable[int], reason: str) -> None:
        self._any_bad = True
        values, reasons = self.values, self.reasons
        for k in keys:
            values[k] = None
            reasons[k] = reason

    def _store(self, r: Read, data: Sequence[int] | Sequence[bool]) -> str | None:
        """Decode a read into values/reasons; returns its JSON fragment when rendered on the fly."""
        values, reasons = self.values, self.reasons
        if r.table in BIT_TABLES:
            for key, off in r.members:
                values[key] = bool(data[off])
                reasons[key] = None
            return
        dec = r.decoder
        if dec is None:
            members = sorted(r.members, key=lambda m: m[1])
            r.members = members
            r.keys = [k for k, _ in members]
            r.decoder = dec = (
                codec.BlockDecoder.build(r.count, [(off, self.codecs[k]) for k, off in members])
                or False
            )  # type: ignore[misc]
        if dec:
            vals, nan = dec.decode(data)
            keys = r.keys
            assert keys is not None
            for k, v in zip(keys, vals):
                values[k] = v
            if self._any_bad:
                for k in keys:
                    reasons[k] = None
            if not nan:
                # All good and numeric: ONE C-level %-format renders the read's JSON (repr of
                # an int or a finite float is its JSON form).
                if r.template is None:
                    r.template = ",".join(
                        self._good_prefix[k].replace("%", "%%") + "%r}" for k in keys
                    )
                return r.template % tuple(vals)
            for i, why in nan:
                # NaN/inf registers mean "not available" on most meters, sentinels (0x7FFFFFFF)
                # what the profile declares: never a good value.
                values[keys[i]] = None
                reasons[keys[i]] = why
                self._any_bad = True
            return None
        be_buf, le_buf = codec.buffers(data)
        codecs = self.codecs
        isfinite = math.isfinite
        for key, off in r.members:
            v = codecs[key].decode_at(be_buf, le_buf, off)  # type: ignore[union-attr]
            if v.__class__ is float and not isfinite(v):
                values[key] = None
                reasons[key] = "not_a_number"
                self._any_bad = True
            elif v.__class__ is codec.Invalid:
                values[key] = None
                reasons[key] = v.reason
                self._any_bad = True
            else:
                values[key] = v
                reasons[key] = None

    async def poll(self, polls: Iterable[str] | None = None) -> bool:
        """Read the points of ``polls`` (default: all classes). Returns True if the device answered."""
        polls = list(polls or self.polls)
        keys = self.keys_for(polls)
        now = time.monotonic()
        self.stats.cycles += 1
        if self.breaker_open and now < self.next_probe:
            self.stats.skipped_cycles += 1
            self._mark(keys, self.down_reason or "comm_lost")
            return False
        if self.breaker_open:
            self.probe_times.append(now)
        reads = self.planner.reads_for(polls)
        t0 = time.perf_counter()
        frags: list[str] = []
        pending: asyncio.Future | None = None
        self.cycle_json = None
        try:
            if reads and self.pipeline:
                pending = asyncio.ensure_future(self._read(reads[0]))
            for i, r in enumerate(reads):
                fut, pending = pending, None
                illegal: list[int] = []
                try:
                    ok = [(r, await (fut if fut is not None else self._read(r)))]
                except IllegalAddress:
                    ok, illegal = await read_bisecting(self.planner, r, self._read)
                except DeviceRejected as exc:
                    if exc.code in GATEWAY_CODES:
                        raise
                    ok = []
                    self._count(f"modbus_exception_{exc.code}")
                    self._mark((k for k, _ in r.members), f"modbus_exception_{exc.code}")
                    frags.append(self._render([k for k, _ in r.members]))
                if self.pipeline and i + 1 < len(reads):
                    # Pipelining: the next request goes out now (one sleep(0) lets its task send
                    # it), and this read is decoded and rendered while the device answers.
                    pending = asyncio.ensure_future(self._read(reads[i + 1]))
                    await asyncio.sleep(0)
                for rr, data in ok:
                    frag = self._store(rr, data)
                    frags.append(
                        frag if frag is not None else self._render([k for k, _ in rr.members])
                    )
                if illegal:
                    self._count("modbus_exception_2", len(illegal))
                    self.log.warning(
                        "%s: device refuses %s with exception 02 (illegal data address); "
                        "marked bad, check the profile's addresses",
                        self.name,
                        ", ".join(self.specs[k].name for k in illegal),
                    )
            # Points learned illegal earlier are no longer in any read but still reported.
            wanted = set(polls)
            gone = [k for k in self.planner.illegal if self.specs[k].poll in wanted]
            for k in gone:
                self.values[k] = None
                self.reasons[k] = "modbus_exception_2"
            if gone:
                self._any_bad = True
                frags.append(self._render(gone))
        except AdapterError as exc:
            self._failed(exc, keys)
            return False
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
        self.cycle_json = "[" + ",".join(f for f in frags if f) + "]"
        self._any_bad = self.reasons.count(None) != len(self.reasons)  # C-speed scan
        self.stats.latency_ms = (time.perf_counter() - t0) * 1000
        self.stats.good_cycles += 1
        self.stats.last_good_read = datetime.now(UTC)
        if self.down:
            self.log.warning(
                "%s: device recovered after %d failed cycle(s)", self.name, self.failures
            )
            self.line.set_device_down(self.unit_id, False)
        self.down, self.down_reason, self.failures = False, None, 0
        return True

    def _count(self, reason: str, n: int = 1) -> None:
        self.stats.errors[reason] = self.stats.errors.get(reason, 0) + n

    def _failed(self, exc: AdapterError, keys: list[int]) -> None:
        reason = reason_of(exc)
        self._count(reason)
        self._mark(keys, reason)
        self.failures += 1
        if not self.down:
            # One line when the device goes down (and one when it recovers), not one per poll.
            self.log.warning("%s: device down (%s): %s", self.name, reason, exc)
        self.down, self.down_reason = True, reason
        if self.breaker_open:
            delay = min(
                self.backoff_max_s,
                self.backoff_initial_s * 2 ** (self.failures - self.breaker_failures),
            )
            self.next_probe = time.monotonic() + delay * random.uniform(0.75, 1.0)
            self.line.set_device_down(self.unit_id, True)

    def points_json(self, keys: Sequence[int]) -> str:
        """The points ``keys`` as the JSON array of a sample batch (bad → reason, no value)."""
        return "[" + self._render(keys) + "]"

    def _render(self, keys: Sequence[int]) -> str:
        """The points ``keys`` as JSON objects separated by commas (no brackets)."""
        if not keys:
            return ""
        values, reasons, good, bad = self.values, self.reasons, self._good_prefix, self._bad_prefix
        # One C-level json.dumps for all values, split back per value: several times faster
        # than formatting each value in Python. Strings (which may contain commas) are
        # rendered separately.
        strings = self._string_keys
        if strings:
            parts = json.dumps(
                [0 if k in strings else values[k] for k in keys], separators=(",", ":")
            )[1:-1].split(",")
            for i, k in enumerate(keys):
                if k in strings:
                    parts[i] = json.dumps(values[k], ensure_ascii=False)
        else:
            parts = json.dumps([values[k] for k in keys], separators=(",", ":"))[1:-1].split(",")
        if self._any_bad:
            items = [
                good[k] + v + "}" if reasons[k] is None else bad[k] + '"' + reasons[k] + '"}'  # type: ignore[operator]
                for k, v in zip(keys, parts)
            ]
        else:
            items = [good[k] + v + "}" for k, v in zip(keys, parts)]
        return ",".join(items)

    def health(self) -> dict[str, Any]:
        """Device health metrics (connected, last good read, latency, error counts)."""
        s = self.stats
        return {
            "connected": not self.down,
            "unit_id": self.unit_id,
            "endpoint": self.line.key.endpoint,
            "last_good_read": s.last_good_read.isoformat() if s.last_good_read else None,
            "latency_ms": round(s.latency_ms, 3) if s.latency_ms is not None else None,
            "cycles": s.cycles,
            "good_cycles": s.good_cycles,
            "requests": s.requests,
            "errors": dict(s.errors),
            "breaker_open": self.breaker_open,
            "down_reason": self.down_reason,
            "reads_per_cycle": len(self.planner.reads),
            "points": len(self.specs),
            "illegal_points": sorted(self.specs[k].name for k in self.planner.illegal),
            "connect_attempts": self.line.connect_attempts,
        }

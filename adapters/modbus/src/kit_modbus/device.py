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
  exception 02 teaches the planner (:func:`kit_modbus.planner.read_learning`), and so does
  exception 03 on a multi-point read ("request too long": the request size is halved until
  reads succeed; the limit is remembered for the device on its line for the life of the
  process, shown in health as ``learned_limits`` and logged once with the profile setting to
  change). Gateway
  exceptions 0A/0B mean the device behind the gateway is unreachable: they count as a
  failed cycle like a timeout.
* A malformed reply (wrong function code, short or inconsistent byte count, undecodable frame)
  marks the points of that read bad with ``malformed_reply`` — never a crash of the poller;
  it is logged once when it starts and once when the device answers properly again.
* While the breaker is open, a probe waits for the line's own reconnect schedule instead of
  being spent on it: recovery after a device returns takes at most the backoff cap plus one
  poll interval (two independent schedules used to add up).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kit.backoff import backoff_delay
from kit.errors import AdapterError, DeviceRejected
from kit_modbus import codec
from kit_modbus.line import Line, MalformedReply, reason_of
from kit_modbus.planner import (
    BIT_TABLES,
    IllegalAddress,
    Item,
    Outcome,
    Planner,
    Read,
    RequestRefused,
    read_learning,
)

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
                k,
                s.table,
                s.address,
                1 if s.table in BIT_TABLES else self.codecs[k].count,  # type: ignore[union-attr]
                s.poll,
            )
            for k, s in enumerate(self.specs)
        ]
        self.planner = Planner(
            items, max_registers=max_registers, max_bits=max_bits, max_gap=max_gap
        )
        # Limits this device taught an earlier poller in this process (component restart).
        known = line.learned.setdefault(unit_id, {})
        replan = False
        if "max_registers_per_read" in known:
            replan |= self.planner.learn_limit("holding", known["max_registers_per_read"])
        if "max_bits_per_read" in known:
            replan |= self.planner.learn_limit("coil", known["max_bits_per_read"])
        if replan:
            self.planner.replan()
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
        self.malformed = False
        """True while the device answers some reads with malformed frames (logged on change)."""
        self.polls = sorted({s.poll for s in self.specs}) or ["fast"]
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
            if exc.code == 3:
                raise RequestRefused(exc) from None
            raise

    def _learned(self, got: Outcome) -> None:
        """Remember and report a request limit learned from exception 03."""
        self.line.learned.setdefault(self.unit_id, {}).update(self.planner.learned)
        setting = ", ".join(f"{k}: {v}" for k, v in sorted(self.planner.learned.items()))
        self.log.warning(
            "%s: device refuses reads of %s with exception 03 (illegal data value); reading at "
            "most %s per request from now on — set connection.%s in the profile",
            self.name,
            got.refused_size,
            got.limit,
            setting,
        )

    def _mark(self, keys: Iterable[int], reason: str) -> None:
        self._any_bad = True
        values, reasons = self.values, self.reasons
        for k in keys:
            values[k] = None
            reasons[k] = reason

    def _store(self, r: Read, data: Sequence[int] | Sequence[bool]) -> None:
        """Decode a read into values/reasons (the component encodes them: kit.fastpath)."""
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
                # Block members are register points: their codec is never None.
                codec.BlockDecoder.build(r.count, [(off, self.codecs[k]) for k, off in members])  # type: ignore[misc]
                or False
            )
        if dec:
            vals, nan = dec.decode(data)
            keys = r.keys
            assert keys is not None
            for k, v in zip(keys, vals):
                values[k] = v
            if self._any_bad:
                for k in keys:
                    reasons[k] = None
            for i, why in nan:
                # NaN/inf registers mean "not available" on most meters, sentinels (0x7FFFFFFF)
                # what the profile declares: never a good value.
                values[keys[i]] = None
                reasons[keys[i]] = why
                self._any_bad = True
            return
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
        if self.breaker_open and now >= self.next_probe:
            # The line keeps its own reconnect schedule; a probe sent before it is due would be
            # refused without touching the wire and cost a whole breaker backoff step. Wait for
            # the line instead (both schedules are capped, so recovery ≤ cap + one poll).
            due = self.line.connect_due_at()
            if due > now:
                self.next_probe = due
        if self.breaker_open and now < self.next_probe:
            self.stats.skipped_cycles += 1
            self._mark(keys, self.down_reason or "comm_lost")
            return False
        if self.breaker_open:
            self.probe_times.append(now)
        reads = self.planner.reads_for(polls)
        t0 = time.perf_counter()
        pending: asyncio.Future[Any] | None = None
        malformed: list[str] = []
        try:
            if reads and self.pipeline:
                pending = asyncio.ensure_future(self._read(reads[0]))
            for i, r in enumerate(reads):
                fut, pending = pending, None
                illegal: list[int] = []
                refused: list[int] = []
                try:
                    try:
                        ok = [(r, await (fut if fut is not None else self._read(r)))]
                    except (IllegalAddress, RequestRefused):
                        got = await read_learning(self.planner, r, self._read)
                        ok, illegal, refused = got.ok, got.illegal, got.refused
                        if got.limit is not None:
                            self._learned(got)
                except DeviceRejected as exc:
                    if exc.code in GATEWAY_CODES:
                        raise
                    ok = []
                    self._count(f"modbus_exception_{exc.code}")
                    self._mark((k for k, _ in r.members), f"modbus_exception_{exc.code}")
                except MalformedReply as exc:
                    # The device answered, badly: this read's points are bad, the others may
                    # still be fine (and the device is not "down").
                    ok = []
                    malformed.append(str(exc))
                    self._count("malformed_reply")
                    self._mark((k for k, _ in r.members), "malformed_reply")
                if self.pipeline and i + 1 < len(reads):
                    # Pipelining: the next request goes out now (one sleep(0) lets its task send
                    # it), and this read is decoded and rendered while the device answers.
                    pending = asyncio.ensure_future(self._read(reads[i + 1]))
                    await asyncio.sleep(0)
                for rr, data in ok:
                    self._store(rr, data)
                if refused:
                    # Rendered below with the other points the planner no longer reads.
                    self._count("modbus_exception_3", len(refused))
                    self.log.warning(
                        "%s: device refuses %s with exception 03 even when read alone; "
                        "marked bad, check the profile's table, address and type",
                        self.name,
                        ", ".join(self.specs[k].name for k in refused),
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
            # Points refused with exception 03 even alone, likewise.
            refused_alone = [k for k in self.planner.refused if self.specs[k].poll in wanted]
            for k in refused_alone:
                self.values[k] = None
                self.reasons[k] = "modbus_exception_3"
            gone += refused_alone
            if gone:
                self._any_bad = True
        except AdapterError as exc:
            self._failed(exc, keys)
            return False
        finally:
            if pending is not None and not pending.done():
                pending.cancel()
        if bool(malformed) != self.malformed:
            self.malformed = bool(malformed)
            if malformed:
                self.log.warning(
                    "%s: device answers with malformed frames (points bad, reason "
                    "malformed_reply): %s",
                    self.name,
                    malformed[0],
                )
            else:
                self.log.warning("%s: device answers with valid frames again", self.name)
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
            delay = backoff_delay(
                self.failures - self.breaker_failures + 1,
                self.backoff_initial_s,
                self.backoff_max_s,
                jitter=0.25,
            )
            self.next_probe = time.monotonic() + delay
            self.line.set_device_down(self.unit_id, True)

    def qualities(self, keys: Sequence[int]) -> list[str | None] | None:
        """Per point of ``keys``: ``None`` (good) or the reason it is bad; ``None`` if all are good."""
        if not self._any_bad:
            return None
        reasons = self.reasons
        out = [reasons[k] for k in keys]
        return None if out.count(None) == len(out) else out

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
            "refused_points": sorted(self.specs[k].name for k in self.planner.refused),
            "learned_limits": dict(self.planner.learned),
            "connect_attempts": self.line.connect_attempts,
        }

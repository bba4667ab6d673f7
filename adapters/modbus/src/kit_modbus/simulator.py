"""Serve any Modbus hardware profile over Modbus TCP, with fault injection.

``ModbusSimulator(profile)`` (or ``ModbusAdapter.simulator(profile)``, what ``kit sim``
calls) starts a pymodbus TCP server whose registers follow the profile's ``simulation``
section (or a plausible default per semantic name), encoded with the same codec the
adapter decodes with — so a profile is tried end to end without hardware.

Fault injection, for tests and demos (all take effect immediately):

* :meth:`drop_connections` — close every client connection (the device "reboots").
* :meth:`set_delay` — answer every request ``s`` seconds late.
* :meth:`set_silent` — read requests get no answer at all (whole device, or one unit id).
* :meth:`set_exception` — answer exception ``code`` for requests touching given addresses.
* :meth:`set_illegal` — shorthand for exception 02 on addresses (a register-map hole).
* :meth:`set_invalid` — serve a declared sentinel raw value (0x7FFFFFFF = overrange).
* :meth:`set_value` / :meth:`freeze` / :meth:`freeze_at` — pin a point's value / stop the
  simulation clock (at a given simulated time).

FC43/14 (Read Device Identification) answers with the profile's ``identification``
objects (vendor/model when absent), or exception 01 when the profile says unsupported.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections.abc import Iterable
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.pdu import ExceptionResponse
from pymodbus.pdu.mei_message import ReadDeviceInformationResponse
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import SimData, SimDevice

from kit_modbus import codec

log = logging.getLogger("kit.modbus.sim")

_FC_TABLE = {
    1: "coil",
    5: "coil",
    15: "coil",
    2: "discrete",
    3: "holding",
    6: "holding",
    16: "holding",
    22: "holding",
    23: "holding",
    4: "input",
}
_BITS = ("coil", "discrete")


class _Store:
    """The simulator's datastore (pymodbus ``context`` protocol: async get/set, device ids)."""

    def __init__(self, sim: ModbusSimulator) -> None:
        self.sim = sim
        self.tables: dict[str, list[int]] = {
            t: [0] * 65536 for t in ("coil", "discrete", "holding", "input")
        }

    def device_ids(self) -> list[int]:
        return list(self.sim.unit_ids or [0])

    def _check(self, device_id: int, func_code: int, address: int, count: int) -> ExcCodes | None:
        sim = self.sim
        if sim.unit_ids and device_id not in sim.unit_ids:
            raise NoSuchIdException(f"unit {device_id} not simulated")
        if device_id in sim.silent_units or sim.silent:
            # With ignore_missing_devices the server sends nothing: a silent device.
            raise NoSuchIdException("silent")
        table = _FC_TABLE.get(func_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        limit = 2000 if table in _BITS and func_code in (1, 2) else 125
        if func_code in (1, 2, 3, 4) and not 1 <= count <= limit:
            return ExcCodes.ILLEGAL_VALUE
        if address + count > 65536:
            return ExcCodes.ILLEGAL_ADDRESS
        for (t, a), (code, unit) in sim.exceptions.items():
            if t == table and address <= a < address + count and unit in (None, device_id):
                return (
                    ExcCodes(code)
                    if code in ExcCodes._value2member_map_
                    else ExcCodes.DEVICE_FAILURE
                )
        return None

    async def async_getValues(
        self, device_id: int, func_code: int, address: int, count: int = 1
    ) -> list[int] | list[bool] | ExcCodes:
        self.sim.requests += 1
        exc = self._check(device_id, func_code, address, count)
        if exc is not None:
            return exc
        table = _FC_TABLE[func_code]
        self.sim._refresh_range(table, address, count)
        data = self.tables[table][address : address + count]
        return [bool(v) for v in data] if func_code in (1, 2, 5, 15) else data

    async def async_setValues(
        self, device_id: int, func_code: int, address: int, values: Any
    ) -> ExcCodes | None:
        self.sim.requests += 1
        exc = self._check(device_id, func_code, address, len(values))
        if exc is not None:
            return exc
        table = self.tables[_FC_TABLE[func_code]]
        for i, v in enumerate(values):
            table[address + i] = int(v)
        self.sim.writes.append((_FC_TABLE[func_code], address, [int(v) for v in values]))
        self.sim._written(_FC_TABLE[func_code], address, len(values))
        return None


class _Handler(ServerRequestHandler):
    """Per-connection handler: fault injection and FC43/14 before the normal processing."""

    async def handle_request(self) -> None:
        pdu, addr = self.last_pdu, self.last_addr
        if pdu is None:
            return
        sim: ModbusSimulator = self.server.sim
        if sim.silent or pdu.dev_id in sim.silent_units:
            return
        sim.in_flight += 1
        sim.max_in_flight = max(sim.max_in_flight, sim.in_flight)
        try:
            if sim.delay_s > 0:
                await asyncio.sleep(sim.delay_s)
                if sim.silent:
                    return
            if pdu.function_code == 0x2B:
                self.server_send(sim._identification(pdu), addr)
                return
            self.last_pdu, self.last_addr = pdu, addr
            await super().handle_request()
        finally:
            sim.in_flight -= 1


class _Server(ModbusTcpServer):
    def __init__(self, sim: ModbusSimulator, **kw: Any) -> None:
        self.sim = sim
        super().__init__(
            SimDevice(0, simdata=[SimData(0, values=0)]),
            ignore_missing_devices=True,
            framer=FramerType.RTU if sim.framer == "rtu" else FramerType.SOCKET,
            **kw,
        )
        self.context = sim.store  # type: ignore[assignment]

    def callback_new_connection(self) -> _Handler:
        self.sim.connections += 1
        return _Handler(self, self.trace_packet, self.trace_pdu, self.trace_connect)


class ModbusSimulator:
    """A simulated Modbus TCP device serving a hardware profile.

    Args:
        profile: a (resolved) ``ModbusProfile``.
        host, port: where to listen (port 0 = a free port, see :attr:`port` after start).
        unit_ids: unit ids answered (default: any — a single device).
        update_interval_s: how often simulated values are recomputed (lazily, on reads).
        speed: simulated seconds per real second.
        framer: ``socket`` (Modbus TCP) or ``rtu`` (RTU frames over TCP, like a transparent
            serial device server with RS-485 devices behind it).
    """

    def __init__(
        self,
        profile: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        unit_ids: Iterable[int] | None = None,
        update_interval_s: float = 0.1,
        speed: float = 1.0,
        framer: str = "socket",
    ) -> None:
        if framer not in ("socket", "rtu"):
            raise ValueError(f"framer must be socket or rtu, not {framer!r}")
        self.framer = framer
        self.profile = profile
        self.host, self.port = host, port
        self.unit_ids = set(unit_ids or [])
        self.update_interval_s, self.speed = update_interval_s, speed
        self.store = _Store(self)
        self.server: _Server | None = None
        self.connections = 0
        """Client connections accepted since creation (tests count reconnects)."""
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        """Most requests being answered at the same time (a serial line must never exceed 1)."""
        self.writes: list[tuple[str, int, list[int]]] = []
        self.silent = False
        self.silent_units: set[int] = set()
        self.delay_s = 0.0
        self.exceptions: dict[tuple[str, int], tuple[int, int | None]] = {}
        self._pinned: dict[str, Any] = {}
        self._frozen_at: float | None = None
        self._t0 = time.monotonic()
        self._points = []
        samplers = profile.samplers()
        for i, p in enumerate(profile.points):
            pc = (
                None
                if p.table in _BITS
                else codec.PointCodec(
                    p.type,
                    p.byte_order or "ABCD",
                    scale=p.scale,
                    offset=p.offset,
                    bit=p.bit,
                    count=p.count,
                    byte=getattr(p, "byte", None),
                    parts=p.length if p.type == "version" else None,
                    invalid=getattr(p, "invalid_raw", None),
                )
            )
            self._points.append((p, pc, samplers[i]))
        # Per table, points sorted by address: a read refreshes only the points it covers,
        # so a 10,000-point profile costs the simulator per request, not per point.
        self._index: dict[str, tuple[list[int], list[int]]] = {}
        for t in ("coil", "discrete", "holding", "input"):
            order = sorted(
                (p.pdu_address, i) for i, (p, _, _) in enumerate(self._points) if p.table == t
            )
            self._index[t] = ([a for a, _ in order], [i for _, i in order])
        self._stamp = [-1e9] * len(self._points)
        self._refresh(force=True)

    # -- lifecycle ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        """``modbus://host:port`` (valid after :meth:`start`)."""
        return f"modbus://{self.host}:{self.port}"

    async def start(self) -> ModbusSimulator:
        """Listen on host:port (a free port when 0)."""
        self.server = _Server(self, address=(self.host, self.port))
        await self.server.serve_forever(background=True)
        if self.port == 0:
            # pymodbus types the transport as BaseTransport; a TCP server's has sockets.
            self.port = self.server.transport.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        log.info("simulating %s on %s", getattr(self.profile, "id", "?"), self.url)
        return self

    async def stop(self) -> None:
        """Stop listening and close every connection (the same port can be started again)."""
        if self.server is not None:
            self.drop_connections()
            await self.server.shutdown()
            self.server = None

    async def __aenter__(self) -> ModbusSimulator:
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()

    # -- fault injection ----------------------------------------------------------------
    def drop_connections(self) -> int:
        """Close every client connection; returns how many were closed."""
        if self.server is None:
            return 0
        conns = list(self.server.active_connections.values())
        for c in conns:
            c.close()
        return len(conns)

    def set_delay(self, seconds: float) -> None:
        """Answer every request ``seconds`` late (0 = on time)."""
        self.delay_s = max(0.0, seconds)

    def set_silent(self, silent: bool = True, unit_id: int | None = None) -> None:
        """Stop answering (the whole simulator, or only ``unit_id`` behind a "gateway")."""
        if unit_id is None:
            self.silent = silent
        elif silent:
            self.silent_units.add(unit_id)
        else:
            self.silent_units.discard(unit_id)

    def set_exception(
        self, table: str, addresses: Iterable[int], code: int, unit_id: int | None = None
    ) -> None:
        """Answer exception ``code`` for requests touching ``addresses`` (PDU, 0-based) of ``table``."""
        for a in addresses:
            self.exceptions[(table, a)] = (code, unit_id)

    def set_illegal(self, table: str, addresses: Iterable[int]) -> None:
        """Make ``addresses`` a hole: exception 02 (ILLEGAL DATA ADDRESS) like a real register map."""
        self.set_exception(table, addresses, 2)

    def clear_faults(self) -> None:
        """Answer normally again: no delay, not silent, no exception addresses."""
        self.silent, self.delay_s = False, 0.0
        self.silent_units.clear()
        self.exceptions.clear()

    def set_value(self, semantic: str, value: Any) -> None:
        """Pin ``semantic`` to ``value`` (engineering units) until :meth:`unpin`."""
        self._pinned[semantic] = value
        self._refresh(force=True)

    def set_invalid(self, semantic: str, reason: str) -> None:
        """Serve the sentinel raw value the profile declares for ``reason`` (e.g. overrange)."""
        self.set_value(semantic, codec.Invalid(reason))

    def unpin(self, semantic: str) -> None:
        """Let a pinned point follow its simulation again."""
        self._pinned.pop(semantic, None)

    def freeze(self, frozen: bool = True) -> None:
        """Stop (or restart) the simulation clock: values stay put (deterministic tests)."""
        self._frozen_at = self.sim_time() if frozen else None

    def freeze_at(self, t: float) -> None:
        """Stop the simulation clock at simulated second ``t`` (every point recomputed there):
        a consistent snapshot for tests, and time travel to check counters against power."""
        self._frozen_at = t
        self._refresh(force=True)

    # -- values -------------------------------------------------------------------------
    def sim_time(self) -> float:
        """Simulated seconds since start."""
        if self._frozen_at is not None:
            return self._frozen_at
        return (time.monotonic() - self._t0) * self.speed

    def expected(self, semantic: str) -> Any:
        """The engineering value the simulator serves for ``semantic`` right now (as decoded)."""
        for p, pc, _ in self._points:
            if p.semantic == semantic:
                if pc is None:
                    return bool(self.store.tables[p.table][p.pdu_address])
                regs = self.store.tables[p.table][p.pdu_address : p.pdu_address + p.count]
                return pc.decode(regs)
        raise KeyError(semantic)

    def _refresh(self, force: bool = False) -> None:
        """Recompute every point (start, set_value)."""
        self._refresh_points(range(len(self._points)), force)

    def _refresh_range(self, table: str, address: int, count: int) -> None:
        """Recompute the points a read of ``table[address:address+count]`` covers, if stale."""
        addrs, idxs = self._index[table]
        lo = bisect.bisect_left(addrs, address - 125)  # a point spans at most 125 registers
        hi = bisect.bisect_left(addrs, address + count)
        self._refresh_points(idxs[lo:hi], False)

    def _refresh_points(self, which: Iterable[int], force: bool) -> None:
        now = time.monotonic()
        if not force and self._frozen_at is not None:
            return
        t = self.sim_time()
        tables = self.store.tables
        stamp, limit = self._stamp, self.update_interval_s
        for i in which:
            if not force and now - stamp[i] < limit:
                continue
            stamp[i] = now
            p, pc, sample = self._points[i]
            value = self._pinned.get(p.semantic)
            if value is None:
                value = sample(t)
            table = tables[p.table]
            if pc is None:
                table[p.pdu_address] = 1 if value else 0
                continue
            try:
                if p.type == "bit":
                    regs = pc.encode(bool(value), table[p.pdu_address])
                elif p.type == "bool":
                    regs = pc.encode(bool(value))
                elif p.type == "string":
                    regs = pc.encode(str(value)[: p.count * 2])
                elif p.type == "version":
                    regs = pc.encode(str(value))
                elif isinstance(value, codec.Invalid):
                    # A pinned sentinel (set_invalid): the raw value the device sends.
                    regs = pc.encode(value, table[p.pdu_address])
                elif p.type in codec.BYTE_TYPES:
                    regs = pc.encode(_clamp(pc, value), table[p.pdu_address])
                else:
                    regs = pc.encode(_clamp(pc, value))
            except codec.CodecError:
                continue
            table[p.pdu_address : p.pdu_address + len(regs)] = regs

    def _written(self, table: str, address: int, count: int) -> None:
        # A write pins the written points so the simulation does not overwrite them.
        for p, pc, _ in self._points:
            if (
                p.table == table
                and p.pdu_address < address + count
                and address < p.pdu_address + p.count
            ):
                regs = self.store.tables[table][p.pdu_address : p.pdu_address + p.count]
                self._pinned[p.semantic] = bool(regs[0]) if pc is None else pc.decode(regs)

    def _identification(self, pdu: Any) -> Any:
        ident = getattr(self.profile, "identification", None)
        if ident is not None and not ident.supported:
            return ExceptionResponse(
                0x2B,
                ExcCodes.ILLEGAL_FUNCTION,
                device_id=pdu.dev_id,
                transaction=pdu.transaction_id,
            )
        objects = dict(ident.expected()) if ident is not None else {}
        objects.setdefault(0, str(self.profile.vendor))
        objects.setdefault(1, str(self.profile.model))
        objects.setdefault(2, str(getattr(self.profile, "firmware", None) or "1.0"))
        objects.setdefault(4, f"{self.profile.vendor} {self.profile.model} (kit sim)")
        code = pdu.read_code or 1
        if code == 1:
            wanted = {k: v for k, v in objects.items() if k <= 2}
        elif code == 2:
            wanted = {k: v for k, v in objects.items() if k <= 6}
        elif code == 3:
            wanted = objects
        else:
            if pdu.object_id not in objects:
                return ExceptionResponse(
                    0x2B,
                    ExcCodes.ILLEGAL_ADDRESS,
                    device_id=pdu.dev_id,
                    transaction=pdu.transaction_id,
                )
            wanted = {pdu.object_id: objects[pdu.object_id]}
        return ReadDeviceInformationResponse(
            read_code=code,
            information={k: v.encode() for k, v in wanted.items()},
            dev_id=pdu.dev_id,
            transaction_id=pdu.transaction_id,
        )


def _clamp(pc: codec.PointCodec, value: Any) -> Any:
    """Keep a generated value encodable (a generator overshooting the type must not crash the sim)."""
    if pc._integral:
        bits = 8 if pc.type in codec.BYTE_TYPES else codec.NUMERIC[pc.type][0] * 16
        lo, hi = (
            (0, (1 << bits) - 1)
            if pc.type.startswith("u")
            else (-(1 << bits - 1), (1 << bits - 1) - 1)
        )
        raw = (float(value) - pc.offset) / pc.scale
        raw = min(max(raw, lo), hi)
        return raw * pc.scale + pc.offset
    return float(value)

"""``kit scan`` for Modbus TCP endpoints: which unit ids answer, what they say, which profile fits.

Called by the protocol-neutral sweep (:mod:`kit.scan.sweep`) through
:meth:`kit_modbus.plugin.ModbusAdapter.scan_endpoint`. One :class:`Line` (one TCP
connection, one request in flight) per endpoint; every request first awaits the scan's
``pace()`` (shared rate limit). Only reads, and only of:

* holding register 0 (FC3, 1 register) — the presence check of a unit id;
* FC43/14 device identification (basic and regular streams);
* the identity registers and a handful of points of the library's profiles, each distinct
  ``(table, start, count)`` once per unit.

Unit ids: when more than one is to be tried, the reserved unit 254 is read first. A device
reached directly ignores the unit id and answers it — then it is one device (at the first
unit id of the list), not 247; a gateway routes by unit id and leaves 254 unanswered, so
each listed id is tried. Exception 0A/0B from a gateway means "no device there"; exception
06 (busy) stops the scan of that device (field notes: scan etiquette).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from kit.errors import DeviceRejected, DeviceTimeout
from kit_modbus import fingerprint as fp
from kit_modbus.identity import read_identity
from kit_modbus.line import CommLost, Line, LineKey, MalformedReply, reason_of

CANARY_UNIT = 254
"""Reserved unit id (248–255 are not routed by gateways) used to tell a direct device."""
TOP = 5
"""Candidates kept per device."""
_OBJECT_NAMES = {
    0: "vendor_name",
    1: "product_code",
    2: "revision",
    3: "vendor_url",
    4: "product_name",
    5: "model_name",
    6: "user_application_name",
}


class _Busy(Exception):
    """Exception 06: the device asks us to go away; we do."""


class _Unit:
    """Reads for one unit id, paced, with a cache of every register range already read."""

    def __init__(self, line: Line, unit: int, pace: Callable[[], Awaitable[None]], t: float):
        self.line, self.unit, self.pace, self.t = line, unit, pace, t
        self.cache: dict[fp.Read, list[int] | str] = {}
        self.requests = 0
        self.timeouts = 0
        self.limit: int | None = None
        """Longest read the unit accepts, learned from exception 03 (None: not refused yet)."""

    async def request(self, fc: int, start: int, count: int) -> list[int]:
        await self.pace()
        self.requests += 1
        try:
            got = await self.line.request(self.unit, fc, start, count, timeout=self.t)
        except DeviceRejected as exc:
            if exc.code == 6:
                raise _Busy() from None
            raise
        return list(got)

    async def read(self, r: fp.Read) -> list[int] | str:
        """Registers of ``r`` (or the failure reason), from the cache when a read covered it."""
        if r in self.cache:
            return self.cache[r]
        for have, regs in self.cache.items():
            if (
                not isinstance(regs, str)
                and have.table == r.table
                and have.start <= r.start
                and r.start + r.count <= have.start + have.count
            ):
                off = r.start - have.start
                return regs[off : off + r.count]
        if self.timeouts >= 2:
            return "timeout"  # stopped answering: do not spend a timeout per profile
        try:
            got: list[int] | str = await self.request(
                3 if r.table == "holding" else 4, r.start, r.count
            )
            self.timeouts = 0
        except DeviceTimeout:
            self.timeouts += 1
            got = "timeout"
        except (DeviceRejected, MalformedReply) as exc:
            got = reason_of(exc)
        self.cache[r] = got
        return got


class _PacedLine:
    """What :func:`read_identity` needs of a :class:`Line`, with every request paced and counted."""

    def __init__(self, u: _Unit) -> None:
        self.u = u

    async def request(self, unit: int, fc: int, start: int, count: int, **_: Any) -> list[int]:
        return await self.u.request(fc, start, count)


async def _present(u: _Unit) -> tuple[bool, str]:
    """Does a device answer at this unit id? Any reply except 0A/0B proves it."""
    try:
        await u.request(3, 0, 1)
        return True, ""
    except DeviceRejected as exc:
        if exc.code in (10, 11):
            return False, f"gateway: exception {exc.code:02d} (no device at this unit id)"
        return True, ""
    except DeviceTimeout:
        return False, "no answer"
    except MalformedReply:
        return True, "malformed reply"


async def _identification(u: _Unit) -> dict[str, str]:
    """FC43/14 objects by name ({} when not supported)."""
    info: dict[int, bytes] = {}

    async def paced() -> None:
        await u.pace()
        u.requests += 1

    try:
        info = await u.line.read_device_information(u.unit, u.t, pace=paced)
    except DeviceRejected as exc:
        if exc.code == 6:
            raise _Busy() from None
        return {}
    except (DeviceTimeout, MalformedReply):
        return {}
    return {
        _OBJECT_NAMES.get(k, f"0x{k:02x}"): v.decode("latin-1", "replace").strip()
        for k, v in info.items()
    }


async def fingerprint_unit(
    u: _Unit, profiles: Sequence[Any], identification: dict[str, str]
) -> list[fp.Judgement]:
    """Read what every candidate profile needs (each distinct read once) and judge them all."""
    plans = [fp.plan(p) for p in profiles]
    # Widest reads first: narrower reads of other profiles are then served from the cache.
    wanted = sorted(
        {r for pl in plans for r in pl.reads}, key=lambda r: (r.table, r.start, -r.count)
    )
    for r in wanted:
        if u.limit is None or r.count <= u.limit:
            got = await u.read(r)
            if got == "modbus_exception_3":
                u.limit = max(1, min(u.limit if u.limit is not None else r.count, r.count // 2))
    out: list[fp.Judgement] = []
    for pl in plans:
        if pl.skipped:
            continue
        identity = None
        ident_section = getattr(pl.profile, "identity", None)
        if ident_section is not None:
            conn = pl.profile.connection
            identity = await read_identity(
                _PacedLine(u),  # type: ignore[arg-type]
                u.unit,
                ident_section,
                conn.addressing,
                conn.byte_order,
                u.t,
            )
        out.append(fp.judge(pl, await _read_plan(u, pl), identification, identity))
    return fp.rank(out)


async def _read_plan(u: _Unit, pl: fp.Plan) -> dict[fp.Read, list[int] | str]:
    """The registers of every read of ``pl``. A read the unit refuses as too long (exception
    03, or longer than it refused before) is split at point boundaries into reads of at most
    the learned limit (halved on each refusal, so a 20-word meter costs few extra requests)."""
    out: dict[fp.Read, list[int] | str] = {}
    todo = list(pl.reads)
    while todo:
        r = todo.pop(0)
        too_long = u.limit is not None and r.count > u.limit
        got = "modbus_exception_3" if too_long else await u.read(r)
        if got != "modbus_exception_3":
            out[r] = got
            continue
        members = [
            p
            for p in pl.points
            if p.table == r.table and r.start <= p.pdu_address < r.start + r.count
        ]
        if not too_long:
            u.limit = max(1, min(u.limit if u.limit is not None else r.count, r.count // 2))
        if len(members) <= 1:
            out[r] = got  # one point that is refused: nothing smaller to try
            continue
        todo[:0] = _chunks(members, u.limit or 1)
    return out


def _chunks(points: Sequence[Any], limit: int) -> list[fp.Read]:
    """Reads covering ``points`` (sorted, one table), each spanning at most ``limit``
    registers unless a single point is longer."""
    out: list[fp.Read] = []
    start = end = None
    for p in sorted(points, key=lambda q: q.pdu_address):
        stop = p.pdu_address + p.count
        if start is not None and max(end, stop) - start <= limit:
            end = max(end, stop)
            continue
        if start is not None:
            out.append(fp.Read(points[0].table, start, end - start))
        start, end = p.pdu_address, stop
    if start is not None:
        out.append(fp.Read(points[0].table, start, end - start))
    return out


def _device(
    unit: int, ident: dict[str, str], ranked: list[fp.Judgement], req: int
) -> dict[str, Any]:
    from kit.scan.inventory import MATCH_THRESHOLD

    best = ranked[0] if ranked else None
    ok = best is not None and best.confidence >= MATCH_THRESHOLD
    notes = []
    if ok and len(ranked) > 1 and ranked[1].confidence >= MATCH_THRESHOLD:
        notes.append(
            f"also fits {ranked[1].profile} (confidence {ranked[1].confidence:.2f}): "
            "check the model on the nameplate"
        )
    return {
        "unit_id": unit,
        "status": "identified" if ok else "unknown",
        "profile": best.profile if ok and best is not None else None,
        "confidence": round(best.confidence, 3) if best else 0.0,
        "identification": ident,
        "candidates": [
            {
                "profile": j.profile,
                "confidence": round(j.confidence, 3),
                "score": j.score,
                "evidence": j.evidence,
            }
            for j in ranked[:TOP]
            if not j.excluded
        ],
        "notes": notes,
        "requests": req,
    }


def _busy(unit: int, requests: int) -> dict[str, Any]:
    return {
        "unit_id": unit,
        "status": "busy",
        "notes": ["answered exception 06 (busy): scan stopped for this device"],
        "requests": requests,
    }


async def scan_endpoint(
    host: str,
    port: int,
    *,
    pace: Callable[[], Awaitable[None]],
    profiles: Sequence[Any],
    units: Sequence[int],
    timeout_s: float = 1.0,
) -> dict[str, Any]:
    """Scan one Modbus TCP endpoint; returns the fields of :class:`kit.scan.inventory.Endpoint`."""
    line = Line(LineKey("tcp", f"{host}:{port}"), host=host, port=port, timeout_s=timeout_s)
    devices: list[dict[str, Any]] = []
    notes: list[str] = []
    try:
        try_units = list(units)
        if len(try_units) > 1:
            canary = _Unit(line, CANARY_UNIT, pace, timeout_s)
            try:
                direct, _ = await _present(canary)
            except _Busy:
                return {
                    "status": "scanned",
                    "detail": "answered exception 06 (busy): left alone",
                    "devices": [_busy(try_units[0], canary.requests)],
                }
            if direct:
                try_units = try_units[:1]
                notes.append(
                    f"answers any unit id (reserved unit {CANARY_UNIT} too): a device reached "
                    f"directly, listed once at unit {try_units[0]}"
                )
        for unit in try_units:
            u = _Unit(line, unit, pace, timeout_s)
            try:
                here, why = await _present(u)
                if not here:
                    continue
                ident = await _identification(u)
                ranked = await fingerprint_unit(u, profiles, ident)
                devices.append(_device(unit, ident, ranked, u.requests))
            except _Busy:
                devices.append(_busy(unit, u.requests))
    except CommLost as exc:
        return {"status": "error", "detail": f"connection lost: {exc}", "devices": devices}
    finally:
        line.close()
    if not devices:
        return {"status": "no_answer", "detail": "port open, but no unit id answered a read"}
    return {"status": "scanned", "detail": "; ".join(notes), "devices": devices}

"""``kit probe HOST[:PORT] --profile ID``: read every point of a device and judge the values.

The answer to "my floats are garbage": each point is read with the profile's plan and
checked against its expected range. The points are also read at address shifts −2…+2 and
decoded in the four word orders (ABCD, CDAB, BADC, DCBA); every combination is scored by
the physics relations of :mod:`kit.relations` (Σ phases ≈ total, √3, S² = P² + Q² …) first
and the ranges second (:mod:`kit_modbus.probe_search`). The verdict names the combination
that fits, with its evidence — or says that nothing fits. Ranges alone once recommended the
wrong fix: a shifted CDAB profile decoded as ABCD shows each value's neighbour, in range.

Exception 02 holes and exception 03 request limits are learned while reading (like polling)
and named on the summary line with the profile setting to change; malformed replies are
reported as such, not as "cannot connect". FC43/14 identification is read when the profile
says the device supports it. The command exits with status 6 when no point could be read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
from collections import Counter
from typing import Any

import click

from kit.display import format_value
from kit.errors import AdapterError, ConfigError, DeviceRejected, DeviceTimeout
from kit_modbus import codec, probe_search
from kit_modbus.identity import IdentityResult, read_identity
from kit_modbus.line import CommLost, Line, LineKey, MalformedReply, reason_of
from kit_modbus.planner import (
    BIT_TABLES,
    IllegalAddress,
    Item,
    Planner,
    Read,
    RequestRefused,
    read_learning,
)

_OBJECT_NAMES = {
    0: "vendor_name",
    1: "product_code",
    2: "revision",
    3: "vendor_url",
    4: "product_name",
    5: "model_name",
    6: "user_application_name",
}


def _in_range(value: Any, rng: tuple[float, float] | None) -> bool | None:
    if rng is None or isinstance(value, (str, bool)) or value is None:
        return None
    return bool(math.isfinite(value) and rng[0] <= value <= rng[1])


async def probe_device(
    prof: Any,
    host: str,
    port: int | None = None,
    unit_id: int | None = None,
    *,
    timeout_s: float | None = None,
    transport: str = "tcp",
) -> dict[str, Any]:
    """Probe a device: identification, every point with range check, learned limits and holes,
    and the address-shift × word-order search scored by the physics relations.

    Raises:
        AdapterError: the device cannot be reached at all (with what to check).
    """
    conn = prof.connection
    port = port or conn.port
    unit = unit_id if unit_id is not None else conn.unit_id
    t = timeout_s or conn.timeout_s
    line = Line(
        LineKey(transport, f"{host}:{port}"),
        host=host,
        port=port,
        timeout_s=t,
        backoff_initial_s=0.1,
    )
    out: dict[str, Any] = {
        "profile": prof.id,
        "device": f"{host}:{port}",
        "unit_id": unit,
        "identification": None,
        "points": [],
    }
    points = [p for p in prof.points if p.access != "w"]  # write-only commands: never read
    reader = _Reader(line, unit, t, conn, points)
    try:
        out["identification"] = await _identification(prof, line, unit, t)
        if getattr(prof, "identity", None) is not None:
            results = await read_identity(
                line, unit, prof.identity, conn.addressing, conn.byte_order, t
            )
            out["identity"] = [dataclasses.asdict(r) for r in results]
        raw0, failed = await reader.read_shift(0)
        raw: dict[int, dict[int, list[int] | None]] = {0: raw0}
        if raw0:
            for shift in probe_search.SHIFTS[1:]:
                raw[shift], _ = await reader.read_shift(shift)
        for k, p in enumerate(points):
            out["points"].append(_judge(p, raw0.get(k), failed.get(k)))
    except CommLost as exc:
        raise AdapterError(
            f"cannot connect to {host}:{port}: {exc}. Check the IP address and port, that the "
            "device is powered and on this network, and that no firewall blocks it."
        ) from None
    finally:
        line.close()
    cands = probe_search.score(points, raw) if raw0 else []
    out["verdict"] = probe_search.verdict(cands, conn.addressing, conn.byte_order)
    if raw0:
        out["search"] = [
            {
                "shift": c.shift,
                "byte_order": c.order,
                "relations_satisfied": c.satisfied,
                "relations_violated": c.violated,
                "in_range": c.in_range,
                "ranged": c.ranged,
                "read": c.read,
            }
            for c in cands[:5]
        ]
        asis = next(c for c in cands if c.shift == 0 and c.order is None)
        out["relations"] = [
            {"relation": c.statement, "status": c.status, "evidence": c.evidence}
            for c in asis.checks
            if c.status != "not_applicable"
        ]
        odd = probe_search.implausible_points(asis)
        for row in out["points"]:
            if row["status"] == "ok" and row["point"] in odd:
                row["status"] = "implausible"
                row["violates"] = odd[row["point"]]
    out["learned_limits"] = dict(reader.planner.learned)
    out["refused_size"] = reader.refused_size
    out["summary"] = _summary(out)
    return out


def _identity_lines(report: dict[str, Any]) -> list[str]:
    rows = report.get("identity")
    if not rows:
        return []
    bad = [r for r in rows if r["status"] in ("mismatch", "unreadable")]
    text = ", ".join(IdentityResult(**r).text() for r in rows)
    if bad:
        return [f"identity: DOES NOT MATCH the profile: {text}"]
    return [f"identity: {text}"]


async def _identification(prof: Any, line: Line, unit: int, t: float) -> dict[str, Any] | None:
    ident = getattr(prof, "identification", None)
    if ident is not None and not ident.supported:
        return None
    try:
        info = await line.read_device_information(unit, t)
    except DeviceRejected as exc:
        return {"supported": False, "reason": f"modbus_exception_{exc.code}"}
    except DeviceTimeout:
        return {"supported": False, "reason": "timeout"}
    except MalformedReply:
        return {"supported": False, "reason": "malformed_reply"}
    objects = {
        _OBJECT_NAMES.get(k, f"0x{k:02x}"): v.decode("latin-1", "replace") for k, v in info.items()
    }
    expected = {_OBJECT_NAMES[k]: v for k, v in (ident.expected() if ident else {}).items()}
    mismatch = {
        k: {"expected": v, "got": objects.get(k)}
        for k, v in expected.items()
        if v.lower() not in (objects.get(k) or "").lower()
    }
    return {
        "supported": True,
        "objects": objects,
        "matches_profile": not mismatch,
        "mismatches": mismatch,
    }


class _Reader:
    """Reads the profile's points at a given address shift, learning holes (02) and the
    request limit (03) once for all shifts."""

    def __init__(self, line: Line, unit: int, t: float, conn: Any, points: list[Any]) -> None:
        self.line, self.unit, self.t, self.points = line, unit, t, points
        self.conn = conn
        self.planner: Planner = self._planner(0)
        self.refused_size: int | None = None

    def _planner(self, shift: int) -> Planner:
        items = [
            Item(k, p.table, p.pdu_address + shift, p.count, "fast")
            for k, p in enumerate(self.points)
            if p.pdu_address + shift >= 0 and (shift == 0 or p.table not in BIT_TABLES)
        ]
        pl = Planner(
            items,
            max_registers=self.conn.max_registers_per_read,
            max_bits=self.conn.max_bits_per_read,
            max_gap=self.conn.max_gap,
        )
        if shift:
            # What the device taught at shift 0 holds at every shift: no request it refuses.
            for table, name in (
                ("holding", "max_registers_per_read"),
                ("coil", "max_bits_per_read"),
            ):
                if name in self.planner.learned:
                    pl.learn_limit(table, self.planner.learned[name])
            pl.replan()
        return pl

    async def _do_read(self, r: Read) -> Any:
        try:
            return await self.line.request(
                self.unit, r.function_code, r.start, r.count, timeout=self.t
            )
        except DeviceRejected as exc:
            if exc.code == 2:
                raise IllegalAddress() from None
            if exc.code == 3:
                raise RequestRefused(exc) from None
            raise

    async def read_shift(self, shift: int) -> tuple[dict[int, list[int] | None], dict[int, str]]:
        """Registers per point index read at ``shift`` (absent: not read) and failure reasons."""
        planner = self.planner if shift == 0 else self._planner(shift)
        raw: dict[int, list[int] | None] = {}
        failed: dict[int, str] = {}
        for r in list(planner.reads):
            try:
                got = await read_learning(planner, r, self._do_read)
            except (DeviceTimeout, DeviceRejected, MalformedReply, CommLost) as exc:
                if isinstance(exc, CommLost) and not raw and shift == 0:
                    raise
                if shift and isinstance(exc, (DeviceTimeout, CommLost)):
                    # Some devices stay silent on addresses they do not have: one timeout is
                    # enough to give up on this shift rather than wait out every read.
                    break
                for k, _ in r.members:
                    failed[k] = reason_of(exc)
                continue
            if got.refused_size is not None and shift == 0:
                self.refused_size = min(self.refused_size or got.refused_size, got.refused_size)
            for rr, data in got.ok:
                for k, off in rr.members:
                    raw[k] = list(data[off : off + self.points[k].count])
            for k in got.illegal:
                failed[k] = "modbus_exception_2"
            for k in got.refused:
                failed[k] = "modbus_exception_3"
        return raw, failed


def _judge(p: Any, regs: list[Any] | None, reason: str | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "point": p.semantic,
        "table": p.table,
        "pdu_address": p.pdu_address,
        "type": p.type,
        "unit": p.unit,
        "range": list(p.range) if p.range else None,
        "byte_order": p.byte_order,
    }
    if regs is None:
        row.update(status="bad", reason=reason or "not_read", value=None)
        return row
    if p.table in BIT_TABLES:
        row.update(status="ok", value=bool(regs[0]), raw=[int(bool(regs[0]))])
        return row
    pc = probe_search.point_codec(p, None)
    value = pc.decode(list(regs))
    if isinstance(value, codec.Invalid):
        row.update(status="bad", reason=value.reason, value=None, raw=[f"0x{r:04X}" for r in regs])
        return row
    if isinstance(value, float) and not math.isfinite(value):
        value = None
    row["raw"] = [f"0x{r:04X}" for r in regs]
    row["value"] = value
    ok = _in_range(value, p.range)
    row["in_range"] = ok
    if p.type in codec.NUMERIC and codec.NUMERIC[p.type][0] >= 2:
        orders = codec.all_orders(regs, p.type, scale=p.scale, offset=p.offset)
        row["orders"] = {
            o: (v if isinstance(v, int) or math.isfinite(v) else None) for o, v in orders.items()
        }
        if p.range is not None:
            row["orders_in_range"] = [o for o, v in orders.items() if _in_range(v, p.range)]
    row["status"] = "ok" if ok in (True, None) else "out_of_range"
    return row


def _summary(report: dict[str, Any]) -> dict[str, Any]:
    rows = report["points"]
    status = Counter(r["status"] for r in rows)
    reasons = Counter(r["reason"] for r in rows if r["status"] == "bad")
    verdict = report["verdict"]
    if rows and reasons.get("malformed_reply", 0) == len(rows):
        verdict = {
            "kind": "malformed",
            "text": "device answered malformed frames to every read (wrong function code or "
            "byte count): check that no other master shares the gateway, and the framing "
            "(Modbus TCP vs RTU over TCP: --rtu-over-tcp)",
        }
        report["verdict"] = verdict
    learned = [
        f"device refuses reads of {report.get('refused_size')} (exception 03): "
        f"set connection.{name}: {value}"
        for name, value in sorted(report.get("learned_limits", {}).items())
    ]
    holes = sorted(r["point"] for r in rows if r.get("reason") == "modbus_exception_2")
    refused = sorted(r["point"] for r in rows if r.get("reason") == "modbus_exception_3")
    return {
        "points": len(rows),
        "ok": status.get("ok", 0),
        "implausible": status.get("implausible", 0),
        "out_of_range": status.get("out_of_range", 0),
        "bad": status.get("bad", 0),
        "read": len(rows) - status.get("bad", 0),
        "bad_reasons": dict(reasons),
        "learned": learned,
        "holes": holes,
        "refused": refused,
        "verdict": verdict["kind"],
        "identity": (
            None
            if not report.get("identity")
            else "ok"
            if all(r["status"] in ("ok", "read") for r in report["identity"])
            else "mismatch"
        ),
        "byte_order_hint": verdict["text"] if verdict["kind"] == "fix" else None,
    }


def _fmt(v: Any) -> str:
    # Full precision without float noise (123456.7, not the 123457 of ``:.6g``).
    return "-" if v is None else format_value(v)


def render(report: dict[str, Any]) -> str:
    """The probe report as text for a terminal."""
    lines = [f"probe {report['device']} unit {report['unit_id']} with profile {report['profile']}"]
    ident = report.get("identification")
    if ident:
        if ident.get("supported"):
            objs = ", ".join(f"{k}={v}" for k, v in ident["objects"].items())
            lines.append(
                f"identification: {objs}"
                + (
                    ""
                    if ident["matches_profile"]
                    else f"  (DOES NOT MATCH the profile: {ident['mismatches']})"
                )
            )
        else:
            lines.append(f"identification: not answered ({ident.get('reason')})")
    lines += _identity_lines(report)
    lines.append(f"{'POINT':<34} {'VALUE':>14} {'UNIT':<6} {'RANGE':<22} STATUS")
    for r in report["points"]:
        rng = f"{_fmt(r['range'][0])}..{_fmt(r['range'][1])}" if r.get("range") else ""
        status = r["status"] if r["status"] != "bad" else f"bad ({r['reason']})"
        if r.get("violates"):
            status += "; violates " + ", ".join(r["violates"][:2])
        if r["status"] == "out_of_range" and r.get("orders_in_range") is not None:
            fits = r["orders_in_range"]
            status += (
                f"; in range with {', '.join(fits)}"
                if fits
                else "; no byte order fits (address or scale?)"
            )
        lines.append(
            f"{r['point']:<34} {_fmt(r.get('value')):>14} {r.get('unit') or '':<6} {rng:<22} {status}"
        )
    s = report["summary"]
    line = (
        f"{s['points']} points: {s['ok']} ok, {s['implausible']} implausible, "
        f"{s['out_of_range']} out of range, {s['bad']} bad"
    )
    extra = list(s["learned"])
    if s["holes"]:
        extra.append("holes (exception 02): " + ", ".join(s["holes"]))
    if s["refused"]:
        extra.append("refused alone (exception 03): " + ", ".join(s["refused"]))
    if extra:
        line += "; " + "; ".join(extra)
    lines.append(line)
    v = report.get("verdict") or {}
    if v.get("text"):
        lines.append(f"verdict: {v['text']}")
    if s["byte_order_hint"]:
        lines.append("hint: follow the verdict's fix, then probe again")
    return "\n".join(lines)


def _split_target(target: str) -> tuple[str, int | None]:
    if target.startswith("["):  # [::1]:502
        host, _, rest = target[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    if target.count(":") == 1:
        host, _, port = target.partition(":")
        if not port.isdigit():
            raise ConfigError(f"{target!r}: the port after ':' must be a number")
        return host, int(port)
    return target, None


@click.command("probe")
@click.argument("target", metavar="HOST[:PORT]")
@click.option(
    "--profile",
    "profile_id",
    required=True,
    help="Hardware profile id (kit profiles) or YAML file.",
)
@click.option(
    "--unit", "unit_id", type=click.IntRange(0, 255), help="Unit id (default: the profile's)."
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Parameter of a parameterised profile.",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(min=0.05, max=60),
    help="Request timeout in seconds.",
)
@click.option(
    "--rtu-over-tcp",
    is_flag=True,
    help="The target is a transparent serial server (RTU framing over TCP).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def probe(
    ctx: click.Context,
    target: str,
    profile_id: str,
    unit_id: int | None,
    params: tuple[str, ...],
    timeout_s: float | None,
    rtu_over_tcp: bool,
    as_json: bool,
) -> None:
    """Read every point of a Modbus device, check ranges and physics relations, and find
    address shift and word order.

    The verdict names the combination of address shift (−2…+2 registers) and word order that
    makes the values consistent (Σ phases ≈ total, V_LL ≈ √3·V_LN, …), or says nothing fits;
    the summary line names learned request limits (exception 03) and holes (exception 02).
    Exits with status 6 when no point could be read.
    """
    from kit_modbus.plugin import find_profile

    parsed: dict[str, Any] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--param {item!r}: write NAME=VALUE")
        parsed[key] = value
    from kit.cli.common import library_from  # the site library of --config

    prof = find_profile(profile_id, parsed, library_from(ctx))
    host, port = _split_target(target)
    report = asyncio.run(
        probe_device(
            prof,
            host,
            port,
            unit_id,
            timeout_s=timeout_s,
            transport="rtu_over_tcp" if rtu_over_tcp else "tcp",
        )
    )
    click.echo(json.dumps(report, indent=2, default=str) if as_json else render(report))
    if report["summary"]["read"] == 0:
        # Nothing read: a script (or a technician's `&&`) must not take this for success.
        v = report.get("verdict") or {}
        raise AdapterError(
            f"no point of {host} unit {report['unit_id']} could be read"
            + (f": {v['text']}" if v.get("kind") == "malformed" else "")
            + (
                f" (reasons: {', '.join(sorted(report['summary']['bad_reasons']))})"
                if report["summary"]["bad_reasons"]
                else ""
            )
        )

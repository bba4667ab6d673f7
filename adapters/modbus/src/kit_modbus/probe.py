"""``kit probe HOST[:PORT] --profile ID``: read every point of a device and judge the values.

The answer to "my floats are garbage": each point is read once with the profile's plan,
checked against its expected range, and every 32/64-bit value is also decoded in the four
byte orders (ABCD, CDAB, BADC, DCBA) to show which ones land in range. When the configured
order misses and another one fits most points, the probe says which ``byte_order`` to set.
FC43/14 identification is read when the profile says the device supports it and compared
with the profile's expected objects.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections import Counter
from typing import Any

import click

from kit.display import format_value
from kit.errors import AdapterError, ConfigError, DeviceRejected, DeviceTimeout
from kit_modbus import codec
from kit_modbus.line import CommLost, Line, LineKey, reason_of
from kit_modbus.planner import BIT_TABLES, IllegalAddress, Planner, Read, read_bisecting

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
    """Probe a device: identification, every point with range check and byte-order analysis.

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
    try:
        ident = getattr(prof, "identification", None)
        if ident is None or ident.supported:
            try:
                info = await line.read_device_information(unit, t)
                objects = {
                    _OBJECT_NAMES.get(k, f"0x{k:02x}"): v.decode("latin-1", "replace")
                    for k, v in info.items()
                }
                expected = {
                    _OBJECT_NAMES[k]: v for k, v in (ident.expected() if ident else {}).items()
                }
                mismatch = {
                    k: {"expected": v, "got": objects.get(k)}
                    for k, v in expected.items()
                    if v.lower() not in (objects.get(k) or "").lower()
                }
                out["identification"] = {
                    "supported": True,
                    "objects": objects,
                    "matches_profile": not mismatch,
                    "mismatches": mismatch,
                }
            except DeviceRejected as exc:
                out["identification"] = {
                    "supported": False,
                    "reason": f"modbus_exception_{exc.code}",
                }
            except DeviceTimeout:
                out["identification"] = {"supported": False, "reason": "timeout"}
        points = [p for p in prof.points if p.access != "w"]  # write-only commands: never read
        planner = Planner(
            [_item(k, p) for k, p in enumerate(points)],
            max_registers=conn.max_registers_per_read,
            max_bits=conn.max_bits_per_read,
            max_gap=conn.max_gap,
        )
        raw: dict[int, list[int] | list[bool]] = {}
        failed: dict[int, str] = {}

        async def do_read(r: Read):
            try:
                return await line.request(unit, r.function_code, r.start, r.count, timeout=t)
            except DeviceRejected as exc:
                if exc.code == 2:
                    raise IllegalAddress() from None
                raise

        for r in list(planner.reads):
            try:
                ok, illegal = await read_bisecting(planner, r, do_read)
            except (DeviceTimeout, DeviceRejected, CommLost) as exc:
                if isinstance(exc, CommLost) and not raw:
                    raise
                for k, _ in r.members:
                    failed[k] = reason_of(exc)
                continue
            for rr, data in ok:
                for k, off in rr.members:
                    raw[k] = list(data[off : off + points[k].count])
            for k in illegal:
                failed[k] = "modbus_exception_2"
        for k, p in enumerate(points):
            out["points"].append(_judge(p, raw.get(k), failed.get(k)))
    except CommLost as exc:
        raise AdapterError(
            f"cannot connect to {host}:{port}: {exc}. Check the IP address and port, that the "
            "device is powered and on this network, and that no firewall blocks it."
        ) from None
    finally:
        line.close()
    out["summary"] = _summary(out["points"], conn.byte_order)
    return out


def _item(k: int, p: Any):
    from kit_modbus.planner import Item

    return Item(k, p.table, p.pdu_address, p.count, "fast")


def _judge(p: Any, regs: list | None, reason: str | None) -> dict[str, Any]:
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
    pc = codec.PointCodec(
        p.type,
        p.byte_order or "ABCD",
        scale=p.scale,
        offset=p.offset,
        bit=p.bit,
        count=p.count,
        byte=p.byte,
        parts=p.length if p.type == "version" else None,
        invalid=p.invalid_raw,
    )
    value = pc.decode(regs)
    if isinstance(value, codec.Invalid):
        row.update(status="bad", reason=value.reason, value=None, raw=[f"0x{r:04X}" for r in regs])
        return row
    row["raw"] = [f"0x{r:04X}" for r in regs]
    row["value"] = value if not (isinstance(value, float) and not math.isfinite(value)) else None
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


def _summary(rows: list[dict[str, Any]], configured: str) -> dict[str, Any]:
    status = Counter(r["status"] for r in rows)
    wide = [r for r in rows if r.get("orders_in_range") is not None]
    misses = [r for r in wide if r["status"] == "out_of_range"]
    fits = Counter(o for r in wide for o in r["orders_in_range"])
    hint = None
    if misses and fits:
        best, n = fits.most_common(1)[0]
        # Only a clear winner: it fits more points than the configured order and nearly all of
        # them (one odd point is a wrong address or scale, not a byte order).
        if best != configured and n > fits.get(configured, 0) and n >= 0.8 * len(wide):
            hint = (
                f"{n} of {len(wide)} 32/64-bit values land in range with byte order {best} "
                f"(only {fits.get(configured, 0)} with {configured}): set connection.byte_order: {best} "
                "in the profile (or byte_order on the points)"
            )
    return {
        "points": len(rows),
        "ok": status.get("ok", 0),
        "out_of_range": status.get("out_of_range", 0),
        "bad": status.get("bad", 0),
        "byte_order_hint": hint,
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
    lines.append(f"{'POINT':<34} {'VALUE':>14} {'UNIT':<6} {'RANGE':<22} STATUS")
    for r in report["points"]:
        rng = f"{_fmt(r['range'][0])}..{_fmt(r['range'][1])}" if r.get("range") else ""
        status = r["status"] if r["status"] != "bad" else f"bad ({r['reason']})"
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
    lines.append(
        f"{s['points']} points: {s['ok']} ok, {s['out_of_range']} out of range, {s['bad']} bad"
    )
    if s["byte_order_hint"]:
        lines.append(f"hint: {s['byte_order_hint']}")
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
def probe(
    target: str,
    profile_id: str,
    unit_id: int | None,
    params: tuple[str, ...],
    timeout_s: float | None,
    rtu_over_tcp: bool,
    as_json: bool,
) -> None:
    """Read every point of a Modbus device, check the expected ranges and find the byte order."""
    from kit_modbus.plugin import find_profile

    parsed: dict[str, Any] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--param {item!r}: write NAME=VALUE")
        parsed[key] = value
    prof = find_profile(profile_id, parsed)
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

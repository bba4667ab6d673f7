"""Acceptance checks against live data, and the commissioning report (JSON and Markdown).

After install the engine watches the deployment's assets for a bounded window
(``commissioning.duration_s``) and evaluates each check on what it saw. Only good-quality
values count as evidence; a check that saw nothing fails and says so — no data is never a
pass. The report is the evidence a site needs to move from pilot to production.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from kit import codec, subjects
from kit.payloads import KpiValue, Quality, SampleBatch, utcnow


@dataclass
class Observation:
    """Batches and KPIs seen for one asset during the window (arrival time, item)."""

    batches: list[tuple[float, SampleBatch]] = field(default_factory=list)
    kpis: list[tuple[float, KpiValue]] = field(default_factory=list)


async def observe(
    bus: Any, asset_paths: list[str], duration_s: float
) -> tuple[dict[str, Observation], float, float]:
    """Subscribe to the assets' data and KPI subjects for ``duration_s`` seconds.

    Returns:
        ``(observations by asset path, window start, window end)`` in monotonic seconds.
    """
    obs = {p: Observation() for p in asset_paths}
    subs = []

    async def handler(batch: SampleBatch, _msg: Any) -> None:
        o = obs.get(batch.asset)
        if o is not None:
            o.batches.append((time.monotonic(), batch))

    async def on_kpi(kpi: KpiValue, _msg: Any) -> None:
        o = obs.get(kpi.asset)
        if o is not None:
            o.kpis.append((time.monotonic(), kpi))

    start = time.monotonic()
    for p in asset_paths:
        subs.append(
            await bus.subscribe(
                subjects.data_subject(subjects.AssetPath.parse(p)), codec.decode_batch, handler
            )
        )
        tokens = subjects.AssetPath.parse(p).tokens
        subs.append(
            await bus.subscribe(f"{subjects.KPI_PREFIX}.{tokens}.>", codec.decode_kpi, on_kpi)
        )
    try:
        await asyncio.sleep(duration_s)  # the observation window itself (bounded by the recipe)
    finally:
        for s in subs:
            try:
                await s.unsubscribe()
            except Exception:  # connection closing; nothing to undo
                pass
    return obs, start, time.monotonic()


def _values(o: Observation, point: str) -> tuple[list[tuple[float, Any]], int]:
    """Good values of ``point`` (arrival time, value) and the count of non-good samples."""
    good, other = [], 0
    for t, b in o.batches:
        for p in b.points:
            if p.name == point:
                if p.quality is Quality.good and p.value is not None:
                    good.append((t, p.value))
                else:
                    other += 1
    return good, other


def _num(v: Any) -> float | None:
    if isinstance(v, bool):
        return float(v)
    return float(v) if isinstance(v, (int, float)) else None


def evaluate(check: dict[str, Any], o: Observation, start: float, end: float) -> dict[str, Any]:
    """Evaluate one acceptance check on an observation; returns the report entry."""
    kind = check["check"]
    out: dict[str, Any] = {
        "title": check["title"],
        "check": kind,
        "asset": check["asset"],
        "passed": False,
    }
    _evaluate(kind, check, o, start, end, out)
    out["result"] = "pass" if out["passed"] else "fail"
    return out


def _evaluate(
    kind: str, check: dict[str, Any], o: Observation, start: float, end: float, out: dict[str, Any]
) -> None:
    if kind == "range":
        vals, bad = _values(o, check["point"])
        nums = [n for _, v in vals if (n := _num(v)) is not None]
        lo, hi = check.get("min"), check.get("max")
        outside = [n for n in nums if (lo is not None and n < lo) or (hi is not None and n > hi)]
        out["values"] = {
            "samples": len(nums),
            "not_good": bad,
            "min": min(nums, default=None),
            "max": max(nums, default=None),
            "last": nums[-1] if nums else None,
            "outside": len(outside),
        }
        out["passed"] = bool(nums) and not outside
        out["detail"] = (
            "no good values seen"
            if not nums
            else (
                f"{len(outside)} of {len(nums)} values outside the range"
                if outside
                else "all values within range"
            )
        )
    elif kind == "updates":
        if check.get("point"):
            times = [t for t, _ in _values(o, check["point"])[0]]
        else:
            times = [t for t, _ in o.batches]
        edges = [start, *times, end]
        gaps = [b - a for a, b in zip(edges, edges[1:])]
        largest = max(gaps) if gaps else end - start
        out["values"] = {
            "updates": len(times),
            "largest_gap_s": round(largest, 3),
            "limit_s": check["every_s"],
        }
        out["passed"] = bool(times) and largest <= check["every_s"]
        out["detail"] = "no updates seen" if not times else f"largest gap {largest:.2f} s"
    elif kind == "increases":
        vals, bad = _values(o, check["point"])
        cond = check.get("while_point")
        if cond:
            flags = {
                id(b): any(
                    p.name == cond and p.quality is Quality.good and bool(p.value) for p in b.points
                )
                for _, b in o.batches
            }
            times_true = {t for t, b in o.batches if flags[id(b)]}
            vals = [(t, v) for t, v in vals if t in times_true]
        nums = [n for _, v in vals if (n := _num(v)) is not None]
        rises = sum(1 for a, b in zip(nums, nums[1:]) if b > a)
        out["values"] = {
            "samples": len(nums),
            "not_good": bad,
            "first": nums[0] if nums else None,
            "last": nums[-1] if nums else None,
            "increases": rises,
        }
        out["passed"] = rises > 0
        out["detail"] = (
            f"no samples while {cond} was true — run the machine during commissioning"
            if cond and not nums
            else f"increased {rises} time(s)"
            if rises
            else "the counter did not increase"
        )
    elif kind == "kpi":
        _evaluate_kpi(check, o, out)
    elif kind == "quality_good":
        wanted = set(check.get("points") or [])
        good = other = 0
        reasons: dict[str, int] = {}
        for _, b in o.batches:
            for p in b.points:
                if wanted and p.name not in wanted:
                    continue
                if p.quality is Quality.good:
                    good += 1
                else:
                    other += 1
                    reasons[p.reason or p.quality.value] = (
                        reasons.get(p.reason or p.quality.value, 0) + 1
                    )
        out["values"] = {"good": good, "not_good": other, "reasons": reasons}
        out["passed"] = good > 0 and other == 0
        out["detail"] = (
            "no samples seen"
            if not good + other
            else ("all samples good" if not other else f"{other} sample(s) not good: {reasons}")
        )


def _evaluate_kpi(check: dict[str, Any], o: Observation, out: dict[str, Any]) -> None:
    # A KPI that is due is published, zero included; so none at all means the analytics
    # never got (or never used) their inputs — a failed check that names the KPI.
    name = check["kpi"]
    seen = [k for _, k in o.kpis if k.kpi == name]
    nums = [
        float(k.value)
        for k in seen
        if k.quality is Quality.good and k.value is not None and not isinstance(k.value, bool)
    ]
    lo, hi = check.get("min"), check.get("max")
    outside = [n for n in nums if (lo is not None and n < lo) or (hi is not None and n > hi)]
    out["values"] = {
        "kpis": len(seen),
        "with_value": len(nums),
        "min": min(nums, default=None),
        "max": max(nums, default=None),
        "last": nums[-1] if nums else None,
        "outside": len(outside),
    }
    out["passed"] = bool(nums) and not outside
    if not seen:
        others = sorted({k.kpi for _, k in o.kpis})
        out["detail"] = f"expected KPI {name} never arrived" + (
            f" (seen: {', '.join(others)})" if others else " (no KPI of this asset at all)"
        )
    elif not nums:
        out["detail"] = f"KPI {name} arrived {len(seen)} time(s) but never with a good value"
    elif outside:
        out["detail"] = f"{len(outside)} of {len(nums)} values of KPI {name} outside the range"
    else:
        out["detail"] = f"KPI {name} arrived {len(nums)} time(s)"


async def commission(bus: Any, record: dict[str, Any], duration_s: float) -> dict[str, Any]:
    """Run the record's acceptance checks on live data; return the commissioning report."""
    checks = record.get("checks", [])
    paths = sorted({a["path"] for a in record["assets"].values()})
    started = utcnow()
    obs, start, end = await observe(bus, paths, duration_s)
    results = [evaluate(c, obs[c["asset_path"]], start, end) for c in checks]
    return {
        "deployment": record["id"],
        "recipe": record["recipe_id"],
        "version": record["version"],
        "started": started.isoformat(),
        "finished": utcnow().isoformat(),
        "duration_s": duration_s,
        "result": "pass" if all(r["passed"] for r in results) else "fail",
        "checks": results,
        "batches_seen": {p: len(o.batches) for p, o in obs.items()},
        "kpis_seen": {p: len(o.kpis) for p, o in obs.items()},
        "devices": record["assets"],
        "plugins": record.get("plugins", []),
    }


def report_markdown(record: dict[str, Any]) -> str:
    """The deployment and its commissioning report as Markdown (for the site's records)."""
    rep = record.get("report")
    lines = [
        f"# Commissioning report: {record['id']}",
        "",
        f"- Recipe: `{record['recipe_id']}` version {record['version']} (sha256 `{record['digest'][:12]}…`)",
        f"- Installed: {record.get('installed_at', '?')}",
    ]
    if not rep:
        lines += ["", "_No commissioning report yet (checks still running or not run)._"]
        return "\n".join(lines) + "\n"
    lines += [
        f"- Checked: {rep['started']} → {rep['finished']} ({rep['duration_s']:g} s of live data)",
        f"- **Result: {rep['result'].upper()}**",
        "",
        "## Acceptance checks",
        "",
        "| | Check | Seen | Detail |",
        "|---|---|---|---|",
    ]
    for c in rep["checks"]:
        seen = ", ".join(f"{k}={v}" for k, v in c.get("values", {}).items() if v not in (None, {}))
        lines.append(
            f"| {'✅ pass' if c['passed'] else '❌ fail'} | {c['title']} | {seen} | {c.get('detail', '')} |"
        )
    lines += [
        "",
        "## Devices",
        "",
        "| Asset | Path | Reader | Profile | Identification |",
        "|---|---|---|---|---|",
    ]
    for role, d in rep["devices"].items():
        lines.append(
            f"| {role} | `{d['path']}` | {d['adapter']} | {d.get('profile') or '—'} | "
            f"{d.get('identification') or '—'} |"
        )
    lines += ["", "## Plugins", "", "| Component type | Distribution | Version |", "|---|---|---|"]
    for p in rep["plugins"]:
        lines.append(f"| {p['type']} | {p['distribution']} | {p['version']} |")
    return "\n".join(lines) + "\n"

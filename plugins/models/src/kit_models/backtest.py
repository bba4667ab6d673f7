"""Backtest: replay history through a model version and through the ISO zone rule, side by side.

Both see the same rows in time order, as the live component would:

* the **model** scores tumbling windows of its own length and raises after its
  ``on_windows`` high windows in a row (the component's hysteresis); an alert is known when
  the window closes;
* the **rule** is the fallback the component runs: the vibration signal entering zone C or D
  raises, back to zone A or B clears (ISO 20816 zones of the condition plugin, machine class
  or custom boundaries, with its 5 % hysteresis on the way down so a reading hovering on the
  boundary does not chatter).

With a known fault onset (a simulator run, or a fault found on the machine whose start the
history shows) every alert before the onset is a false alert and every alert from the onset
on is a detection. Figures per detector:

* detection delay: first detection − onset; lead time: fault confirmed − first detection
  (default: the end of the replayed history, i.e. when the machine was stopped);
* false alerts per week: alerts before the onset / weeks of history before the onset;
* precision: detections / all alerts (%).

Without an onset the history is taken as healthy: only false alerts per week are figures.
"""

from __future__ import annotations

from typing import Any

from kit_condition.iso20816 import zone

from kit_models.detector import AlertState, RobustMahalanobis, windows_from_rows
from kit_models.workorders import iso

WEEK_S = 7 * 86400.0


def model_alerts(doc: dict[str, Any], rows: list[tuple[float, str, float]]) -> list[float]:
    """Times the model version in ``doc`` raises an alert on ``rows`` (window end times)."""
    model = RobustMahalanobis.from_dict(doc["model"])
    p = doc["manifest"]["parameters"]
    window_s = float(p["window_s"])
    st = AlertState(int(p["on_windows"]), int(p["off_windows"]))
    out = []
    for start, vec in windows_from_rows(rows, model.signals, window_s):
        if st.update(model.score(vec) > model.threshold) == "raised":
            out.append(start + window_s)
    return out


def rule_alerts(
    rows: list[tuple[float, str, float]], signal: str, bounds: tuple[float, float, float]
) -> list[float]:
    """Times the zone rule raises: ``signal`` enters zone C or D from zone A or B."""
    out, current = [], None
    for t, s, v in rows:
        if s != signal:
            continue
        z = zone(v, bounds, current)
        if z in "CD" and (current is None or current in "AB"):
            out.append(t)
        current = z
    return out


def figures(
    raised: list[float], start: float, end: float, onset: float | None, fault_at: float | None
) -> dict[str, Any]:
    """Figures of one detector's alert times over the history ``start`` .. ``end``."""
    healthy_end = onset if onset is not None else end
    false = [t for t in raised if t < healthy_end]
    hits = [t for t in raised if onset is not None and t >= onset]
    weeks = (healthy_end - start) / WEEK_S
    first = hits[0] if hits else None
    fault = fault_at if fault_at is not None else end
    return {
        "alerts": len(raised),
        "false_alerts": len(false),
        "false_alerts_per_week": len(false) / weeks if weeks > 0 else None,
        "detections": len(hits),
        "precision_pct": 100.0 * len(hits) / len(raised) if raised and onset is not None else None,
        "first_detection": iso(first),
        "delay_h": (first - onset) / 3600 if first is not None and onset is not None else None,
        "lead_time_h": (fault - first) / 3600 if first is not None else None,
    }


def run(
    doc: dict[str, Any],
    rows: list[tuple[float, str, float]],
    *,
    rule_signal: str,
    bounds: tuple[float, float, float],
    onset: float | None = None,
    fault_at: float | None = None,
    source: str = "",
) -> dict[str, Any]:
    """Backtest ``doc`` on ``rows`` (time-ordered ``(ts, signal, value)``); JSON-able result.

    Raises:
        ValueError: no rows, or the rule signal is not among the rows' signals.
    """
    if not rows:
        raise ValueError("no history to replay")
    if rule_signal not in {s for _t, s, _v in rows[:10_000]}:
        raise ValueError(f"rule signal {rule_signal!r} has no values in the history")
    start, end = rows[0][0], rows[-1][0]
    m = doc["manifest"]
    tr = m.get("training") or {}
    return {
        "model": m["name"],
        "version": m["version"],
        "source": source,
        "from": iso(start),
        "to": iso(end),
        "days": (end - start) / 86400,
        "onset": iso(onset),
        "fault_at": iso(fault_at if fault_at is not None else end if onset is not None else None),
        "rule": {"signal": rule_signal, "zone_c": bounds[1], "bounds": list(bounds)},
        "training": {"from": tr.get("from"), "to": tr.get("to")},
        "model_figures": figures(model_alerts(doc, rows), start, end, onset, fault_at),
        "rule_figures": figures(
            rule_alerts(rows, rule_signal, bounds), start, end, onset, fault_at
        ),
    }


def table(res: dict[str, Any]) -> str:
    """The result as a plain-text table for a maintenance lead."""

    def f(v: Any, fmt: str) -> str:
        return "—" if v is None else format(v, fmt)

    m, r = res["model_figures"], res["rule_figures"]
    head = f"model {res['model']} v{res['version']}"
    rule = f"ISO zone rule ({res['rule']['signal']} ≥ {res['rule']['zone_c']:g} mm/s)"
    rows = [
        ("detected after onset (h)", f(m["delay_h"], ".2f"), f(r["delay_h"], ".2f")),
        ("lead time before fault (h)", f(m["lead_time_h"], ".2f"), f(r["lead_time_h"], ".2f")),
        (
            "false alerts per week",
            f(m["false_alerts_per_week"], ".1f"),
            f(r["false_alerts_per_week"], ".1f"),
        ),
        ("precision (%)", f(m["precision_pct"], ".0f"), f(r["precision_pct"], ".0f")),
        (
            "alerts: false / detections",
            f"{m['false_alerts']} / {m['detections']}",
            f"{r['false_alerts']} / {r['detections']}",
        ),
    ]
    w0 = max(len(x[0]) for x in rows)
    w1 = max(len(head), *(len(x[1]) for x in rows))
    lines = [
        f"backtest of {head} on {res['source'] or 'history'}: {res['from']} .. {res['to']} "
        f"({res['days']:.1f} days)",
        f"fault onset {res['onset']}, fault confirmed {res['fault_at']}"
        if res["onset"]
        else "no fault onset given: the whole history is taken as healthy",
        "",
        f"{'':{w0}}  {head:>{w1}}  {rule}",
        *(f"{a:{w0}}  {b:>{w1}}  {c:>{len(rule)}}" for a, b, c in rows),
    ]
    tr = res["training"]
    if tr.get("from") and tr.get("to") and tr["from"] < res["to"] and res["from"] < tr["to"]:
        lines.append(
            f"note: the history overlaps the model's training window ({tr['from']} .. {tr['to']});"
            " figures on data the model learned from flatter it"
        )
    return "\n".join(lines)

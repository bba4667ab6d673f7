"""SVG charts of a pilot report, written by hand (no plotting library): a manager reads them
at a glance, and the same bytes go into the HTML page, the SVG files and the evidence pack.

* :func:`trend_svg` — one dot per shift over time; the baseline's 10–90 % band shaded
  across the whole chart with its mean dashed, the target line, and where the pilot began.
* :func:`distribution_svg` — before/after box plots (box: middle half of the shifts,
  whiskers: 10–90 %, line: median, diamond: mean) over the shifts as dots, with the change
  and its interval written beside them.

Colours are paired with shape and words (grey = baseline, blue = pilot, green = target),
never colour alone. Every chart has a ``<title>`` for screen readers.
"""

from __future__ import annotations

import math
from datetime import datetime
from html import escape
from typing import Any

from kit_pilot.fmt import fmt, fmt_change, is_ratio

W, H = 760, 280
ML, MR, MT, MB = 70, 20, 30, 40
BASE, PILOT, TARGET, BAND = "#6b7280", "#1d4ed8", "#15803d", "#e5e7eb"


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """Evenly spaced values from ``lo`` to ``hi`` (time axes)."""
    if hi <= lo:
        return [lo]
    return [lo + (hi - lo) * i / (n - 1) for i in range(n)]


def _nice_ticks(lo: float, hi: float, n: int = 5) -> tuple[list[float], int]:
    """Round tick values (steps of 1, 2 or 5 × 10^k) inside ``[lo, hi]`` and the decimals
    they need — an axis reads "600 s, 1200 s", not "654.820 s"."""
    if hi <= lo:
        return [lo], 3
    raw = (hi - lo) / max(1, n - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    ticks = []
    v = first
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 12))
        v += step
    return ticks, max(0, -math.floor(math.log10(step)))


def _tick_label(v: float, unit: str | None, ratio: bool, decimals: int) -> str:
    if ratio:
        return f"{v * 100:.{max(0, decimals - 2)}f} %"
    return f"{v:.{decimals}f}{' ' + unit if unit else ''}"


def _yrange(values: list[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 1.0
    return lo - pad, hi + pad


def _label(v: float, unit: str | None, ratio: bool) -> str:
    return f"{v * 100:.1f} %" if ratio else fmt(v, unit)


def trend_svg(goal: dict[str, Any]) -> str:
    """Trend of one goal (a report's ``goals[i]``) as an SVG document."""
    base = [(datetime.fromisoformat(t), v) for t, v in goal["series"]["baseline"]]
    pil = [(datetime.fromisoformat(t), v) for t, v in goal["series"]["pilot"]]
    unit = goal["unit"]
    title = f"{goal['goal']}: per-shift {goal['kpi']} over time"
    pts = base + pil
    if not pts:
        return _empty(title)
    db = goal["distributions"]["baseline"]
    ys = [v for _, v in pts] + ([goal["target"]] if goal["target"] is not None else [])
    if db.get("n"):
        ys += [db["p10"], db["p90"]]
    ratio = all(is_ratio(v, unit) for v in ys)
    y0, y1 = _yrange(ys)
    t0 = min(t for t, _ in pts).timestamp()
    t1 = max(t for t, _ in pts).timestamp()
    span = (t1 - t0) or 1.0

    def x(t: datetime) -> float:
        return ML + (t.timestamp() - t0) / span * (W - ML - MR)

    def y(v: float) -> float:
        return MT + (y1 - v) / (y1 - y0) * (H - MT - MB)

    out = [_head(title)]
    yticks, dec = _nice_ticks(y0, y1)
    for tv in yticks:
        out.append(
            f'<line x1="{ML}" x2="{W - MR}" y1="{y(tv):.1f}" y2="{y(tv):.1f}" stroke="#f3f4f6"/>'
            f'<text x="{ML - 6}" y="{y(tv) + 4:.1f}" text-anchor="end">{escape(_tick_label(tv, unit, ratio, dec))}</text>'
        )
    if db.get("n"):
        out.append(
            f'<rect x="{ML}" y="{y(db["p90"]):.1f}" width="{W - ML - MR}" '
            f'height="{max(1.0, y(db["p10"]) - y(db["p90"])):.1f}" fill="{BAND}">'
            "<title>baseline: middle 80 % of shifts (10th–90th percentile)</title></rect>"
            f'<line x1="{ML}" x2="{W - MR}" y1="{y(db["mean"]):.1f}" y2="{y(db["mean"]):.1f}" '
            f'stroke="{BASE}" stroke-dasharray="6 4"/>'
        )
    if goal["target"] is not None:
        ty = y(goal["target"])
        out.append(
            f'<line x1="{ML}" x2="{W - MR}" y1="{ty:.1f}" y2="{ty:.1f}" stroke="{TARGET}" '
            f'stroke-width="2" stroke-dasharray="2 3"/>'
            f'<text x="{W - MR - 4}" y="{ty - 5:.1f}" text-anchor="end" fill="{TARGET}">'
            f"target {escape(_label(goal['target'], unit, ratio))}</text>"
        )
    if pil:
        px = x(pil[0][0])
        out.append(
            f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{MT}" y2="{H - MB}" stroke="#111827"/>'
            f'<text x="{px + 4:.1f}" y="{MT + 10}">pilot starts</text>'
        )
    for t, v in base:
        out.append(f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.6" fill="{BASE}"/>')
    for t, v in pil:
        cx, cy = x(t), y(v)
        out.append(
            f'<rect x="{cx - 2.6:.1f}" y="{cy - 2.6:.1f}" width="5.2" height="5.2" fill="{PILOT}"/>'
        )
    for tv in _ticks(t0, t1, 5):
        d = datetime.fromtimestamp(tv, pts[0][0].tzinfo)
        out.append(
            f'<text x="{ML + (tv - t0) / span * (W - ML - MR):.1f}" y="{H - MB + 16}" '
            f'text-anchor="middle">{d:%d %b}</text>'
        )
    out.append(
        f'<text x="{ML}" y="{H - 6}">● baseline shift   ■ pilot shift   '
        f"▭ baseline 10–90 %, dashed: its mean   ⋯ target</text>"
    )
    out.append("</svg>")
    return "".join(out)


def distribution_svg(goal: dict[str, Any]) -> str:
    """Before/after distributions of one goal's per-shift values as an SVG document."""
    unit = goal["unit"]
    c = goal["comparison"]
    title = f"{goal['goal']}: baseline vs pilot shifts"
    rows = [
        (
            "baseline",
            [v for _, v in goal["series"]["baseline"]],
            goal["distributions"]["baseline"],
            BASE,
        ),
        ("pilot", [v for _, v in goal["series"]["pilot"]], goal["distributions"]["pilot"], PILOT),
    ]
    allv = [v for _, xs, _, _ in rows for v in xs]
    if not allv:
        return _empty(title)
    ratio = all(is_ratio(v, unit) for v in allv)
    x0, x1 = _yrange(allv)
    h = 200

    def x(v: float) -> float:
        return ML + 30 + (v - x0) / (x1 - x0) * (W - ML - MR - 230)

    out = [_head(title, h)]
    xticks, dec = _nice_ticks(x0, x1)
    for tv in xticks:
        out.append(
            f'<line x1="{x(tv):.1f}" x2="{x(tv):.1f}" y1="30" y2="{h - 28}" stroke="#f3f4f6"/>'
            f'<text x="{x(tv):.1f}" y="{h - 14}" text-anchor="middle">{escape(_tick_label(tv, unit, ratio, dec))}</text>'
        )
    for i, (name, xs, d, col) in enumerate(rows):
        cy = 50 + i * 60
        out.append(f'<text x="{ML + 20}" y="{cy + 4}" text-anchor="end">{name}</text>')
        for k, v in enumerate(xs):  # dots, spread by a fixed pattern (no randomness)
            out.append(
                f'<circle cx="{x(v):.1f}" cy="{cy + ((k * 7) % 21) - 10}" r="2" fill="{col}" opacity="0.45"/>'
            )
        if d.get("n"):
            out.append(
                f'<line x1="{x(d["p10"]):.1f}" x2="{x(d["p90"]):.1f}" y1="{cy}" y2="{cy}" stroke="{col}" stroke-width="2"/>'
                f'<rect x="{x(d["p25"]):.1f}" y="{cy - 14}" width="{max(1.0, x(d["p75"]) - x(d["p25"])):.1f}" '
                f'height="28" fill="none" stroke="{col}" stroke-width="2"/>'
                f'<line x1="{x(d["median"]):.1f}" x2="{x(d["median"]):.1f}" y1="{cy - 14}" y2="{cy + 14}" stroke="{col}" stroke-width="3"/>'
                f'<path d="M{x(d["mean"]):.1f},{cy - 7} l7,7 l-7,7 l-7,-7z" fill="{col}"/>'
                f'<text x="{W - MR - 190}" y="{cy + 4}">{d["n"]} shifts, mean {escape(_label(d["mean"], unit, ratio))}</text>'
            )
    ci = (
        f"change {fmt_change(c['change'], unit)} [{fmt_change(c['ci_low'], unit)} … "
        f"{fmt_change(c['ci_high'], unit)}] → {c['verdict']}"
        if c["change"] is not None
        else c["verdict"]
    )
    out.append(f'<text x="{ML}" y="20" font-weight="bold">{escape(ci)}</text>')
    out.append("</svg>")
    return "".join(out)


def _head(title: str, h: int = H) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" width="{W}" height="{h}" '
        f'font-family="sans-serif" font-size="11" role="img"><title>{escape(title)}</title>'
        f'<rect width="{W}" height="{h}" fill="white"/>'
    )


def _empty(title: str) -> str:
    return _head(title, 60) + f'<text x="{ML}" y="35">{escape(title)}: no data yet</text></svg>'

"""What a work order carries besides the alert: a plot of the signals, checks, a priority.

The plot shows each signal's window means over the hour or so before the alert (the windows
the model scored), one row per signal scaled to its own range, as text (one block character
per window, for a terminal or an e-mail) and as a small standalone SVG (for a CMMS ticket
or a browser). Suggested checks come from the signal that moved most; they are a starting
point for the technician, not a diagnosis (docs/models.md, "What a model can and cannot tell").
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

BLOCKS = "▁▂▃▄▅▆▇█"
PRIORITIES = ("low", "medium", "high")

#: Keyword in a signal's (or its point's) name → checks for a technician.
CHECKS: list[tuple[tuple[str, ...], list[str]]] = [
    (
        ("vib", "velocity", "acceleration"),
        [
            "Listen to and feel the bearing housings; compare with a sister machine",
            "Measure a vibration spectrum / envelope: bearing defect frequencies, 1× and 2× running speed",
            "Check lubrication (grease quantity, interval, contamination)",
            "Check alignment, coupling and mounting bolts (looseness)",
        ],
    ),
    (
        ("temp",),
        [
            "Check cooling: fan, fins, filters, ambient temperature",
            "Compare the temperature sensor with a handheld reading (sensor drift)",
            "Check for overload or frequent starts",
        ],
    ),
    (
        ("current", "power", "amp"),
        [
            "Check the load and the process (jam, mechanical binding, product change)",
            "Measure supply voltage and phase balance",
        ],
    ),
    (
        ("pressure", "flow"),
        [
            "Check filters and strainers for clogging; check for leaks",
            "Check valve positions and pump wear (compare with the pump curve)",
        ],
    ),
]
GENERAL = "Confirm the sensors read correctly before opening the machine"


def suggested_checks(contributions: dict[str, float], points: dict[str, str]) -> list[str]:
    """Checks for the signals that moved most (largest |robust z| first), then a general one."""
    out: list[str] = []
    for signal in sorted(contributions, key=lambda s: -abs(contributions[s]))[:2]:
        name = f"{signal} {points.get(signal, '')}".lower()
        for keys, checks in CHECKS:
            if any(k in name for k in keys):
                out += [c for c in checks if c not in out]
                break
    return [*out, GENERAL]


def priority(ratio: float, confirmed: bool) -> str:
    """``high`` from 3× the threshold, ``medium`` from 1.5×, else ``low``; a person's
    confirmation raises it one step (a real fault someone has looked at comes first)."""
    i = 2 if ratio >= 3 else 1 if ratio >= 1.5 else 0
    return PRIORITIES[min(i + (1 if confirmed else 0), 2)]


def _minutes(ts: list[float], alert_ts: float) -> str:
    return f"{(ts[0] - alert_ts) / 60:+.0f} min" if ts else ""


def text_plot(ev: dict[str, Any], alert_ts: float) -> str:
    """One line per signal: a block character per window, then its range."""
    ts, signals, rows = ev.get("t", []), ev.get("signals", []), ev.get("values", [])
    if not ts:
        return "(no windows recorded)"
    width = max(len(s) for s in signals)
    lines = []
    for i, s in enumerate(signals):
        col = [r[i] for r in rows]
        lo, hi = min(col), max(col)
        span = hi - lo or 1.0
        bars = "".join(
            BLOCKS[min(int((v - lo) / span * len(BLOCKS)), len(BLOCKS) - 1)] for v in col
        )
        lines.append(f"{s:<{width}}  {bars}  {lo:.3g} .. {hi:.3g}")
    when = datetime.fromtimestamp(alert_ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines.append(f"{'':<{width}}  {_minutes(ts, alert_ts)} … alert at {when} (one mark per window)")
    return "\n".join(lines)


def svg_plot(ev: dict[str, Any], alert_ts: float, width: int = 480, row_h: int = 56) -> str:
    """A standalone SVG: one panel per signal, its range at the right, the alert time marked."""
    ts, signals, rows = ev.get("t", []), ev.get("signals", []), ev.get("values", [])
    left, right, top = 70, 70, 8
    plot_w = width - left - right
    height = top + row_h * max(len(signals), 1) + 18
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    if ts:
        t0, t1 = ts[0], max(ts[-1], alert_ts)
        dt = (t1 - t0) or 1.0

        def x(t: float) -> float:
            return float(left + (t - t0) / dt * plot_w)

        for i, s in enumerate(signals):
            col = [r[i] for r in rows]
            lo, hi = min(col), max(col)
            span = hi - lo or 1.0
            y0 = top + i * row_h
            pts = " ".join(
                f"{x(t):.1f},{y0 + row_h - 8 - (v - lo) / span * (row_h - 16):.1f}"
                for t, v in zip(ts, col)
            )
            parts += [
                f'<text x="4" y="{y0 + row_h / 2:.0f}">{escape(s)}</text>',
                f'<polyline fill="none" stroke="#1f5fa8" stroke-width="1.5" points="{pts}"/>',
                f'<text x="{left + plot_w + 4}" y="{y0 + 14}">{hi:.3g}</text>',
                f'<text x="{left + plot_w + 4}" y="{y0 + row_h - 6}">{lo:.3g}</text>',
            ]
        xa = x(alert_ts)
        parts += [
            f'<line x1="{xa:.1f}" y1="{top}" x2="{xa:.1f}" y2="{height - 16}" '
            'stroke="#c0392b" stroke-dasharray="4 2"/>',
            f'<text x="{left}" y="{height - 4}">{escape(_minutes(ts, alert_ts))}</text>',
            f'<text x="{xa - 28:.1f}" y="{height - 4}" fill="#c0392b">alert</text>',
        ]
    else:
        parts.append('<text x="8" y="20">no windows recorded</text>')
    parts.append("</svg>")
    return "".join(parts)

"""The Scan report as one self-contained HTML file: inline CSS and SVG, no scripts, no
external assets (it must open from a USB stick on a manager's laptop and print).

Renders a :class:`kit.scan.report.ScanReport` only. The graphics are for readers who would
rather look than read: headline figures, the money range of each opportunity as a bar,
readiness per dimension on the 0–5 band scale, and the share of devices identified. Every
element carries a ``data-*`` attribute or id the browser test looks for after rendering.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

from kit.scan.opportunities import Opportunity
from kit.scan.report import ScanReport, scanned_sentence
from kit.scan.tables import DEVICE_HEADER, OPPORTUNITY_HEADER, money, opportunity_rows

GREEN: Final = "#2e7d32"
AMBER: Final = "#ef8f00"
GREY: Final = "#9e9e9e"
BLUE: Final = "#1565c0"
RED: Final = "#c62828"

CSS: Final = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1b1b1b;background:#f5f6f8}
main{max-width:1100px;margin:0 auto;padding:24px 32px;background:#fff}
h1{margin:0 0 4px;font-size:28px}h2{margin:28px 0 8px;font-size:21px;border-bottom:2px solid #e3e6ea;padding-bottom:4px}
h3{font-size:16px;margin:16px 0 6px}.muted{color:#5f6368;font-size:13px}
.cards{display:flex;gap:12px;margin:16px 0}.card{flex:1;border:1px solid #e3e6ea;border-radius:8px;padding:12px 14px}
.card b{display:block;font-size:26px}.card span{color:#5f6368;font-size:13px}
.start{background:#e8f5e9;border-left:6px solid #2e7d32;padding:12px 16px;border-radius:6px;font-size:16px}.start ol{margin:6px 0 0}
table{border-collapse:collapse;width:100%;font-size:13px;margin:6px 0}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eceff1;vertical-align:top}
th{background:#f1f3f4}code{background:#f1f3f4;padding:1px 4px;border-radius:3px;font-size:12px}
.gap{color:#c62828}.ok{color:#2e7d32}ul{padding-left:20px}li{margin:3px 0}
.row{display:flex;gap:24px;align-items:flex-start}.row>div{flex:1}
@media print{body{background:#fff}main{padding:0}}
"""


def _e(s: object) -> str:
    return escape(str(s), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], tid: str) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table id="{tid}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _nice_max(x: float) -> float:
    """A round axis end ≥ x (1, 2, 2.5, 5 × 10^k)."""
    if x <= 0:
        return 1.0
    k = 1.0
    while k * 10 <= x:
        k *= 10
    while k > x:
        k /= 10
    for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if m * k >= x:
            return m * k
    return 10 * k


def chart_groups(r: ScanReport, top: int = 8) -> list[tuple[Opportunity, int]]:
    """(best opportunity, how many) per recipe and status, best first: the same recipe on
    four meters is one bar "× 4", not four equal bars."""
    groups: dict[tuple[str, str], list[Opportunity]] = {}
    for o in r.opportunities:
        if o.case is not None:
            groups.setdefault((o.recipe, o.status), []).append(o)
    return [(g[0], len(g)) for g in groups.values()][:top]


def opportunity_chart(r: ScanReport, top: int = 8) -> str:
    """Horizontal range bars (low–high per asset and year), best first."""
    grouped = chart_groups(r, top)
    opps = [o for o, _ in grouped]
    if not opps:
        return '<p class="muted" id="chart-opportunities">No business case yet.</p>'
    cur = opps[0].case.currency if opps[0].case else ""
    hi = _nice_max(max(o.case.high for o in opps if o.case))
    left, width, row = 250, 560, 34
    height = row * len(opps) + 58
    parts = [
        f'<svg id="chart-opportunities" role="img" aria-label="Opportunities by value" '
        f'width="{left + width + 40}" height="{height}" viewBox="0 0 {left + width + 40} {height}" '
        'xmlns="http://www.w3.org/2000/svg" font-family="system-ui,sans-serif" font-size="12">'
    ]
    for t in range(5):
        x = left + width * t / 4
        parts.append(
            f'<line x1="{x:.1f}" y1="8" x2="{x:.1f}" y2="{height - 42}" stroke="#e0e0e0"/>'
            f'<text x="{x:.1f}" y="{height - 26}" text-anchor="middle" fill="#5f6368">'
            f"{_e(money(hi * t / 4, '').strip())}</text>"
        )
    parts.append(
        f'<text x="{left + width}" y="{height - 1}" text-anchor="end" fill="#5f6368">'
        f"{_e(cur)} per asset and year</text>"
    )
    for i, (o, count) in enumerate(grouped):
        assert o.case is not None
        y = 10 + i * row
        x0 = left + width * o.case.low / hi
        x1 = left + width * o.case.high / hi
        color = GREEN if o.status == "fits" else AMBER
        label = f"{o.recipe} #{o.device}" if count == 1 else f"{o.recipe} × {count} devices"
        each = " each" if count > 1 else ""
        parts.append(
            f'<g data-opportunity="{_e(o.recipe)}" data-status="{o.status}" data-count="{count}">'
            f'<text x="{left - 8}" y="{y + 15}" text-anchor="end">{_e(label)}</text>'
            f'<rect x="{x0:.1f}" y="{y + 3}" width="{max(x1 - x0, 3):.1f}" height="18" rx="4" '
            f'fill="{color}" opacity="0.85"/>'
            f'<text x="{min(x1 + 6, left + width - 2):.1f}" y="{y + 16}" fill="#333">'
            f"{_e(money(o.case.low, '').strip())} – {_e(money(o.case.high, '').strip())}{each}"
            "</text></g>"
        )
    parts.append("</svg>")
    legend = (
        f'<p class="muted"><span style="color:{GREEN}">■</span> fits now &nbsp; '
        f'<span style="color:{AMBER}">■</span> needs one more signal</p>'
    )
    return "".join(parts) + legend


def fit_matrix(r: ScanReport, max_rows: int = 20) -> str:
    """Devices × recipes: a green dot where a recipe fits the device now, an amber ring
    where it needs one more signal, nothing otherwise; unknown devices greyed out."""
    cells: dict[tuple[str, str], str] = {}
    for o in r.opportunities:
        for a in o.assets:
            if a.device is not None:
                key = (str(a.device), o.recipe)
                if cells.get(key) != "fits":
                    cells[key] = "fits" if not a.missing and o.status == "fits" else "needs_signal"
    recipes = list(dict.fromkeys(o.recipe for o in r.opportunities))
    rows = [row for row in r.devices if row[0] != "-"][:max_rows]
    if not recipes or not rows:
        return ""
    left, top, colw, rowh = 330, 96, 112, 24
    # Room on the right for the last (slanted) recipe name.
    width, height = left + colw * len(recipes) + 100, top + rowh * len(rows) + 8
    parts = [
        f'<svg id="chart-fit" role="img" aria-label="Which recipes fit which devices" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'xmlns="http://www.w3.org/2000/svg" font-family="system-ui,sans-serif" font-size="12">'
    ]
    for j, rid in enumerate(recipes):
        x = left + colw * j + colw / 2
        parts.append(
            f'<text x="{x:.0f}" y="{top - 10}" transform="rotate(-30 {x:.0f} {top - 10})" '
            f'fill="#333">{_e(rid)}</text>'
        )
    for i, row in enumerate(rows):
        y = top + rowh * i
        known = not row[4].startswith(("unknown", "busy", "error"))
        if i % 2 == 0:
            parts.append(f'<rect x="0" y="{y}" width="{width}" height="{rowh}" fill="#f7f8f9"/>')
        what = row[4] if known else row[4].split(" ")[0]
        parts.append(
            f'<text x="6" y="{y + 16}" fill="{"#1b1b1b" if known else GREY}">'
            f"#{_e(row[0])} {_e(row[1])} · {_e(what)}</text>"
        )
        for j, rid in enumerate(recipes):
            st = cells.get((row[0], rid))
            cx, cy = left + colw * j + colw / 2, y + rowh / 2
            if st == "fits":
                parts.append(
                    f'<circle data-fit="{st}" cx="{cx:.0f}" cy="{cy:.0f}" r="7" fill="{GREEN}"/>'
                )
            elif st == "needs_signal":
                parts.append(
                    f'<circle data-fit="{st}" cx="{cx:.0f}" cy="{cy:.0f}" r="6" fill="none" '
                    f'stroke="{AMBER}" stroke-width="3"/>'
                )
    parts.append("</svg>")
    more = len([row for row in r.devices if row[0] != "-"]) - len(rows)
    note = (
        f'<p class="muted">… and {more} more device(s) in the table below.</p>' if more > 0 else ""
    )
    legend = (
        f'<p class="muted"><span style="color:{GREEN}">●</span> fits now &nbsp; '
        f'<span style="color:{AMBER}">○</span> needs one more signal &nbsp; grey: not '
        "identified, nothing matched</p>"
    )
    return "".join(parts) + legend + note


def readiness_chart(r: ScanReport) -> str:
    """One 0–5 gauge per dimension (SIRI-style bands)."""
    left, width, row = 130, 420, 44
    dims = r.readiness.dimensions
    height = row * len(dims) + 30
    parts = [
        f'<svg id="chart-readiness" role="img" aria-label="Readiness per dimension" '
        f'width="{left + width + 60}" height="{height}" viewBox="0 0 {left + width + 60} {height}" '
        'xmlns="http://www.w3.org/2000/svg" font-family="system-ui,sans-serif" font-size="13">'
    ]
    for b in range(6):
        x = left + width * b / 5
        parts.append(
            f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle" fill="#5f6368">{b}</text>'
        )
    for i, d in enumerate(dims):
        y = 8 + i * row
        score = d.score
        w = 0.0 if score is None else width * score / 5
        color = GREY if score is None else GREEN if score >= 3.5 else AMBER if score >= 2 else RED
        shown = "not assessed" if score is None else f"{score:g} / 5"
        parts.append(
            f'<g data-dimension="{d.dimension}" data-score="{"" if score is None else score}">'
            f'<text x="{left - 10}" y="{y + 19}" text-anchor="end">{_e(d.dimension)}</text>'
            f'<rect x="{left}" y="{y + 4}" width="{width}" height="22" rx="5" fill="#eceff1"/>'
            f'<rect x="{left}" y="{y + 4}" width="{w:.1f}" height="22" rx="5" fill="{color}"/>'
            f'<text x="{left + width + 8}" y="{y + 20}">{_e(shown)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def devices_chart(r: ScanReport) -> str:
    """A ring: identified vs unknown vs other device statuses."""
    s = r.scanned
    unknown = sum(1 for row in r.devices if row[0] != "-" and row[4].startswith("unknown"))
    other = s.devices - s.identified - unknown
    parts = [
        '<svg id="chart-devices" role="img" aria-label="Devices identified" width="300" '
        'height="170" viewBox="0 0 300 170" xmlns="http://www.w3.org/2000/svg" '
        'font-family="system-ui,sans-serif" font-size="12">'
    ]
    radius, cx, cy, circ = 56.0, 80.0, 80.0, 2 * 3.141592653589793 * 56.0
    total = max(s.devices, 1)
    offset = 0.0
    parts.append(
        f'<circle cx="{cx}" cy="{cy}" r="{radius}" fill="none" stroke="#eceff1" stroke-width="22"/>'
    )
    for n, color, name in (
        (s.identified, GREEN, "identified"),
        (unknown, AMBER, "unknown"),
        (other, GREY, "other"),
    ):
        if n <= 0:
            continue
        seg = circ * n / total
        parts.append(
            f'<circle data-segment="{name}" data-count="{n}" cx="{cx}" cy="{cy}" r="{radius}" '
            f'fill="none" stroke="{color}" stroke-width="22" stroke-dasharray="{seg:.2f} '
            f'{circ - seg:.2f}" stroke-dashoffset="{-offset:.2f}" '
            f'transform="rotate(-90 {cx} {cy})"/>'
        )
        offset += seg
    parts.append(
        f'<text x="{cx}" y="{cy + 2}" text-anchor="middle" font-size="22" font-weight="bold">'
        f'{s.identified}/{s.devices}</text><text x="{cx}" y="{cy + 20}" text-anchor="middle" '
        'fill="#5f6368">identified</text>'
    )
    for i, (n, color, name) in enumerate(
        (
            (s.identified, GREEN, "identified"),
            (unknown, AMBER, "unknown"),
            (other, GREY, "busy/error"),
        )
    ):
        parts.append(
            f'<rect x="150" y="{48 + i * 22}" width="12" height="12" fill="{color}"/>'
            f'<text x="168" y="{58 + i * 22}">{n} {name}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def to_html(r: ScanReport) -> str:
    """The report as one HTML document (no scripts, no external references)."""
    s = r.scanned
    steps = []
    for best in r.first_steps():
        worth = ""
        if best.case is not None:
            worth = (
                f" — an estimated <b>{_e(money(best.case.low, best.case.currency))} – "
                f"{_e(money(best.case.high, best.case.currency))}</b> per asset and year"
            )
        need = f"; first wire {_e(', '.join(best.missing))}" if best.missing else ""
        steps.append(
            f"<li>Install <b>{_e(best.title)}</b> on device #{_e(best.device)}{worth}{need}. "
            f"<code>{_e(best.install_hint())}</code></li>"
        )
    start = (
        f'<div class="start" id="start-here">Start here:<ol>{"".join(steps)}</ol></div>'
        if steps
        else '<div class="start" id="start-here">No recipe fits the devices found yet.</div>'
    )
    scores = [d.score for d in r.readiness.dimensions if d.score is not None]
    cards = [
        (s.devices, "devices found"),
        (f"{s.identified}/{s.devices}", "with a known profile"),
        (len(r.opportunities), "opportunities"),
        (f"{min(scores):g} / 5" if scores else "–", "lowest readiness score"),
    ]
    card_html = "".join(
        f'<div class="card"><b>{_e(v)}</b><span>{_e(t)}</span></div>' for v, t in cards
    )
    body = [
        f"<h1>{_e(r.title)}</h1>",
        f'<p class="muted" id="scanned">{_e(scanned_sentence(s))} Report generated '
        f"{_e(r.generated_at)} by {_e(r.generated_by)}.</p>",
        f'<div class="cards" id="headline">{card_html}</div>',
        start,
        "<h2>What it could be worth</h2>",
        opportunity_chart(r),
        _table(OPPORTUNITY_HEADER, opportunity_rows(r.opportunities), "opportunities")
        if r.opportunities
        else "<p>No opportunity yet.</p>",
        "<h2>Which recipes fit which devices</h2>" + fit_matrix(r) if r.opportunities else "",
        '<h2>Readiness</h2><div class="row"><div>',
        readiness_chart(r),
        "</div><div>",
        devices_chart(r),
        "</div></div>",
        _readiness_items(r),
        _cases(r),
        "<h2>Devices found</h2>",
        _table(DEVICE_HEADER, r.devices, "devices") if r.devices else "<p>None found.</p>",
        '<h2>Assumptions</h2><ul id="assumptions">'
        + "".join(f"<li>{_e(a)}</li>" for a in r.assumptions)
        + "</ul>",
        _inputs(r),
        _evidence(r),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(r.title)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def _cases(r: ScanReport) -> str:
    seen: set[str] = set()
    items = []
    for o in r.opportunities:
        if o.case is None or o.recipe in seen:
            continue
        seen.add(o.recipe)
        c = o.case
        items.append(
            f'<li data-case="{_e(o.recipe)}"><b>{_e(o.title)}</b>: '
            f"{_e(money(c.low, c.currency))} – {_e(money(c.high, c.currency))} per {_e(c.per)}. "
            f"{_e(c.base_label.capitalize())} ≈ {_e(money(c.base, c.currency))} × typical reported "
            f'{_e(c.effect)}. <span class="muted">{_e(c.formula)}. {_e(c.caveat)}</span></li>'
        )
    if not items:
        return ""
    return '<h2>How the values were estimated</h2><ul id="cases">' + "".join(items) + "</ul>"


def _readiness_items(r: ScanReport) -> str:
    out = []
    for d in r.readiness.dimensions:
        rows = []
        for i in d.items:
            cls = "ok" if i.points == 2 else "gap" if i.scored else "muted"
            ev = f' <span class="muted">measured: {_e(i.evidence)}</span>' if i.evidence else ""
            step = f"<br><b>Next step:</b> {_e(i.next_step)}" if i.next_step else ""
            rows.append(
                f'<li data-item="{_e(i.key)}">{_e(i.text)} <b class="{cls}">{_e(i.result)}</b>{ev}{step}</li>'
            )
        out.append(f"<h3>{_e(d.dimension.capitalize())}</h3><ul>{''.join(rows)}</ul>")
    return "".join(out)


def _inputs(r: ScanReport) -> str:
    if not r.site_inputs:
        return ""
    rows = [
        (i.label, f"{i.value} {i.unit}".strip(), "assumption (default)" if i.assumption else "site")
        for i in r.site_inputs
    ]
    return "<h2>Site figures used</h2>" + _table(("figure", "value", "from"), rows, "site-inputs")


def _evidence(r: ScanReport) -> str:
    if not r.evidence:
        return ""
    items = "".join(
        f'<li data-evidence="{_e(e.id)}"><b>{_e(e.text())}</b>. {_e(e.source.title)}, '
        f"{_e(e.source.publisher)} ({e.source.dated()}), {_e(e.source.url)}. "
        f'<span class="muted">{_e(e.note)}</span></li>'
        for e in r.evidence
    )
    return f'<h2>Evidence</h2><ul id="evidence">{items}</ul>'

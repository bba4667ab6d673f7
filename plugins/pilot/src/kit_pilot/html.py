"""The pilot report as one self-contained HTML page (inline CSS and SVG; no scripts, no
external files, so it opens offline, prints, and can be attached to an e-mail), and the
chart files beside it. Drawn only from the report data of :mod:`kit_pilot.report`.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from kit_pilot.charts import distribution_svg, trend_svg
from kit_pilot.fmt import fmt, fmt_change, fmt_money

_CSS = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:820px;color:#111827}
h1{font-size:22px;margin-bottom:4px} h2{font-size:18px;margin-top:28px;border-bottom:1px solid #e5e7eb}
.meta{color:#4b5563;font-size:13px}
.verdict{padding:10px 14px;border-radius:6px;font-weight:bold;margin:14px 0}
.met{background:#dcfce7;border:2px solid #15803d}.notmet{background:#fef9c3;border:2px solid #a16207}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border:1px solid #e5e7eb;padding:3px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}
.warn{color:#92400e}.warn li::marker{content:"⚠ "}
svg{max-width:100%;height:auto;display:block;margin:8px 0}
"""


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.0%}"


def _goal_html(g: dict[str, Any], currency: str) -> str:
    c, u = g["comparison"], g["unit"]
    ci = (
        f"[{fmt_change(c['ci_low'], u)} … {fmt_change(c['ci_high'], u)}]"
        if c["ci_low"] is not None
        else ""
    )
    v = g["value"]
    money = (
        f"{fmt_money(v['per_year'], currency)} per year "
        f"(range {fmt_money(v['per_year_low'], currency)} … {fmt_money(v['per_year_high'], currency)}); "
        f"{fmt_money(v['per_shift'], currency)} per shift — {escape(v['rule'])}"
        if v["per_year"] is not None
        else f"not valued: {escape(v['reason'] or '')}"
    )
    rows = "".join(
        f"<tr><td>{escape(s['shift'])}</td>"
        + "".join(
            f"<td>{s[w]['n']}</td><td>{escape(fmt(s[w].get('mean'), u))}</td>"
            f"<td>{escape(fmt(s[w].get('p10'), u))} … {escape(fmt(s[w].get('p90'), u))}</td>"
            for w in ("baseline", "pilot")
        )
        + "</tr>"
        for s in g["distributions"]["by_shift"]
    )
    warns = "".join(f"<li>{escape(w)}</li>" for w in g["warnings"])
    return f"""
<section class="goal" data-goal="{escape(g["goal"])}">
<h2>{escape(g["goal"])}: {escape(c["verdict"])}, {escape(g["status"])}</h2>
<table>
<tr><th></th><th>baseline</th><th>pilot</th></tr>
<tr><td>mean per shift</td><td>{escape(fmt(c["baseline_mean"], u))}</td><td>{escape(fmt(c["pilot_mean"], u))}</td></tr>
<tr><td>shifts</td><td>{c["n_baseline"]}</td><td>{c["n_pilot"]}</td></tr>
<tr><td>data complete</td><td>{_pct(g["completeness"]["baseline"])}</td><td>{_pct(g["completeness"]["pilot"])}</td></tr>
</table>
<p class="change"><b>Change {escape(fmt_change(c["change"], u))}</b> {escape(ci)}
({c["confidence"]:.0%} interval) → <b>{escape(c["verdict"])}</b>.
Target {escape(fmt(g["target"], u))}: <b>{escape(g["status"])}</b>.</p>
<p>Value: {money}</p>
{f'<ul class="warn">{warns}</ul>' if warns else ""}
{trend_svg(g)}
{distribution_svg(g)}
<table><tr><th>shift</th><th>baseline n</th><th>mean</th><th>10–90 %</th><th>pilot n</th><th>mean</th><th>10–90 %</th></tr>{rows}</table>
</section>"""


def render_html(report: dict[str, Any]) -> str:
    """The whole report page."""
    p = report["pilot"]
    cur = report["money"]["currency"]
    met = report["goal_met"]
    windows = report["windows"]
    base = (
        "imported pre-kit figures"
        if windows["baseline"] == "imported"
        else f"{windows['baseline'][0][:16]} → {windows['baseline'][1][:16]}"
    )
    held = [f"shifts {', '.join(p['context']['shifts'])} ({p['tz']})"]
    if p["context"].get("product_mix"):
        held.append(f"product mix {p['context']['product_mix']}")
    warns = "".join(f"<li>{escape(w)}</li>" for w in report["warnings"])
    total = report["money"]["per_year"]
    m = report["method"]
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Pilot {escape(p["name"])}</title>
<style>{_CSS}</style></head><body>
<h1>Pilot {escape(p["name"])}</h1>
<div class="meta">Owner {escape(p["owner"])} · goals {escape(", ".join(g["goal"] for g in report["goals"]))}<br>
Baseline {escape(base)} · pilot {escape(windows["pilot"][0][:16])} → {escape(windows["pilot"][1][:16])}<br>
Held fixed: {escape("; ".join(held))} · report made {escape(report["generated"][:16])}</div>
<div id="verdict" class="verdict {"met" if met else "notmet"}">{"✔ Goal met" if met else "✖ Goal not (yet) met"}
{"" if total is None else f" · value about {escape(fmt_money(total, cur))} per year"}</div>
{f'<ul class="warn">{warns}</ul>' if warns else ""}
{"".join(_goal_html(g, cur) for g in report["goals"])}
<h2>Value in money: assumptions</h2>
<ul>{"".join(f"<li>{escape(a)}</li>" for a in report["money"]["assumptions"])}</ul>
<h2>How the figures were made</h2>
<p>Each shift gives one value per KPI. The change is the pilot's mean minus the baseline's.
The interval is a percentile bootstrap: the shifts of each window were re-drawn with
replacement {m["resamples"]:,} times (seed {m["seed"]}); {m["confidence"]:.0%} of the re-drawn
differences lie inside it. If it contains zero the verdict is “{escape(m["no_change"])}”.
Fewer than {m["min_shifts"]} shifts or a window less than 80 % complete is flagged. The
numbers show an association in time, not its cause.</p>
</body></html>
"""


def write_outputs(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """``report.html``, ``report.json`` and per goal ``<kpi>-trend.svg`` and
    ``<kpi>-distribution.svg`` in ``out_dir``; returns the paths written."""
    import json

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    page = out_dir / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    written.append(page)
    data = out_dir / "report.json"
    data.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    written.append(data)
    for g in report["goals"]:
        for name, svg in (("trend", trend_svg(g)), ("distribution", distribution_svg(g))):
            f = out_dir / f"{g['kpi']}-{name}.svg"
            f.write_text(svg, encoding="utf-8")
            written.append(f)
    return written


def screenshot(html_file: Path, png: Path, *, width: int = 900, height: int = 1800) -> Path:
    """PNG of ``html_file`` rendered by headless Chromium (``chromium``/``chromium-browser``
    on PATH; ``KIT_CHROMIUM`` names another binary).

    Raises:
        KitError: no Chromium, or it did not write the picture.
    """
    import os
    import shutil
    import subprocess
    import tempfile

    from kit.errors import KitError

    exe = os.environ.get("KIT_CHROMIUM") or next(
        (p for n in ("chromium", "chromium-browser", "google-chrome") if (p := shutil.which(n))),
        None,
    )
    if exe is None:
        raise KitError(
            "--png needs Chromium (apt install chromium); the HTML and SVG files are written"
        )
    with tempfile.TemporaryDirectory() as profile:
        # A private profile directory: no first-run state, no clash with a running browser.
        proc = subprocess.run(
            [
                exe,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={png}",
                html_file.resolve().as_uri(),
            ],
            capture_output=True,
            timeout=120,
        )
    if not png.exists():
        raise KitError(f"Chromium wrote no picture: {proc.stderr.decode(errors='replace')[-400:]}")
    return png

"""Pilot report on a simulated machine with a fake clock (issue 15, "Done when"): 14 days of
baseline and 14 of pilot written into the historian's store (pilot_sim), the report's
statistics, money, warnings and HTML checked against the simulation's own figures.

The pilot lowers the stop rate from 2.0 to 1.2 per hour (true downtime change −576 s per
shift) and energy per part from 0.50 to 0.46 kWh (−0.04, −8 %).
"""

from __future__ import annotations

import json
import statistics
import subprocess
from datetime import timedelta

import pytest
from pilot_sim import DAYS, MEAN_STOP_S, NOW, START, kit, simulate, start_pilot

from kit.testing_tools import chromium


def _goal(report: dict, kpi: str) -> dict:
    return next(g for g in report["goals"] if g["kpi"] == kpi)


@pytest.mark.parametrize(
    ("kpi", "true_change"),
    [("downtime_s", 8 * (1.2 - 2.0) * MEAN_STOP_S), ("energy_per_part_kwh", -0.04)],
)
def test_report_finds_the_known_change_within_its_interval(site, kpi, true_change):
    g = _goal(site["report"], kpi)
    c = g["comparison"]
    ref = statistics.fmean(site["pilot"][kpi]) - statistics.fmean(site["base"][kpi])
    # Per shift: the final figure of each shift window (not the running ones, not rolling).
    assert c["n_baseline"] == 3 * DAYS and c["n_pilot"] == 3 * DAYS
    assert c["baseline_mean"] == pytest.approx(statistics.fmean(site["base"][kpi]), rel=1e-12)
    assert c["change"] == pytest.approx(ref, rel=1e-9)
    assert c["ci_low"] < true_change < c["ci_high"] < 0
    assert c["verdict"] == "decrease" and g["status"] == "target reached" and g["goal_met"]
    assert g["completeness"]["pilot"] > 0.99 and g["warnings"] == []
    assert site["report"]["goal_met"] and site["report"]["warnings"] == []


def test_value_in_money_follows_the_stated_rules(site):
    rep = site["report"]
    d = _goal(rep, "downtime_s")
    e = _goal(rep, "energy_per_part_kwh")
    per_d = -d["comparison"]["change"] / 3600 * 600
    per_e = -e["comparison"]["change"] * 4000 * 0.20
    assert d["value"]["per_shift"] == pytest.approx(per_d)
    assert e["value"]["per_year"] == pytest.approx(per_e * 3 * 250)
    lo, hi = sorted(
        -x / 3600 * 600 for x in (d["comparison"]["ci_low"], d["comparison"]["ci_high"])
    )
    assert d["value"]["per_shift_low"] == pytest.approx(lo) and d["value"][
        "per_shift_high"
    ] == pytest.approx(hi)
    assert rep["money"]["per_year"] == pytest.approx((per_d + per_e) * 750)
    assert any("0.2 GBP/kWh" in a for a in rep["money"]["assumptions"])


def test_no_change_case_and_missing_data_and_confounders(tmp_path):
    data = tmp_path / "d"
    simulate(data / "history", START - timedelta(days=DAYS), 3 * DAYS, 2.0, 0.50, seed=3)
    simulate(data / "history", START, 3 * DAYS, 2.0, 0.50, seed=4, drop=0.4)
    start_pilot(data, "same")
    out = tmp_path / "r"
    r = kit(
        data,
        "pilot",
        "report",
        "same",
        "-o",
        str(out),
        "--product-mix",
        "B-40 mostly",
        "--now",
        NOW.isoformat(),
    )
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "report.json").read_text())
    for g in rep["goals"]:
        assert g["comparison"]["verdict"] == "no significant change", g["goal"]
        assert not g["goal_met"]
        assert 0.55 < g["completeness"]["pilot"] < 0.65
        pct = round(100 * g["completeness"]["pilot"])
        assert any(f"pilot: data {pct}% complete ({100 - pct}% missing" in w for w in g["warnings"])
    assert any("product mix changed" in w for w in rep["warnings"])
    assert "no significant change" in r.output and "goal not (yet) met" in r.output
    html = (out / "report.html").read_text()
    assert "missing" in html and "Goal not (yet) met" in html


def test_clock_problems_are_flagged(tmp_path):
    data = tmp_path / "d"
    simulate(data / "history", START - timedelta(days=DAYS), 3 * DAYS, 2.0, 0.50, seed=3)
    simulate(data / "history", START, 3 * DAYS, 1.2, 0.46, seed=4)
    # A gateway clock set back replays two shifts' stamps; another runs a week ahead.
    simulate(data / "history", START + timedelta(days=2), 2, 1.2, 0.46, seed=5)
    simulate(data / "history", NOW + timedelta(days=7), 1, 1.2, 0.46, seed=6)
    start_pilot(data, "clk")
    r = kit(
        data,
        "pilot",
        "report",
        "clk",
        "-o",
        str(tmp_path / "r"),
        "--json",
        "--now",
        NOW.isoformat(),
    )
    g = _goal(json.loads(r.output), "downtime_s")
    assert g["clock"]["duplicates_pilot"] == 2 * 48 and g["clock"]["future"] == 2 * 48
    text = " ".join(g["warnings"])
    assert "repeated time stamp" in text and "time-stamped after the report time" in text


def test_html_report_renders_in_headless_chromium(site):
    html = site["out"] / "report.html"
    text = html.read_text()
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    dom = subprocess.run(
        [
            chromium(),  # Debian's, installed on first use when missing
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={site['tmp'] / 'chrome'}",
            "--dump-dom",
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "✔ Goal met" in dom and dom.count("<svg") == 4
    assert "downtime_s:-25%" in dom and "target reached" in dom
    from kit_pilot.html import screenshot

    png = screenshot(html, site["tmp"] / "report.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000

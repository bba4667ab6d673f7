"""Readiness assessment and the Scan report (issue 13 items 3–4), from an inventory as
``kit scan`` saves it: scores against an independent count, every assumption stated, and the
HTML rendered by headless Chromium (no skip: CI installs it) keeps its content and graphics.
The end-to-end proof against real simulated devices is in
adapters/modbus/tests/test_modbus_scan.py (test_scan_report_end_to_end)."""

from __future__ import annotations

import re
import subprocess

import pytest

from kit import testing_tools
from kit.library import Library
from kit.plugins import get_plugin_manager
from kit.scan.inventory import Candidate, Device, Endpoint, Inventory, Limits
from kit.scan.questionnaire import READINESS_QUESTIONS, Answers, apply_sets
from kit.scan.readiness import assess
from kit.scan.report import build_report, to_markdown
from kit.scan.report_html import to_html


@pytest.fixture(scope="module")
def library():
    return Library(get_plugin_manager(), None)


def _ua(host: str, policies: list[tuple[str, str]], offset: float | None) -> Endpoint:
    info: dict = {
        "endpoints": [
            {"security_mode": m, "security_policy": p, "user_tokens": ["Anonymous"]}
            for m, p in policies
        ]
    }
    if offset is not None:
        info["clock_offset_s"] = offset
    return Endpoint(
        host=host,
        port=4840,
        protocol="opcua",
        status="scanned",
        info=info,
        devices=[Device(status="identified", profile="siemens-s7-1500-db", confidence=0.9)],
    )


def site_inventory() -> Inventory:
    """A meter, a vibration sensor, a Modicon PLC, an unknown device, two OPC UA servers."""
    modbus = Endpoint(
        host="10.0.0.5",
        port=502,
        protocol="modbus",
        status="scanned",
        devices=[
            Device(unit_id=1, status="identified", profile="eastron-sdm630", confidence=1.0),
            Device(unit_id=2, status="identified", profile="banner-qm30vt2", confidence=0.99),
            Device(unit_id=3, status="identified", profile="schneider-modicon-mw", confidence=0.7),
            Device(
                unit_id=4,
                status="unknown",
                candidates=[Candidate(profile="abb-acs580", confidence=0.01, score=1)],
            ),
        ],
    )
    return Inventory(
        kit_version="0.1.0",
        started_at="2026-12-06T04:00:00+00:00",
        finished_at="2026-12-06T04:00:07+00:00",
        complete=True,
        targets=["10.0.0.0/28"],
        ports={502: "modbus", 4840: "opcua"},
        limits=Limits(concurrency=16, rate=50, host_rate=10, timeout_s=1.0, units=[1, 2, 3, 4]),
        hosts_total=14,
        hosts_done=14,
        open_ports=3,
        requests=120,
        seconds=7.0,
        endpoints=[
            modbus,
            _ua("10.0.0.6", [("None", "None"), ("SignAndEncrypt", "Basic256Sha256")], 0.2),
            _ua("10.0.0.7", [("None", "None"), ("Sign", "Basic128Rsa15")], -42.0),
        ],
    )


def test_readiness_scores_answers_and_measured_evidence(library):
    answers = apply_sets(
        Answers(),
        [
            "downtime_reasons_recorded=yes",
            "counts_recorded=partly",
            "maintenance_planned=no",
            # energy_reviewed not answered: left out of the process score
            "ot_network_separated=no",
            "time_source=unknown",
            "use_case_owner=yes",
        ],
    )
    r = assess(site_inventory(), answers, library)
    # Process: yes 2 + partly 1 + no 0 of 3 × 2 → 5 × 3/6 = 2.5.
    assert r.get("process").score == 2.5 and r.get("process").assessed == 3
    # Organisation: one yes of one answered → 5.
    assert r.get("organisation").score == 5.0
    tech = {i.key: i for i in r.get("technology").items}
    # Measured: 6 devices (4 Modbus, 2 OPC UA), 5 identified = 83 % → pass; clocks: worst 42 s → partial;
    # OPC UA: one of two servers offers a secure endpoint → fail; controllers (the PLC, the
    # unknown device) reachable over plain Modbus on a network the site says is not
    # separated → fail; devices reachable → pass.
    assert tech["known_profiles"].result == "pass" and "5 of 6" in tech["known_profiles"].evidence
    assert tech["time_sync"].result == "partial" and "-42.0 s" in tech["time_sync"].evidence
    assert tech["secure_opcua"].result == "fail" and "1 of 2" in tech["secure_opcua"].evidence
    seg = tech["segmentation"]
    assert seg.result == "fail" and "10.0.0.5:502" in seg.evidence
    # OPC UA servers offering security None with anonymous login count too.
    assert "10.0.0.6:4840" in seg.evidence and seg.evidence.startswith("3 controller(s)")
    assert tech["devices_reachable"].result == "pass"
    # Technology points, counted here: answers no 0 + unknown 0; measured 2+2+1+0+0 = 5 of
    # 7 items × 2 → 5 × 5/14 = 1.79 → 2.0 on the half band.
    assert r.get("technology").score == round(5 * 5 / 14 * 2) / 2 == 2.0
    # Each gap carries its next step; a full answer does not.
    assert all(i.next_step for i in r.get("technology").gaps())
    assert not tech["devices_reachable"].next_step
    # The site saying it is separated turns the segmentation finding into "partial".
    sep = assess(site_inventory(), apply_sets(answers, ["ot_network_separated=yes"]), library)
    assert {i.key: i for i in sep.get("technology").items}["segmentation"].result == "partial"
    assert len(READINESS_QUESTIONS) <= 15


def test_report_states_scan_version_and_every_assumption(library):
    answers = apply_sets(Answers(), ["energy_tariff=0.3", "downtime_cost_per_hour=900"])
    rep = build_report(site_inventory(), library, answers, generated_at="2026-12-06T05:00:00+00:00")
    md = to_markdown(rep)
    assert "10.0.0.0/28" in md and "kit 0.1.0" in md and "2026-12-06T04:00:00+00:00" in md
    # Defaults used are named as assumptions; answered figures are not.
    assert any("Average electrical load" in a and "default" in a for a in rep.assumptions)
    assert not any(a.startswith("Electricity price") for a in rep.assumptions)
    assert any("not answered" in a and "readiness" in a for a in rep.assumptions)
    # Every cited evidence entry appears with its source URL.
    for e in rep.evidence:
        assert e.source.url in md
    # The unknown device is listed, matched to nothing.
    assert any(r[4].startswith("unknown (nearest abb-acs580)") for r in rep.devices)
    assert all(a.device != 4 for o in rep.opportunities for a in o.assets)
    # The OEE opportunity on the PLC is there with its business case.
    oee = next(o for o in rep.opportunities if o.recipe == "oee-machine")
    assert oee.status == "fits" and oee.case is not None and oee.case.currency == "EUR"
    # Start here: two different recipes that fit now, the best-ranked of their kind.
    first = rep.first_steps()
    assert len(first) == 2 and all(o.status == "fits" for o in first)
    assert first[0].recipe != first[1].recipe
    above = rep.opportunities[: rep.start_here[1]]
    assert {o.recipe for o in above if o.status == "fits"} <= {first[0].recipe}
    assert f"`{first[1].install_hint()}`" in md


def test_html_is_self_contained_and_survives_rendering(library, tmp_path):
    rep = build_report(site_inventory(), library, Answers(), title="Hall <2> & co")
    html = to_html(rep)
    # Self-contained: no scripts, no external resources loaded (links in text are fine).
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    path = tmp_path / "report.html"
    path.write_text(html, encoding="utf-8")
    chromium = testing_tools.chromium()  # Debian's, installed on first use when missing
    dom = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    # The title is escaped, not markup.
    assert "<title>Hall &lt;2&gt; &amp; co</title>" in dom
    # The graphics and tables survived rendering, with the right number of elements.
    # One bar per recipe and status (the same recipe on several devices is one bar "× n").
    groups = {(o.recipe, o.status) for o in rep.opportunities if o.case is not None}
    assert dom.count("data-opportunity=") == min(len(groups), 8) > 0
    n_bars = sum(
        int(c)
        for c in re.findall(r'data-opportunity="[^"]+" data-status="\w+" data-count="(\d+)"', dom)
    )
    assert n_bars == len([o for o in rep.opportunities if o.case is not None])
    assert dom.count("data-dimension=") == 3
    # The fit matrix: a dot or ring per (device, recipe) an opportunity places there.
    cells = {(a.device, o.recipe) for o in rep.opportunities for a in o.assets if a.device}
    assert dom.count("data-fit=") == len(cells) > 0
    assert 'id="chart-devices"' in dom and 'data-segment="identified" data-count="5"' in dom
    assert dom.count("<tr><td>") >= len(rep.devices) + len(rep.opportunities)
    assert 'id="start-here"' in dom
    assert all(o.install_hint() in dom for o in rep.first_steps())
    assert dom.count("<li data-evidence=") == len(rep.evidence)
    for a in rep.assumptions:
        assert a.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in dom


def test_kit_scan_report_writes_owner_only_files(tmp_path):
    """The report maps the network and its weak spots: written 0600 (threat model T17)."""
    import json

    from click.testing import CliRunner

    from kit.cli import cli
    from kit.scan.inventory import inventory_path, save_inventory

    save_inventory(site_inventory(), inventory_path(tmp_path))
    got = CliRunner().invoke(
        cli,
        ["scan", "report", "-o", str(tmp_path / "r"), "--format", "json", "--format", "md"],
        env={"KIT_DATA_DIR": str(tmp_path), "KIT_CONFIG": None},
    )
    assert got.exit_code == 0, got.output
    files = sorted(p.name for p in (tmp_path / "r").iterdir())
    assert files == ["scan-report.json", "scan-report.md"]
    assert all(((tmp_path / "r" / f).stat().st_mode & 0o777) == 0o600 for f in files)
    assert json.loads((tmp_path / "r" / "scan-report.json").read_text())["scanned"]["devices"] == 6


def test_an_empty_scan_judges_only_what_it_saw(library):
    """Nothing found: reachability fails, the rest cannot be judged (n/a, left out), and
    the report still renders with its assumptions."""
    r = assess(Inventory(complete=True, hosts_total=254, hosts_done=254), Answers(), library)
    tech = {i.key: i.result for i in r.get("technology").items if i.source == "measured"}
    assert tech == {
        "devices_reachable": "fail",
        "known_profiles": "n/a",
        "time_sync": "n/a",
        "secure_opcua": "n/a",
        "segmentation": "n/a",
    }
    assert r.get("technology").score == 0 and r.get("process").score is None
    rep = build_report(Inventory(complete=True), library, Answers())
    assert rep.opportunities == [] and "No recipe fits" in to_html(rep)

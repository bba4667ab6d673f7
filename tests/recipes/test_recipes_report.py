"""A recipe asset's ``report:`` (report by exception): validated with file:line, carried into
the component spec the runtime starts (docs/recipes.md)."""

from __future__ import annotations

from kit.recipes.loader import parse_recipe
from kit.recipes.plan import build_plan
from kit.settings import ReportSettings

RECIPE = """\
id: probe-rbe
version: 1.0.0
title: t
summary: s
kpi: {name: k, moves: m, evidence: e}
parameters:
  meter_host: {type: host, prompt: "IP"}
  band: {type: number, prompt: "Deadband", default: 50}
assets:
  meter:
    adapter: probe
    profile: probe-meter
    path: "${site}/a/l/m"
    connection: {host: "${meter_host}", port: 502}
    report:
      deadband: 0
      deadbands: {power_active_total_w: "${band}"}
      max_interval_s: 30
"""


def lineno(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_report_settings_reach_the_component_spec(probe_host) -> None:
    plan = build_plan(parse_recipe(RECIPE, "r.yaml"), probe_host, {"meter_host": "127.0.0.1"})
    assert plan.problems == []
    meter = next(c for c in plan.components if c.type == "probe")
    assert meter.report == ReportSettings(
        deadband=0, deadbands={"power_active_total_w": 50.0}, max_interval_s=30
    )
    # A recipe without the section leaves report by exception off.
    plain = RECIPE[: RECIPE.index("    report:")]
    plan = build_plan(parse_recipe(plain, "r.yaml"), probe_host, {"meter_host": "127.0.0.1"})
    assert next(c for c in plan.components if c.type == "probe").report is None


def test_bad_report_settings_are_reported_with_file_and_line(probe_host) -> None:
    text = (
        RECIPE.replace("max_interval_s: 30", "max_intervall_s: 30")
        .replace("deadband: 0", "deadband: -1")
        .replace("power_active_total_w:", "power_actve_total_w:")
    )
    plan = build_plan(parse_recipe(text, "r.yaml"), probe_host, {"meter_host": "127.0.0.1"})
    assert plan.problems == [
        f"r.yaml:{lineno(text, 'deadband: -1')}: assets.meter.report.deadband: "
        "Input should be greater than or equal to 0",
        f"r.yaml:{lineno(text, 'max_intervall_s')}: assets.meter.report.max_intervall_s: "
        "unknown setting 'max_intervall_s' (did you mean 'max_interval_s'?)",
    ]
    text = RECIPE.replace("power_active_total_w:", "power_actve_total_w:")
    plan = build_plan(parse_recipe(text, "r.yaml"), probe_host, {"meter_host": "127.0.0.1"})
    assert len(plan.problems) == 1
    assert plan.problems[0].startswith(
        f"r.yaml:{lineno(text, 'power_actve')}: assets.meter.report.deadbands.power_actve_total_w: "
        "no point 'power_actve_total_w' on this asset"
    )

"""Acceptance check ``kpi`` on a real runtime: a flat energy counter (machine off) still yields
KPIs (0 kWh) and passes; a KPI the recipe expects but that never arrives fails
commissioning and the report names it (issue 12.4)."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from kit.cli.sim_cmd import start_simulator
from kit.recipes.loader import load_recipe

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
PROFILES = RECIPES.parent / "hardware_profiles"
METER = "eastron-sdm630"
COUNTER = 48213.5  # kWh: the meter's reading, not moving all through commissioning


def site_recipe(tmp_path: Path, kpi: str) -> Path:
    """The shipped energy recipe as a site would adapt it: KPIs every second, and a check
    that the KPI ``kpi`` arrives with 0 kWh (the machine is off)."""
    yaml = YAML(typ="safe")
    doc = yaml.load((RECIPES / "energy-per-shift.yaml").read_text())
    doc["id"] = "energy-flat-check"
    doc["analytics"][0]["params"] = {"publish_interval_s": 1}
    doc["assets"]["meter"]["connection"]["slow_poll_interval_s"] = 1  # the counter is `slow`
    doc["checks"] = [{"check": "kpi", "asset": "meter", "kpi": kpi, "min": 0, "max": 0}]
    path = tmp_path / "energy-flat-check.yaml"
    with path.open("w") as f:
        yaml.dump(doc, f)
    return path


def switched_off_meter(tmp_path: Path) -> Path:
    """The shipped meter profile with no current flowing: P = 0, the counter stays put."""
    yaml = YAML(typ="safe")
    doc = yaml.load((PROFILES / f"{METER}.yaml").read_text())
    doc["simulation"]["electrical"] |= {
        "current_a": [0.0],
        "current_swing": 0.0,
        "energy_import_kwh": COUNTER,
    }
    path = tmp_path / "meter-off.yaml"
    with path.open("w") as f:
        yaml.dump(doc, f)
    return path


async def _commission(tmp_path, make_runtime, kit_settings, kpi: str) -> dict:
    rt = await make_runtime(kit_settings)
    sim = await start_simulator(str(switched_off_meter(tmp_path)))
    try:
        params = {"meter": "press 4 feed", "meter_profile": METER}
        params |= {"meter_host": "127.0.0.1", "meter_port": sim.port}
        out = await rt.recipe_engine.install(
            load_recipe(site_recipe(tmp_path, kpi)), params, wait_report=True, check_duration_s=4
        )
        return out["report"]
    finally:
        await sim.stop()


async def test_flat_counter_yields_zero_kwh_kpis_and_passes(tmp_path, make_runtime, kit_settings):
    report = await _commission(tmp_path, make_runtime, kit_settings, "energy_kwh")
    (check,) = report["checks"]
    assert check["values"]["kpis"] >= 1, check
    assert check["values"]["min"] == 0.0 and check["values"]["max"] == 0.0
    assert check["passed"] and report["result"] == "pass"
    assert check["title"] == "meter: KPI energy_kwh arrives between 0.0 and 0.0"


async def test_an_expected_kpi_that_never_arrives_fails_commissioning(
    tmp_path, make_runtime, kit_settings
):
    # The energy plugin publishes energy_kwh; a recipe expecting energy_per_shift_kwh never
    # gets it — commissioning must not say PASS.
    report = await _commission(tmp_path, make_runtime, kit_settings, "energy_per_shift_kwh")
    (check,) = report["checks"]
    assert report["result"] == "fail" and not check["passed"]
    assert check["values"]["kpis"] == 0
    assert check["detail"].startswith("expected KPI energy_per_shift_kwh never arrived")
    assert "energy_kwh" in check["detail"]  # what did arrive, to help fix the recipe

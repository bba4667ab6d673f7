"""``scan.suggest`` logic (kit.scan.suggest), on an inventory in memory and the shipped
library: which recipes fit ticked devices and which wizard values the inventory fills in.
The end-to-end path (real scan, TUI, install) is tui/tests/test_tui_scan.py."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from ruamel.yaml import YAML

from kit.errors import ConfigError
from kit.library import Library
from kit.plugins import get_plugin_manager
from kit.scan.evidence import EVIDENCE
from kit.scan.inventory import Device, Endpoint, Inventory
from kit.scan.questionnaire import Answers, SiteFigures
from kit.scan.suggest import suggest_recipes

RECIPES = Path(__file__).resolve().parents[1] / "recipes"


@pytest.fixture(scope="module")
def runtime():
    """What suggest_recipes uses of a runtime: the plugin host and the site library."""
    host = get_plugin_manager()
    return SimpleNamespace(host=host, library=Library(host))


def _inv() -> Inventory:
    def ep(host: str, port: int, devices: list[Device]) -> Endpoint:
        return Endpoint(host=host, port=port, protocol="modbus", status="scanned", devices=devices)

    return Inventory(
        endpoints=[
            ep("10.0.0.2", 502, [Device(unit_id=4, status="identified", profile="eastron-sdm630")]),
            ep(
                "10.0.0.3",
                5020,
                [Device(unit_id=1, status="identified", profile="siemens-s7-mb-server")],
            ),
            ep("10.0.0.4", 502, [Device(unit_id=1, status="unknown")]),
        ]
    )


def _connection_params(recipe: str, role: str) -> dict[str, str]:
    """Connection key → parameter name of a role, read from the recipe file itself."""
    spec = YAML(typ="safe").load(RECIPES / f"{recipe}.yaml")["assets"][role]
    out = {k: v[2:-1] for k, v in spec["connection"].items()}
    out["profile"] = spec["profile"][2:-1]
    return out


async def test_a_meter_gets_its_recipes_pre_filled_and_a_two_device_recipe_says_what_is_missing(
    runtime,
):
    got = await suggest_recipes(runtime, _inv(), [1])
    by_recipe = {s["recipe"]: s for s in got["suggestions"]}
    names = _connection_params("energy-per-shift", "meter")
    assert by_recipe["energy-per-shift"]["ready"] and by_recipe["energy-per-shift"]["params"] == {
        names["host"]: "10.0.0.2",
        names["port"]: 502,
        names["unit_id"]: 4,
        names["profile"]: "eastron-sdm630",
    }
    idle = by_recipe["idle-energy"]
    assert not idle["ready"] and idle["missing"] == ["machine"] and idle["devices"] == {"meter": 1}
    assert got["unmatched"] == []


async def test_meter_and_machine_ticked_together_make_idle_energy_ready(runtime):
    got = await suggest_recipes(runtime, _inv(), [1, 2, 3])
    idle = next(s for s in got["suggestions"] if s["recipe"] == "idle-energy")
    assert idle["ready"] and idle["devices"] == {"machine": 2, "meter": 1}
    machine = _connection_params("idle-energy", "machine")
    assert {
        idle["params"][machine["host"]],
        idle["params"][machine["port"]],
        idle["params"][machine["profile"]],
    } == {"10.0.0.3", 5020, "siemens-s7-mb-server"}
    # The unknown device fits nothing: it is named, not guessed.
    assert got["unmatched"] == [3]


async def test_a_device_number_outside_the_inventory_is_a_clear_error(runtime):
    with pytest.raises(ConfigError, match="the inventory has 3 device"):
        await suggest_recipes(runtime, _inv(), [1, 9])


def _mid(evidence_id: str, base: float) -> float:
    """Midpoint of an evidence range (percent) applied to a yearly base."""
    ev = EVIDENCE[evidence_id]
    return base * (ev.low + ev.high) / 2 / 100


def _worth(a: Answers) -> dict[str, float]:
    """What each valued recipe is worth per asset and year (midpoint), computed here from the
    evidence table and the site's figures: the formulas docs/scan.md states."""
    hours = (
        a.value("shifts_per_day") * a.value("hours_per_shift") * a.value("working_days_per_year")
    )
    energy = a.value("average_load_kw") * hours * a.value("energy_tariff")
    productive = hours * a.value("oee_baseline_pct") / 100
    return {
        "energy-per-shift": _mid("monitoring_only_energy", energy),
        "idle-energy": _mid("idle_energy_share", energy),
        "oee-machine": _mid("oee_monitoring_gain", productive * a.value("downtime_cost_per_hour")),
    }


@pytest.mark.parametrize(
    ("figures", "ticked"),
    [
        ({}, [1, 2]),  # the defaults: OEE of the machine is worth most
        # An energy-hungry site where an hour of standstill costs little: energy first.
        ({"average_load_kw": 400, "energy_tariff": 0.4, "downtime_cost_per_hour": 5}, [1, 2]),
        ({}, [1]),  # idle-energy still needs its machine: counted at half
    ],
)
async def test_suggestions_come_ranked_by_business_value(runtime, figures, ticked):
    answers = Answers(site=SiteFigures(**figures))
    got = (await suggest_recipes(runtime, _inv(), ticked, answers))["suggestions"]
    worth = _worth(answers)
    for s in got:
        if s["recipe"] in worth and not s["ready"]:
            worth[s["recipe"]] /= 2  # a missing device: it may never be added
    valued = [s["recipe"] for s in got if s["value_low"] is not None]
    assert set(valued) <= set(worth) and len(valued) == len(set(valued))
    # Highest value first, enablers (no business case) after every valued recipe.
    assert valued == sorted(valued, key=lambda r: -worth[r])
    assert [s["recipe"] for s in got[: len(valued)]] == valued
    assert all(s["value_low"] is None for s in got[len(valued) :])
    assert len(valued) == (3 if 2 in ticked else 2)
    # Each carries its value range per asset and year (two significant figures).
    for s in got[: len(valued)]:
        mid = (s["value_low"] + s["value_high"]) / 2
        full = worth[s["recipe"]] * (1 if s["ready"] else 2)
        assert mid == pytest.approx(full, rel=0.05) and s["currency"] == "EUR"

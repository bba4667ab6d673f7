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
from kit.scan.inventory import Device, Endpoint, Inventory
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
    # Ready suggestions come first.
    readiness = [s["ready"] for s in got["suggestions"]]
    assert readiness == sorted(readiness, reverse=True)
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

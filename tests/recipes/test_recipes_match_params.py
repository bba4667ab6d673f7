"""A point the technician names by a parameter (``input: ${point}``) cannot rule a profile out.

basic-alarms watches "one point of any Modbus device"; before the fix its ``${point}`` was
counted as a needed point no profile provides, so the catalogue said it fitted nothing and the
install wizard offered no hardware profile to pick (a free-text field instead).
"""

from __future__ import annotations

from pathlib import Path

from kit.library import Library
from kit.plugins import get_plugin_manager
from kit.recipes.api import profile_choices
from kit.recipes.loader import load_recipe
from kit.recipes.match import match_recipe

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "basic-alarms.yaml"


async def test_a_point_chosen_by_parameter_leaves_every_profile_of_the_protocol():
    host = get_plugin_manager()
    lr = load_recipe(RECIPE)
    reply = await match_recipe(lr, host)
    device = reply["assets"]["device"]
    lib = Library(host).profiles()
    every_modbus = {pid for pid, p in lib.profiles.items() if p.protocol == "modbus"}
    assert every_modbus, "the shipped library has Modbus profiles"
    assert {p["id"] for p in device["profiles"]} == every_modbus
    assert reply["satisfied"] is True
    assert not any("${" in n for n in device["needs"])


def test_the_wizard_offers_every_modbus_profile_as_a_pick_list():
    host = get_plugin_manager()
    lr = load_recipe(RECIPE)
    params = [{"name": "device_profile", "type": "profile"}]
    library = Library(host)
    profile_choices(lr, host, library, params)
    offered = {c["value"] for c in params[0]["choices"]}
    lib = library.profiles()
    assert offered == {pid for pid, p in lib.profiles.items() if p.protocol == "modbus"}

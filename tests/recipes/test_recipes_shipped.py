"""Every shipped recipe validates, and the committed JSON Schema matches the models.

Recipes are checked in both passes against the plugins installed in this workspace. A
recipe that names an adapter or plugin not installed here is checked in the shape pass
and every section whose plugin *is* installed; the only problems allowed are "not
installed" ones, and only for component types genuinely absent from the plugin host.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kit.builtin import shipped_dir
from kit.plugins import get_plugin_manager
from kit.recipes.loader import RecipeLibrary, load_recipe
from kit.recipes.plan import build_plan
from kit.recipes.schema import schema_path, schema_text

RECIPES = sorted(shipped_dir("recipes").glob("*.yaml"))
_NOT_INSTALLED = re.compile(
    r": unknown (?:adapter|plugin) '([a-z0-9_-]+)'(?: \(did you mean [^)]*\))?; installed: "
)


def test_there_are_recipes_for_every_use_case() -> None:
    ids = {load_recipe(p).recipe.id for p in RECIPES}
    assert {
        "oee-machine",
        "energy-per-shift",
        "idle-energy",
        "condition-motor",
        "spc-dimension",
        "basic-alarms",
        "synthetic-machine-watch",
    } <= ids


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_shipped_recipe_validates(path: Path) -> None:
    host = get_plugin_manager()
    lr = load_recipe(path)  # pass 1 (shape): raises ConfigError with every problem
    plan = build_plan(lr, host, sample=True)  # pass 2 against installed plugins and profiles
    absent = []
    for p in plan.problems:
        m = _NOT_INSTALLED.search(p)
        assert m is not None, f"unexpected problem: {p}"
        assert m.group(1) not in host.components.items, p
        absent.append(m.group(1))
    used = (
        {a.adapter for a in lr.recipe.assets.values()}
        | {a.plugin for a in lr.recipe.analytics}
        | ({"alarms"} if lr.recipe.alarms else set())
    )
    assert set(absent) == used - set(host.components.items)


def test_library_loads_every_shipped_recipe_without_problems() -> None:
    lib = RecipeLibrary(get_plugin_manager()).load()
    assert lib.problems == []
    assert len(lib.recipes) == len(RECIPES)


def test_json_schema_is_fresh() -> None:
    assert schema_path().read_text(encoding="utf-8") == schema_text(), (
        "recipes/schema/recipe.schema.json is stale: run `uv run python -m kit.recipes.schema`"
    )

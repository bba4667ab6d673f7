"""Every shipped recipe installs against `kit sim` devices and produces its analytics output.

For each asset the recipe needs, the first shipped profile that fits is served by its
simulator on a free loopback port; the recipe is then installed as a technician would, with
host/port pointing at the simulators, and the test waits for a KPI or event of the recipe's
analytics on the bus.
"""

from pathlib import Path

import pytest
from ruamel.yaml import YAML

from kit.cli.sim_cmd import start_simulator
from kit.plugins import get_plugin_manager
from kit.profiles import ProfileLibrary
from kit.testing import wait_for

RECIPES = Path(__file__).resolve().parents[2] / "recipes"
#: Values a technician would enter that a generic default cannot guess.
VALUES = {"spc-dimension": {"lsl": 24.9, "usl": 25.1}}
#: Analytics that publish KPIs continuously (energy publishes at hour/shift ends, alarms only events).
CONTINUOUS_KPIS = {"oee", "condition", "spc"}
SHIPPED = sorted(p for p in RECIPES.glob("*.yaml"))


def _param(ref: object) -> str | None:
    text = str(ref)
    return text[2:-1] if text.startswith("${") and text.endswith("}") else None


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
async def test_shipped_recipe_installs_against_simulators(path, kit_settings, make_runtime):
    doc = YAML(typ="safe").load(path.read_text())
    lib = ProfileLibrary(get_plugin_manager()).load()
    rt = await make_runtime(kit_settings)
    params: dict = dict(VALUES.get(path.stem, {}))
    sims = []
    chosen = []
    try:
        for name, asset in (doc.get("assets") or {}).items():
            if asset.get("adapter") != "modbus":
                continue  # e.g. the synthetic source: nothing to simulate
            needed = set(asset.get("requires") or [])
            profile_param = _param(asset.get("profile"))
            profile_id = asset.get("profile") if profile_param is None else None
            if profile_id is None:
                fitting = sorted(p.id for p in lib.providing(needed) if p.protocol == "modbus")
                assert fitting, (
                    f"{path.name}: no shipped profile provides {sorted(needed)} for asset {name}"
                )
                profile_id = fitting[0]
                params[profile_param] = profile_id
            chosen.append(lib.get(profile_id))
            sim = await start_simulator(profile_id)
            sims.append(sim)
            conn = asset.get("connection") or {}
            params[_param(conn["host"])] = "127.0.0.1"
            params[_param(conn["port"])] = sim.port
        for key, spec in (doc.get("parameters") or {}).items():
            if key == "point" and key not in params:  # "a semantic name from the device's profile"
                params[key] = sorted(chosen[0].semantic_points())[0]
            elif key not in params and "default" not in spec:
                params[key] = {
                    "text": f"{key.replace('_', '-')}-1",
                    "number": 2.0,
                    "integer": 1,
                    "duration": 3600,
                }.get(spec["type"], "x")
        result = await rt.recipe_engine.install(path.stem, params, check_duration_s=5)
        assert result["changed"] and result["components"]
        got = []

        async def on_msg(msg):
            got.append(msg.subject)

        await rt.bus.nc.subscribe("kit.kpi.>", cb=on_msg)
        await rt.bus.nc.subscribe("kit.data.>", cb=on_msg)
        await wait_for(
            lambda: any(s.startswith("kit.data.") for s in got), timeout=30, message="data"
        )
        if CONTINUOUS_KPIS & {a["plugin"] for a in doc.get("analytics") or []}:
            await wait_for(
                lambda: any(s.startswith("kit.kpi.") for s in got),
                timeout=60,
                message=f"a KPI from {path.stem}",
            )
        await rt.recipe_engine.uninstall(result["deployment"])
        assert not [i for i in rt.supervisor.instances.values() if i.owner == result["deployment"]]
    finally:
        for sim in sims:
            await sim.stop()

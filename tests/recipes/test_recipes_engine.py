"""End-to-end tests of the install engine on a real runtime and nats-server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit import codec
from kit.api import Problem
from kit.api import recipes as rec_api
from kit.bus import KV_DEPLOYMENTS
from kit.control import ControlClient
from kit.errors import AdapterError, ConfigError, KitError
from kit.recipes.loader import load_recipe

from_file = lambda p: {"text": Path(p).read_text(), "filename": str(p)}  # noqa: E731


def owned(rt, dep: str) -> set[str]:
    return {n for n, i in rt.supervisor.instances.items() if i.owner == dep}


async def test_install_end_to_end_publishes_kpi_and_report(
    kit_settings, make_runtime, probe_host, device, recipe_file, wait
):
    rt = await make_runtime(kit_settings, host=probe_host)
    seen: list = []

    async def on_kpi(msg) -> None:
        seen.append(codec.decode_kpi(msg.data))

    await rt.bus.nc.subscribe("kit.kpi.test.hall.line1.meter1.doubled", cb=on_kpi)
    client = ControlClient(rt.bus, timeout=30)
    body = {
        "recipe": from_file(recipe_file),
        "params": {"meter_host": "127.0.0.1", "meter_port": device},
    }
    plan = await client.call("recipes.plan", body)
    assert plan["subjects"]["data"] == ["kit.data.test.hall.line1.meter1"]
    assert [c["type"] for c in plan["components"]] == ["probe", "doubler"]
    ident = await client.call("recipes.test_connection", body)
    assert ident["identification"] == {"meter": f"probe device probe-meter at 127.0.0.1:{device}"}
    assert rt.supervisor.instances == {}  # planning and testing create nothing
    res = await client.call(
        "recipes.install",
        {
            "recipe": from_file(recipe_file),
            "params": {"meter_host": "127.0.0.1", "meter_port": device, "factor": "3"},
            "wait_report": True,
        },
    )
    assert res["changed"] is True
    dep = res["deployment"]
    assert dep == "probe-energy-meter1"
    assert owned(rt, dep) == {"probe-energy-meter1-meter", "probe-energy-meter1-doubler-meter"}
    await wait(lambda: len(seen) >= 3, message="doubled KPI on the bus")
    # The probe publishes 1000 + 10 n; the KPI is factor (3) times one of those values.
    assert all((k.value / 3 - 1000) % 10 == pytest.approx(0) and k.value >= 3000 for k in seen)
    report = res["report"]
    assert report["result"] == "pass", report
    assert [c["passed"] for c in report["checks"]] == [True] * 4
    assert "probe device probe-meter" in report["devices"]["meter"]["identification"]
    shown = await client.call("deployments.show", {"deployment": dep})
    assert shown["deployment"] == dep and shown["report"]["result"] == "pass"
    assert shown["params"]["meter_port"] == device and "recipe_text" not in shown
    assert "| ✅ pass |" in shown["markdown"] and "Result: PASS" in shown["markdown"]
    listed = await client.call("deployments.list")
    assert [(d["id"], d["assets"]) for d in listed["deployments"]] == [
        (dep, ["test/hall/line1/meter1"])
    ]


async def test_reinstall_is_a_noop(kit_settings, make_runtime, probe_host, device, recipe_file):
    rt = await make_runtime(kit_settings, host=probe_host)
    eng = rt.recipe_engine
    params = {"meter_host": "127.0.0.1", "meter_port": device}
    first = await eng.install(load_recipe(recipe_file), params, check_duration_s=0.2)
    tasks_before = {n: i.task for n, i in rt.supervisor.instances.items()}
    rec_before = await eng.store.get(first["deployment"])
    again = await eng.install(
        load_recipe(recipe_file), {"meter_host": "127.0.0.1", "meter_port": str(device)}
    )
    assert again["changed"] is False
    assert {n: i.task for n, i in rt.supervisor.instances.items()} == tasks_before
    assert (await eng.store.get(first["deployment"]))["updated_at"] == rec_before["updated_at"]
    # Different values for the same deployment are not silently applied: that is an upgrade.
    with pytest.raises(ConfigError, match="use upgrade"):
        await eng.install(load_recipe(recipe_file), {**params, "factor": 5})


def lineno(text: str, needle: str) -> int:
    """1-based number of the first line of ``text`` containing ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            ("inputs: {value: power_active_total_w}", "inputs: {value: power_activ_total_w}"),
            "analytics[0].inputs.value: profile 'probe-meter' of asset 'meter' does not provide point "
            "'power_activ_total_w' (did you mean 'power_active_total_w'?)",
        ),
        (
            ("plugin: doubler", "plugin: doubbler"),
            "analytics[0].plugin: unknown plugin 'doubbler' (did you mean 'doubler'?)",
        ),
        (
            ("default: 2, min: 0", "default: 12, min: 0"),
            "parameters.factor: default 12.0 is outside the bounds [0.0, 10.0]",
        ),
        (
            ("profile: probe-meter", "profile: probe-metre"),
            "assets.meter.profile: unknown profile 'probe-metre' (did you mean 'probe-meter'?)",
        ),
    ],
)
async def test_invalid_recipe_fails_validation_and_installs_nothing(
    kit_settings, make_runtime, probe_host, device, recipe_file, edit, expected
):
    rt = await make_runtime(kit_settings, host=probe_host)
    recipe_file.write_text(recipe_file.read_text().replace(*edit))
    client = ControlClient(rt.bus, timeout=30)
    with pytest.raises(KitError) as err:
        await client.call(
            "recipes.install",
            {
                "recipe": from_file(recipe_file),
                "params": {"meter_host": "127.0.0.1", "meter_port": device},
            },
        )
    assert err.value.exit_code == 2
    line = lineno(recipe_file.read_text(), edit[1])
    assert f"{recipe_file}:{line}: {expected}" in str(err.value)
    assert rt.supervisor.instances == {}
    assert await rt.recipe_engine.store.all() == []


async def test_out_of_range_parameter_is_reported_at_its_definition(
    kit_settings, make_runtime, probe_host, device, recipe_file
):
    rt = await make_runtime(kit_settings, host=probe_host)
    with pytest.raises(ConfigError) as err:
        await rt.recipe_engine.install(
            load_recipe(recipe_file), {"meter_host": "127.0.0.1", "meter_port": 70000, "factor": 11}
        )
    probs, text = err.value.problems, recipe_file.read_text()
    assert (
        f"{recipe_file}:{lineno(text, 'meter_port:')}: parameters.meter_port: 70000 is not a port number (1–65535)"
        in probs
    )
    assert (
        f"{recipe_file}:{lineno(text, 'factor:')}: parameters.factor: 11 is above the maximum 10"
        in probs
    )
    assert rt.supervisor.instances == {}


async def test_unreachable_device_fails_connection_test_and_installs_nothing(
    kit_settings, make_runtime, probe_host, closed_port, recipe_file
):
    rt = await make_runtime(kit_settings, host=probe_host)
    with pytest.raises(AdapterError) as err:
        await rt.recipe_engine.install(
            load_recipe(recipe_file), {"meter_host": "127.0.0.1", "meter_port": closed_port}
        )
    assert f"asset 'meter' (probe at 127.0.0.1:{closed_port}): cannot connect" in str(err.value)
    assert err.value.exit_code == 6
    assert rt.supervisor.instances == {}
    assert await rt.recipe_engine.store.all() == []


async def test_failure_midway_rolls_back_every_component(
    kit_settings, make_runtime, probe_host, device, recipe_file
):
    rt = await make_runtime(kit_settings, host=probe_host)
    recipe_file.write_text(
        recipe_file.read_text().replace("checks:", "  - {plugin: crashy, asset: meter}\nchecks:")
    )
    with pytest.raises(KitError, match="crashy.*simulated plugin bug.*") as err:
        await rt.recipe_engine.install(
            load_recipe(recipe_file), {"meter_host": "127.0.0.1", "meter_port": device}
        )
    assert "rolled back" in str(err.value)
    assert rt.supervisor.instances == {}
    assert await rt.recipe_engine.store.all() == []


async def test_deployment_survives_restart_and_uninstall_removes_all(
    kit_settings, make_runtime, probe_host, device, recipe_file, wait
):
    from kit.runtime import Runtime

    rt = Runtime(kit_settings, host=probe_host)
    await rt.start()
    try:
        res = await rt.recipe_engine.install(
            load_recipe(recipe_file),
            {"meter_host": "127.0.0.1", "meter_port": device},
            check_duration_s=0.3,
        )
        dep = res["deployment"]
        before = owned(rt, dep)
        await rt.recipe_engine._tasks[dep]
    finally:
        await rt.stop()
    rt2 = await make_runtime(kit_settings, host=probe_host)
    assert owned(rt2, dep) == before
    await wait(lambda: all(i.status.value == "running" for i in rt2.supervisor.instances.values()))
    rec = await rt2.recipe_engine.store.get(dep)
    assert rec["report"]["result"] == "pass"
    out = await ControlClient(rt2.bus).call("recipes.uninstall", {"deployment": dep})
    assert set(out["removed"]) == before
    assert rt2.supervisor.instances == {}
    kv = await rt2.bus.kv(KV_DEPLOYMENTS)
    assert await rt2.recipe_engine.store.get(dep) is None and kv is not None


async def test_upgrade_failure_rolls_back_to_old_version(
    kit_settings, make_runtime, probe_host, device, recipe_file, tmp_path
):
    rt = await make_runtime(kit_settings, host=probe_host)
    eng = rt.recipe_engine
    params = {"meter_host": "127.0.0.1", "meter_port": device}
    dep = (await eng.install(load_recipe(recipe_file), params, check_duration_s=0.2))["deployment"]
    old_components = owned(rt, dep)
    bad = tmp_path / "v2-bad.yaml"
    bad.write_text(
        recipe_file.read_text()
        .replace("version: 1.0.0", "version: 1.1.0")
        .replace("checks:", "  - {plugin: crashy, asset: meter}\nchecks:")
    )
    with pytest.raises(KitError, match="rolled back to 1.0.0"):
        await eng.upgrade(dep, load_recipe(bad))
    assert owned(rt, dep) == old_components
    assert all(rt.supervisor.instances[n].status.value == "running" for n in old_components)
    assert (await eng.store.get(dep))["version"] == "1.0.0"
    good = tmp_path / "v2.yaml"
    good.write_text(recipe_file.read_text().replace("version: 1.0.0", "version: 1.1.0"))
    out = await eng.upgrade(dep, load_recipe(good), {"factor": 4}, check_duration_s=0.2)
    assert (out["from"], out["to"]) == ("1.0.0", "1.1.0")
    rec = await eng.store.get(dep)
    assert rec["version"] == "1.1.0" and rec["params"]["factor"] == 4.0
    assert rec["history"][-1]["version"] == "1.0.0"
    assert rt.supervisor.instances["probe-energy-meter1-doubler-meter"].config.factor == 4.0


async def test_synthetic_recipe_installs_from_library(kit_settings, make_runtime, wait):
    rt = await make_runtime(kit_settings)
    client = ControlClient(rt.bus, timeout=30)
    listed = await client.call("recipes.list")
    assert "synthetic-machine-watch" in [r["id"] for r in listed["recipes"]]
    shown = await client.call("recipes.show", {"id": "synthetic-machine-watch"})
    text = shown["text"].replace("every_s: 5", "every_s: 5\n    evry_s: 2")
    checked = await client.call(
        rec_api.VALIDATE, rec_api.ValidateRequest(text=text, filename="mine.yaml")
    )
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "evry_s" in t)
    assert (checked.ok, checked.pass_) == (False, "shape")
    assert checked.problems == [
        Problem(
            file="mine.yaml",
            line=line,
            field="checks[1].evry_s",
            message="unknown field",
            hint="did you mean 'every_s'?",
        )
    ]
    assert checked.problems[0].text() == (
        f"mine.yaml:{line}: checks[1].evry_s: unknown field (did you mean 'every_s'?)"
    )
    assert (await client.call(rec_api.VALIDATE, {"text": shown["text"]})).ok is True
    res = await client.call(
        "recipes.install",
        {
            "recipe": "synthetic-machine-watch",
            "params": {"interval": "100ms", "machine": "Press 7"},
            "wait_report": True,
            "check_duration_s": 1.0,
        },
    )
    assert res["deployment"] == "synthetic-machine-watch-press_7"
    report = res["report"]
    by = {c["check"]: c for c in report["checks"]}
    assert by["updates"]["passed"] and by["quality_good"]["passed"] and by["increases"]["passed"], (
        report
    )
    assert report["batches_seen"]["test/demo/line1/press_7"] >= 5
    assert json.loads(json.dumps(report)) == report


async def test_match_lists_fitting_profiles_and_running_assets(
    kit_settings, make_runtime, probe_host, device, recipe_file, wait
):
    from kit.recipes.match import match_recipe

    rt = await make_runtime(kit_settings, host=probe_host)
    lr = load_recipe(recipe_file)
    before = await match_recipe(lr, probe_host, rt)
    meter = before["assets"]["meter"]
    assert meter["needs"] == ["energy_active_import_total_kwh", "power_active_total_w"]
    assert [p["id"] for p in meter["profiles"]] == ["probe-meter"] and meter["running_assets"] == []
    await rt.recipe_engine.install(
        lr, {"meter_host": "127.0.0.1", "meter_port": device}, check_duration_s=0.2
    )

    async def running() -> list:
        return (await match_recipe(lr, probe_host, rt))["assets"]["meter"]["running_assets"]

    assert await wait(running, message="the meter's last values in KIT_LAST") == [
        "test/hall/line1/meter1"
    ]
    final = await match_recipe(lr, probe_host, rt)
    assert final["satisfied"] and final["candidates"] == [
        {"role": "meter", "asset": "test/hall/line1/meter1", "ok": True, "missing": []}
    ]


async def test_restore_with_a_missing_plugin_is_reported_then_repaired(
    kit_settings, make_runtime, probe_host, device, recipe_file, temp_plugin
):
    from kit.runtime import Runtime

    rt = Runtime(kit_settings, host=probe_host)
    await rt.start()
    try:
        dep = (
            await rt.recipe_engine.install(
                load_recipe(recipe_file),
                {"meter_host": "127.0.0.1", "meter_port": device},
                check_duration_s=0.2,
            )
        )["deployment"]
        await rt.recipe_engine._tasks[dep]
    finally:
        await rt.stop()
    # The site restarts without the probe plugin: the runtime still starts, the deployment says why.
    bare = await make_runtime(kit_settings, host=temp_plugin(load_entrypoints=True))
    rec = await bare.recipe_engine.store.get(dep)
    assert rec["status"].startswith("restore_failed: unknown component type 'probe'")
    assert bare.supervisor.instances == {}
    await bare.stop()
    # Plugin back: the record is restored at start; installing again is then a no-op.
    again = await make_runtime(kit_settings, host=probe_host)
    assert owned(again, dep) == {"probe-energy-meter1-meter", "probe-energy-meter1-doubler-meter"}
    assert (await again.recipe_engine.store.get(dep))["status"] == "running"
    # A component removed behind the deployment's back is put back by installing again.
    await again.supervisor.remove("probe-energy-meter1-doubler-meter")
    out = await again.recipe_engine.install(
        load_recipe(recipe_file), {"meter_host": "127.0.0.1", "meter_port": device}
    )
    assert out["repaired"] == ["probe-energy-meter1-doubler-meter"]
    assert owned(again, dep) == {"probe-energy-meter1-meter", "probe-energy-meter1-doubler-meter"}

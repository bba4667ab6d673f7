"""Operator actions through the keyboard against the REAL endpoints of a real runtime (no
test plugin), with a simulated machine controller (``kit sim`` Modbus on 127.0.0.1):

* shelve a raised alarm of ``basic-alarms`` for a number of minutes (``alarms.shelve``) and
  return it to service;
* stop the simulated machine so the OEE plugin records a downtime, and assign it a reason
  code (``oee.downtimes`` / ``oee.assign_reason``);
* upgrade an ``oee-machine`` deployment to a newer version of its recipe, delivered as a
  recipe file (``recipes.upgrade``).

Each test checks the effect at the real endpoint and what the TUI then shows.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

from kit_tui.app import KitApp
from kit_tui.data.link import RuntimeLink
from kit_tui.screens import wizard as wizard_mod
from kit_tui.screens.dialogs import PromptDialog
from textual.widgets import DataTable, Input
from tui_helpers import PROFILE, replace_text, text, toasts

from kit.control import ControlClient
from kit.testing import wait_for

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


async def install(client: ControlClient, recipe: str, port: int, **params: Any) -> dict[str, Any]:
    """Install a shipped recipe on the simulated controller (short commissioning, awaited)."""
    prefix = "device" if recipe == "basic-alarms" else "machine"
    body = {
        f"{prefix}_profile": PROFILE,
        f"{prefix}_host": "127.0.0.1",
        f"{prefix}_port": port,
        **params,
    }
    return await client.call(
        "recipes.install",
        {"recipe": recipe, "params": body, "check_duration_s": 1.0, "wait_report": True},
        timeout=60,
    )


async def open_screen(app: KitApp, pilot, key: str, mode: str, table: str) -> DataTable:
    """Switch to a screen with its number key; its main table."""
    await pilot.press(key)
    await wait_for(lambda: app.current_mode == mode, message=mode)
    return app.screen.query_one(f"#{table}", DataTable)


async def answer_prompt(app: KitApp, pilot, value: str) -> PromptDialog:
    """Wait for the prompt dialog, type ``value`` and press Enter."""
    await wait_for(lambda: isinstance(app.screen, PromptDialog), message="prompt")
    dialog = app.screen
    await replace_text(pilot, dialog.query_one(Input), value)
    await pilot.press("enter")
    return dialog


def epoch(iso: str) -> float:
    """Seconds since the epoch of an ISO 8601 time with offset."""
    return datetime.fromisoformat(iso).timestamp()


async def test_shelve_real_alarm_for_minutes_then_unshelve(kit_settings, make_runtime, modbus_sim):
    rt = await make_runtime(kit_settings)
    client = ControlClient(rt.bus)
    # The good-part counter (10000 and rising) is far above the limit: the high alarm fires.
    await install(
        client, "basic-alarms", modbus_sim.port, device="press8", point="count_good", high_limit=1.0
    )

    async def high() -> dict[str, Any]:
        return next(a for a in await client.call("alarms.list") if a["rule"] == "high")

    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(100, 36)) as pilot:
        alarms = await open_screen(app, pilot, "5", "alarms", "alarms")
        raised = await wait_for(
            lambda: _state(high, "unacknowledged"), timeout=30, message="high alarm raised"
        )
        aid = raised["id"]
        await pilot.press("r")  # the technician refreshes rather than wait for the alarm event
        await wait_for(lambda: aid in alarms.rows, timeout=15, message="alarm listed")
        alarms.focus()
        alarms.move_cursor(row=alarms.get_row_index(aid))

        # A duration outside 1–1440 minutes is refused in the dialog; nothing reaches the plugin.
        await pilot.press("s")
        dialog = await answer_prompt(app, pilot, "0")
        assert aid in text(dialog.query_one(".dialog-question"))
        await wait_for(
            lambda: "✗" in text(dialog.query_one("#prompt-error")), message="duration refused"
        )
        assert app.screen is dialog and (await high())["state"] == "unacknowledged"

        before = time.time()
        await answer_prompt(app, pilot, "25")
        shelved = await wait_for(
            lambda: _state(high, "shelved"), timeout=15, message="shelved at the alarms plugin"
        )
        after = time.time()
        assert shelved["shelved_by"] == app.operator
        assert before + 25 * 60 - 1 <= epoch(shelved["shelved_until"]) <= after + 25 * 60 + 1
        await wait_for(
            lambda: (
                str(alarms.get_cell(aid, "state"))
                == f"shelved until {shelved['shelved_until'][11:16]}"
            ),
            message="shelved until … shown",
        )

        # Back in service: the condition is still active, so it is annunciated afresh.
        await pilot.press("u")
        await wait_for(
            lambda: _state(high, "unacknowledged"),
            timeout=15,
            message="unshelved at the alarms plugin",
        )
        await wait_for(
            lambda: str(alarms.get_cell(aid, "state")) == "unacknowledged",
            message="unshelved shown",
        )


async def _state(alarm, state: str) -> dict[str, Any] | None:
    """The alarm ``alarm()`` returns, if it is in ``state``."""
    a = await alarm()
    return a if a["state"] == state else None


async def test_assign_reason_to_real_downtime_of_stopped_machine(
    kit_settings, make_runtime, modbus_sim
):
    rt = await make_runtime(kit_settings)
    client = ControlClient(rt.bus)
    result = await install(
        client,
        "oee-machine",
        modbus_sim.port,
        machine="press7",
        ideal_cycle_s=2.0,
        update_every_s=1,
    )
    oee = next(c for c in result["components"] if rt.supervisor.instances[c].type == "oee")

    async def downtimes() -> list[dict[str, Any]]:
        return await client.call("oee.downtimes", {"component": oee})

    async def used() -> int:
        comps = await client.call("components")
        return next(c for c in comps if c["name"] == oee)["metrics"].get("used", 0)

    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(100, 36)) as pilot:
        await open_screen(app, pilot, "4", "kpis", "oee-table")
        table = app.screen.query_one("#downtimes", DataTable)
        await wait_for(used, timeout=15, message="OEE component fed by the running machine")
        assert await downtimes() == []

        # The machine stops: its running signal goes to 0 in the controller.
        modbus_sim.set_value("machine_running", False)
        ongoing = await wait_for(
            lambda: _one(downtimes, lambda d: d["end"] is None and d["planned_s"] > 0),
            timeout=15,
            message="ongoing downtime recorded by the OEE plugin",
        )
        key = f"{oee}|{ongoing['id']}"
        await pilot.press("r")
        await wait_for(lambda: key in table.rows, timeout=15, message="ongoing downtime listed")
        assert str(table.get_cell(key, "dur")) == "ongoing"
        assert "unassigned" in str(table.get_cell(key, "reason"))

        # It runs again: the downtime ends with its duration.
        modbus_sim.set_value("machine_running", True)
        ended = await wait_for(
            lambda: _one(downtimes, lambda d: d["end"] is not None),
            timeout=15,
            message="downtime ended",
        )
        assert ended["id"] == ongoing["id"] and ended["state"] == "down" and ended["duration_s"] > 0
        await pilot.press("r")
        # A stop of a few seconds reads in seconds (as "0.0 min" it looked like no stop at all).
        assert ended["duration_s"] < 60
        await wait_for(
            lambda: str(table.get_cell(key, "dur")) == f"{ended['duration_s']:.0f} s",
            timeout=15,
            message="duration shown in seconds",
        )

        table.focus()
        table.move_cursor(row=table.get_row_index(key))
        await pilot.press("a")
        await answer_prompt(app, pilot, "no_material")
        assigned = await wait_for(
            lambda: _one(downtimes, lambda d: d["reason"] is not None),
            timeout=15,
            message="reason recorded by the OEE plugin",
        )
        assert (assigned["id"], assigned["reason"], assigned["who"]) == (
            ongoing["id"],
            "no_material",
            app.operator,
        )
        assert assigned["assigned_at"] is not None
        await wait_for(
            lambda: str(table.get_cell(key, "reason")) == "no_material", message="reason shown"
        )


async def _one(fetch, pred) -> dict[str, Any] | None:
    """The only entry ``fetch()`` returns, if there is exactly one and it satisfies ``pred``."""
    entries = await fetch()
    return entries[0] if len(entries) == 1 and pred(entries[0]) else None


def newer_recipe(path: Path) -> Path:
    """A copy of the shipped ``oee-machine`` recipe as version 1.1.0 with a new parameter
    (shortest stop recorded as a downtime), written to ``path``."""
    src = (RECIPES / "oee-machine.yaml").read_text(encoding="utf-8")
    new = (
        src.replace("version: 1.0.0", "version: 1.1.0")
        .replace(
            "  counter_max:\n",
            '  min_stop_s: {type: duration, prompt: "Shortest stop recorded as a '
            'downtime", default: 5, min: 0, max: 3600, unit: s}\n  counter_max:\n',
            1,
        )
        .replace(
            '      publish_interval_s: "${update_every_s}"\n',
            '      publish_interval_s: "${update_every_s}"\n      min_downtime_s: "${min_stop_s}"\n',
        )
    )
    assert new.count("1.1.0") == 1 and new.count("min_stop_s") == 2, (
        "the shipped recipe changed shape"
    )
    path.write_text(new, encoding="utf-8")
    return path


async def test_upgrade_real_deployment_to_newer_recipe_file(
    kit_settings, make_runtime, modbus_sim, monkeypatch, tmp_path
):
    # Commissioning of the new version runs on live data, shorter than the recipe's 60 s.
    monkeypatch.setattr(wizard_mod, "CHECK_DURATION_S", 4.0)
    rt = await make_runtime(kit_settings)
    client = ControlClient(rt.bus)
    result = await install(
        client, "oee-machine", modbus_sim.port, machine="press7", ideal_cycle_s=2.0
    )
    dep = result["deployment"]
    before = await client.call("deployments.show", {"deployment": dep})
    oee = next(c["name"] for c in before["components"] if c["type"] == "oee")
    old_oee = rt.supervisor.instances[oee].component
    recipe_file = newer_recipe(tmp_path / "oee-machine-1.1.0.yaml")

    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(100, 36), notifications=True) as pilot:
        deps = await open_screen(app, pilot, "3", "deployments", "deployments")
        await wait_for(lambda: dep in deps.rows, timeout=15, message="deployment listed")
        assert str(deps.get_cell(dep, "recipe")) == "oee-machine 1.0.0"
        deps.focus()
        deps.move_cursor(row=deps.get_row_index(dep))

        # The prompt offers the library's recipe: the same version, so nothing changes — and the
        # TUI says so instead of claiming an upgrade.
        await pilot.press("g")
        await wait_for(lambda: isinstance(app.screen, PromptDialog), message="upgrade prompt")
        assert app.screen.query_one(Input).value == "oee-machine"
        await pilot.press("enter")
        await wait_for(
            lambda: any(f"{dep} not changed" in t for t in toasts(app)),
            timeout=15,
            message="'not changed' notice",
        )
        assert not any("upgraded" in t for t in toasts(app))
        assert (await client.call("deployments.show", {"deployment": dep}))["version"] == "1.0.0"
        assert rt.supervisor.instances[oee].component is old_oee

        # The newer version, delivered as a recipe file.
        await pilot.press("g")
        await answer_prompt(app, pilot, str(recipe_file))
        await wait_for(
            lambda: any(f"upgraded {dep} from 1.0.0 to 1.1.0" in t for t in toasts(app)),
            timeout=60,
            message="upgrade notice",
        )
        after = await client.call("deployments.show", {"deployment": dep})
        assert after["version"] == "1.1.0" and after["recipe_filename"] == str(recipe_file)
        assert after["params"] == {**before["params"], "min_stop_s": 5}
        assert [(h["version"], h["params"]) for h in after["history"]] == [
            ("1.0.0", before["params"])
        ]
        new_oee = rt.supervisor.instances[oee]
        assert new_oee.component is not old_oee and new_oee.config.min_downtime_s == 5
        await wait_for(
            lambda: str(deps.get_cell(dep, "recipe")) == "oee-machine 1.1.0",
            message="new version shown",
        )

        # The new components run on the machine's live data: the new version's commissioning passes.
        async def report() -> dict[str, Any] | None:
            return (await client.call("deployments.show", {"deployment": dep}))["report"]

        rep = await wait_for(report, timeout=30, message="commissioning report of 1.1.0")
        assert (rep["version"], rep["duration_s"], rep["result"]) == ("1.1.0", 4.0, "pass"), rep
        listed = next(
            d
            for d in (await client.call("deployments.list"))["deployments"]
            if d["deployment"] == dep
        )
        assert set(listed["components"].values()) == {"running"}
        await pilot.press("r")
        await wait_for(
            lambda: "running" in str(deps.get_cell(dep, "status")), message="running shown"
        )

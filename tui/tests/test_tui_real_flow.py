"""End to end through the keyboard against the REAL endpoints of a real runtime (no test
plugin): the recipe engine (``recipes.*``, ``deployments.*``), the alarms plugin
(``alarms.*``) and the OPC UA plugin (``opcua.certs.*``), with simulated devices
(``kit sim`` Modbus and OPC UA simulators on 127.0.0.1).

Covers the issue's "done when": install the shipped ``oee-machine`` recipe through the
wizard (a validation error corrected by the user, a failed connection test), see its OEE KPI
appear, acknowledge an alarm of ``basic-alarms``, trust an OPC UA server certificate,
export it as a bundle file, uninstall from the deployments screen and install the bundle again.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from kit_tui.app import KitApp
from kit_tui.data.format import percent_text
from kit_tui.data.link import RuntimeLink
from kit_tui.screens import wizard as wizard_mod
from kit_tui.screens.dialogs import ConfirmDialog, PromptDialog
from kit_tui.screens.overview import headline_oee
from kit_tui.screens.wizard import WizardScreen
from kit_tui.widgets.paramform import ParamForm
from ruamel.yaml import YAML
from textual.widgets import DataTable, Input, Label, Select, Static
from tui_helpers import PROFILE, closed_port, replace_text, text, toasts

from kit.control import ControlClient
from kit.errors import AdapterError
from kit.plugins import get_plugin_manager
from kit.profiles import ProfileLibrary
from kit.testing import wait_for

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


async def open_wizard(app: KitApp, pilot, recipe: str) -> WizardScreen:
    """From the catalog, open the install wizard of a shipped recipe (its form shown)."""
    await pilot.press("2")
    await wait_for(lambda: app.current_mode == "catalog", message="catalog")
    recipes = app.screen.query_one("#recipes", DataTable)
    await wait_for(lambda: recipe in recipes.rows, timeout=15, message="recipe listed")
    recipes.focus()
    recipes.move_cursor(row=recipes.get_row_index(recipe))
    await wait_for(
        lambda: "count_good" in text(app.screen.query_one("#recipe-detail")), message="needs shown"
    )
    await pilot.press("enter")
    await wait_for(
        lambda: isinstance(app.screen, WizardScreen) and app.screen.query(ParamForm),
        message="wizard form",
    )
    wiz = app.screen
    assert isinstance(wiz, WizardScreen) and wiz.recipe_id == recipe
    return wiz


async def fill(pilot, wiz: WizardScreen, **values: str) -> None:
    """Type each value into its form field (pick it, for a list such as a profile)."""
    for name, value in values.items():
        field = wiz.query_one(f"#param-{name}")
        if isinstance(field, Select):
            field.value = value  # raises if the list does not offer it
            await pilot.pause()
        else:
            await replace_text(pilot, wiz.query_one(f"#param-{name}", Input), value)


async def test_wizard_installs_oee_machine_kpi_appears_uninstall(
    kit_settings, make_runtime, modbus_sim, tmp_path
):
    rt = await make_runtime(kit_settings)
    asset = f"{kit_settings.site}/production/line1/press7"
    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(100, 36)) as pilot:
        # Catalog: the shipped recipe is listed with what it needs.
        wiz = await open_wizard(app, pilot, "oee-machine")
        # The commissioning time is pre-filled with the recipe's own (60 s); the technician
        # may shorten it; the checks still run on live data.
        own = YAML(typ="safe").load(RECIPES / "oee-machine.yaml")["commissioning"]["duration_s"]
        commissioning = wiz.query_one(f"#param-{wizard_mod.COMMISSIONING_FIELD}", Input)
        assert float(commissioning.value) == own
        await fill(
            pilot,
            wiz,
            machine="press7",
            machine_profile=PROFILE,
            machine_host="127.0.0.1",
            update_every_s="2",
            **{wizard_mod.COMMISSIONING_FIELD: "6"},
        )

        # A bad value is flagged inline (the recipe's own bound) and blocks the next step …
        cycle = wiz.query_one("#param-ideal_cycle_s", Input)
        await replace_text(pilot, cycle, "-1")
        err = wiz.query_one("#error-ideal_cycle_s", Label)
        await wait_for(lambda: "at least 0.01" in text(err), message="inline validation error")
        await pilot.press("ctrl+n")
        status = wiz.query_one("#wizard-status", Static)
        await wait_for(lambda: "need attention" in text(status), message="blocked")
        assert wiz.step == 0
        # … until the user corrects it.
        await replace_text(pilot, cycle, "2.5")
        await wait_for(lambda: text(err) == "", message="error cleared")

        # The real connection test fails against a port where nothing listens …
        port = wiz.query_one("#param-machine_port", Input)
        await replace_text(pilot, port, str(closed_port()))
        await pilot.press("ctrl+t")
        await wait_for(
            lambda: "connection test failed" in text(status), timeout=30, message="failed test"
        )
        # … and passes against the simulator (the adapter identifies the device).
        await replace_text(pilot, port, str(modbus_sim.port))
        await pilot.press("ctrl+t")
        await wait_for(
            lambda: "connection test passed" in text(status), timeout=30, message="passed test"
        )

        # Plan (nothing created yet), install, commissioning report.
        await pilot.press("ctrl+n")
        await wait_for(lambda: wiz.step == 1, timeout=15, message="plan step")
        assert "oee" in text(wiz.query_one("#wizard-view"))
        assert not any(i.owner for i in rt.supervisor.instances.values()), (
            "nothing installed before confirming"
        )
        await pilot.press("ctrl+n")
        await wait_for(lambda: wiz.step == 3, timeout=60, message="report step")
        dep_name = wiz.deployment
        dep = await ControlClient(rt.bus).call("deployments.show", {"deployment": dep_name})
        assert (
            dep["params"]["ideal_cycle_s"] == 2.5
            and dep["params"]["machine_port"] == modbus_sim.port
        )
        report = dep["report"]
        assert report is not None and report["duration_s"] == 6.0
        verdict = "commissioning PASSED" if report["result"] == "pass" else "commissioning FAILED"
        assert verdict in text(status)
        view = text(wiz.query_one("#wizard-view"))
        for check in report["checks"]:
            assert check["title"] in view
        assert {i.owner for i in rt.supervisor.instances.values() if i.owner} == {dep_name}
        await pilot.press("ctrl+n")
        await wait_for(lambda: not isinstance(app.screen, WizardScreen), message="wizard closed")

        # The OEE KPI of the new deployment appears on the overview and the KPI screen.
        await pilot.press("1")
        await wait_for(lambda: app.current_mode == "overview", message="overview")
        assets = app.screen.query_one("#assets", DataTable)
        store = app.source.store
        await wait_for(
            lambda: asset in assets.rows and headline_oee(store, asset),
            timeout=30,
            message="asset with OEE",
        )
        await wait_for(
            lambda: (
                str(assets.get_cell(asset, "oee"))
                == percent_text(headline_oee(store, asset)["value"])
            ),
            message="OEE cell shows the published KPI",
        )
        await pilot.press("4")
        await wait_for(lambda: app.current_mode == "kpis", message="kpi screen")
        oee = app.screen.query_one("#oee-table", DataTable)
        await wait_for(
            lambda: oee.row_count >= 1 and "%" in str(oee.get_row_at(0)[-2]), message="OEE shown"
        )

        # Export the deployment as a bundle file: the engine's bundle, written by the TUI.
        await pilot.press("3")
        await wait_for(lambda: app.current_mode == "deployments", message="deployments")
        deps = app.screen.query_one("#deployments", DataTable)
        await wait_for(lambda: dep_name in deps.rows, message="deployment listed")
        deps.focus()
        deps.move_cursor(row=deps.get_row_index(dep_name))
        bundle = tmp_path / "press7.kitbundle"
        await pilot.press("e")
        await wait_for(lambda: isinstance(app.screen, PromptDialog), message="export prompt")
        await replace_text(pilot, app.screen.query_one(Input), str(bundle))
        await pilot.press("enter")
        await wait_for(bundle.exists, timeout=15, message="bundle written")
        info = await ControlClient(rt.bus).call(
            "bundles.inspect", {"bundle": base64.b64encode(bundle.read_bytes()).decode()}
        )
        assert dep_name in json.dumps(info)

        # Uninstall from the deployments screen: every component of the deployment goes.
        await pilot.press("u")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), message="confirm uninstall")
        await pilot.press("y")
        await wait_for(
            lambda: not any(i.owner for i in rt.supervisor.instances.values()),
            timeout=15,
            message="components removed",
        )
        await wait_for(lambda: dep_name not in deps.rows, message="deployment gone from the table")
        assert (await ControlClient(rt.bus).call("deployments.list"))["deployments"] == []

        # Install the bundle again: the TUI asks for each blanked site-specific value.
        blanked = [b["name"] for d in info["deployments"] for b in d["blanked"]]
        assert blanked, "the bundle blanks the site-specific values (the controller address)"
        await pilot.press("b")
        await wait_for(lambda: isinstance(app.screen, PromptDialog), message="bundle path prompt")
        await replace_text(pilot, app.screen.query_one(Input), str(bundle))
        await pilot.press("enter")
        await wait_for(
            lambda: isinstance(app.screen, ConfirmDialog),
            timeout=15,
            message="confirm bundle install",
        )
        await pilot.press("y")
        for name in blanked:
            await wait_for(
                lambda n=name: (
                    isinstance(app.screen, PromptDialog)
                    and f"({n})" in text(app.screen.query_one(".dialog-question"))
                ),
                message=f"asked for {name}",
            )
            await replace_text(pilot, app.screen.query_one(Input), str(dep["params"][name]))
            await pilot.press("enter")
        await wait_for(
            lambda: dep_name in deps.rows, timeout=30, message="bundle installed and listed"
        )
        again = await ControlClient(rt.bus).call("deployments.show", {"deployment": dep_name})
        assert {k: again["params"][k] for k in blanked} == {k: dep["params"][k] for k in blanked}


async def test_esc_during_commissioning_leaves_the_wizard_and_the_deployment_keeps_running(
    kit_settings, make_runtime, modbus_sim
):
    rt = await make_runtime(kit_settings)
    client = ControlClient(rt.bus)
    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(100, 36), notifications=True) as pilot:
        wiz = await open_wizard(app, pilot, "oee-machine")
        await fill(
            pilot,
            wiz,
            machine="press9",
            machine_profile=PROFILE,
            machine_host="127.0.0.1",
            machine_port=str(modbus_sim.port),
            ideal_cycle_s="2.5",
            **{wizard_mod.COMMISSIONING_FIELD: "600"},
        )
        await pilot.press("ctrl+n")
        await wait_for(lambda: wiz.step == 1, timeout=15, message="plan step")
        await pilot.press("ctrl+n")
        view = wiz.query_one("#wizard-view", Static)
        await wait_for(
            lambda: "s of 600 s left" in text(view),
            timeout=60,
            message="commissioning counting down",
        )
        dep_name = wiz.deployment
        await pilot.press("escape")
        await wait_for(lambda: not isinstance(app.screen, WizardScreen), message="wizard left")
        await wait_for(
            lambda: any("Deployments screen" in t for t in toasts(app)),
            message="told where the report goes",
        )

        # The deployment stays installed, its commissioning still running on the runtime.
        dep = await client.call("deployments.show", {"deployment": dep_name})
        assert dep["status"] == "commissioning" and dep["report"] is None
        assert {i.owner for i in rt.supervisor.instances.values() if i.owner} == {dep_name}
        await pilot.press("3")
        await wait_for(lambda: app.current_mode == "deployments", message="deployments")
        deps = app.screen.query_one("#deployments", DataTable)
        await wait_for(lambda: dep_name in deps.rows, timeout=15, message="deployment listed")
        assert "commissioning" in str(deps.get_cell(dep_name, "status"))


async def test_ack_real_alarm_and_trust_real_opcua_certificate(
    kit_settings, make_runtime, modbus_sim
):
    from kit_opcua.adapter import OpcuaAdapter
    from kit_opcua.config import OpcuaConfig
    from kit_opcua.pki import Pki

    rt = await make_runtime(kit_settings)
    client = ControlClient(rt.bus)
    # basic-alarms on the simulated controller, limit below the counter so the alarm fires.
    await client.call(
        "recipes.install",
        {
            "recipe": "basic-alarms",
            "params": {
                "device": "press8",
                "device_profile": PROFILE,
                "device_host": "127.0.0.1",
                "device_port": modbus_sim.port,
                "point": "count_good",
                "high_limit": 1.0,
            },
            "check_duration_s": 1.0,
        },
    )

    # An OPC UA server with security whose certificate this site has not trusted yet: the
    # adapter's connection test refuses it and files it under pki/rejected/.
    lib = ProfileLibrary(get_plugin_manager()).load()
    ua = OpcuaAdapter.simulator(
        lib.get("siemens-s7-1500-db"),
        security_policy="Basic256Sha256",
        security_mode="SignAndEncrypt",
    )
    await ua.start()
    try:
        cfg = OpcuaConfig(
            profile="siemens-s7-1500-db",
            endpoint=ua.url,
            data_dir=kit_settings.data_dir,
            security_policy="Basic256Sha256",
            security_mode="SignAndEncrypt",
        )
        with pytest.raises(AdapterError):
            await OpcuaAdapter.test_connection(cfg)
        pki = Pki(kit_settings.data_dir)
        assert [(c.thumbprint, c.state) for c in pki.list()] == [(ua.thumbprint, "rejected")]

        app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
        async with app.run_test(size=(100, 36)) as pilot:
            # Acknowledge the raised alarm.
            await pilot.press("5")
            await wait_for(lambda: app.current_mode == "alarms", message="alarms")
            screen = app.screen
            alarms = screen.query_one("#alarms", DataTable)

            async def high_alarm() -> dict | None:
                return next(
                    (a for a in await client.call("alarms.list") if a["rule"] == "high"), None
                )

            listed = []

            async def raised() -> bool:
                a = await high_alarm()
                listed[:] = [a] if a and a["state"] != "normal" else []
                return bool(listed)

            await wait_for(raised, timeout=30, message="high alarm raised by the alarms plugin")
            aid = listed[0]["id"]
            screen.fetch()  # the screen also refetches on alarm events; do not depend on their timing
            await wait_for(lambda: aid in alarms.rows, timeout=15, message="alarm listed")
            alarms.focus()
            alarms.move_cursor(row=alarms.get_row_index(aid))
            await pilot.press("a")
            acked = []

            async def is_acked() -> bool:
                a = await high_alarm()
                acked[:] = [a]
                return bool(a and a.get("acked_by") == app.operator)

            await wait_for(is_acked, timeout=15, message="ack reached the alarms plugin")
            await wait_for(
                lambda: str(alarms.get_cell(aid, "state")).startswith(acked[0]["state"]),
                message="acknowledged state shown",
            )
            assert "unack" not in acked[0]["state"]

            # Trust the refused OPC UA server certificate.
            await pilot.press("6")
            await wait_for(lambda: app.current_mode == "plugins", message="plugins")
            certs = app.screen.query_one("#certs", DataTable)
            await wait_for(lambda: ua.thumbprint in certs.rows, timeout=15, message="cert listed")
            assert "rejected" in str(certs.get_cell(ua.thumbprint, certs.ordered_columns[0].key))
            certs.focus()
            certs.move_cursor(row=certs.get_row_index(ua.thumbprint))
            await pilot.press("t")
            await wait_for(lambda: isinstance(app.screen, ConfirmDialog), message="confirm trust")
            assert ua.thumbprint in text(app.screen.query_one(".dialog-question"))
            await pilot.press("y")
            await wait_for(
                lambda: [c.state for c in Pki(kit_settings.data_dir).list()] == ["trusted"],
                message="trusted in the site's PKI",
            )
            await wait_for(
                lambda: (
                    "trusted" in str(certs.get_cell(ua.thumbprint, certs.ordered_columns[0].key))
                ),
                message="trust shown",
            )
        # The trusted server now accepts the kit's secure connection.
        assert "points readable" in await OpcuaAdapter.test_connection(cfg)
    finally:
        await ua.stop()

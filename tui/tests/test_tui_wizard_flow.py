"""End to end through the keyboard: install a recipe with the wizard (validation error
corrected, failed connection test, install, commissioning report), see its KPI, acknowledge
and shelve an alarm, trust an OPC UA certificate, uninstall — against a real runtime.

The recipes/alarms/certs endpoints come from the test plugin in ``conftest.py`` (it pins the
TUI's tolerance of other reply shapes and covers shelve, downtime reasons and upgrade);
``test_tui_real_flow.py`` drives the same flow against the real endpoints. The "not
available" path is tested against a runtime without them.
"""

from __future__ import annotations

import asyncio

import pytest
from kit_tui.app import KitApp
from kit_tui.data.format import percent_text
from kit_tui.data.link import RuntimeLink
from kit_tui.screens.dialogs import ConfirmDialog, PromptDialog
from kit_tui.screens.overview import headline_oee
from kit_tui.screens.wizard import WizardScreen
from kit_tui.widgets.paramform import ParamForm
from textual.widgets import DataTable, Input, Label, Static
from tui_helpers import closed_port, replace_text, text

from kit.settings import ComponentSpec
from kit.testing import wait_for

NEW_ASSET = "test/assembly/line9/press9"


@pytest.fixture
async def device():
    """A TCP listener standing in for the machine the recipe connects to."""

    async def _accept(_r, w):
        w.close()

    server = await asyncio.start_server(_accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_install_wizard_end_to_end(
    kit_settings, make_runtime, temp_plugin, fake_endpoints, device
):
    settings = kit_settings.model_copy(
        update={
            "components": [
                ComponentSpec(
                    name="m1",
                    type="synthetic",
                    asset="test/assembly/line1/press1",
                    config={"interval_s": 0.1},
                )
            ]
        }
    )
    rt = await make_runtime(settings, host=temp_plugin(fake_endpoints, name="fake-endpoints"))
    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(100, 36)) as pilot:
        # Catalog: the recipe is listed and the present synthetic machine satisfies it.
        await pilot.press("2")
        await wait_for(lambda: app.current_mode == "catalog", message="catalog")
        recipes = app.screen.query_one("#recipes", DataTable)
        await wait_for(lambda: "oee-basic" in recipes.rows, message="recipe listed")
        await wait_for(
            lambda: "yes" in str(recipes.get_cell("oee-basic", "fits")), message="match shown"
        )
        assert "count_good" in text(app.screen.query_one("#recipe-detail"))
        recipes.focus()
        await pilot.press("enter")
        await wait_for(
            lambda: isinstance(app.screen, WizardScreen) and app.screen.query(ParamForm),
            message="wizard form",
        )
        wiz = app.screen

        # A bad value is flagged inline and blocks the next step …
        cycle = wiz.query_one("#param-ideal_cycle_s", Input)
        await replace_text(pilot, cycle, "-1")
        err = wiz.query_one("#error-ideal_cycle_s", Label)
        await wait_for(lambda: "at least 0.1" in text(err), message="inline validation error")
        await pilot.press("ctrl+n")
        await wait_for(
            lambda: "need attention" in text(wiz.query_one("#wizard-status")), message="blocked"
        )
        assert wiz.step == 0
        # … until the user corrects it.
        await replace_text(pilot, cycle, "2.5")
        await wait_for(lambda: text(err) == "", message="error cleared")

        # The connection test fails against a port where nothing listens …
        port = wiz.query_one("#param-port", Input)
        await replace_text(pilot, port, str(closed_port()))
        await pilot.press("ctrl+t")
        status = wiz.query_one("#wizard-status", Static)
        await wait_for(lambda: "connection test failed" in text(status), message="failed test")
        assert "did not answer" in text(status)
        # … and passes against the device.
        await replace_text(pilot, port, str(device))
        await pilot.press("ctrl+t")
        await wait_for(lambda: "connection test passed" in text(status), message="passed test")

        # Plan, then install, then the commissioning report.
        await pilot.press("ctrl+n")
        await wait_for(lambda: wiz.step == 1, message="plan step")
        assert "fake_oee" in text(wiz.query_one("#wizard-view"))
        assert not any(i.owner for i in rt.supervisor.instances.values()), (
            "nothing installed before confirming"
        )
        await pilot.press("ctrl+n")
        await wait_for(lambda: wiz.step == 3, timeout=20, message="report step")
        assert "commissioning PASSED" in text(status)
        assert "✓ PASS" in text(wiz.query_one("#wizard-view"))
        installed = fake_endpoints.calls[
            [c[0] for c in fake_endpoints.calls].index("recipes.install")
        ][1]
        assert installed["params"]["ideal_cycle_s"] == 2.5 and installed["params"]["port"] == device
        await pilot.press("ctrl+n")
        await wait_for(lambda: not isinstance(app.screen, WizardScreen), message="wizard closed")

        # The KPI of the new deployment appears on the overview.
        await pilot.press("1")
        await wait_for(lambda: app.current_mode == "overview", message="overview")
        assets = app.screen.query_one("#assets", DataTable)
        store = app.source.store
        await wait_for(
            lambda: NEW_ASSET in assets.rows and headline_oee(store, NEW_ASSET),
            message="new asset with OEE",
        )

        def oee_text() -> str:
            kpi = headline_oee(store, NEW_ASSET)
            return percent_text(kpi["value"], kpi.get("unit"))

        await wait_for(
            lambda: str(assets.get_cell(NEW_ASSET, "oee")) == oee_text(),
            message="OEE cell shows the published KPI",
        )
        # … and on the KPI screen with its quality factor.
        await pilot.press("4")
        await wait_for(lambda: app.current_mode == "kpis", message="kpi screen")
        oee = app.screen.query_one("#oee-table", DataTable)
        await wait_for(
            lambda: oee.row_count >= 1 and "%" in str(oee.get_row_at(0)[3]), message="OEE factors"
        )

        # Acknowledge, then shelve the alarm raised by the deployment.
        await pilot.press("5")
        await wait_for(lambda: app.current_mode == "alarms", message="alarms")
        alarms = app.screen.query_one("#alarms", DataTable)
        await wait_for(lambda: "a1" in alarms.rows, message="alarm listed")
        alarms.focus()
        await pilot.press("a")
        await wait_for(
            lambda: fake_endpoints.alarms["a1"]["state"] == "acknowledged",
            message="ack reached runtime",
        )
        await wait_for(
            lambda: "acknowledged" in str(alarms.get_cell("a1", "state")), message="ack shown"
        )
        assert fake_endpoints.alarms["a1"]["acked_by"] == app.operator
        await pilot.press("s")
        await wait_for(lambda: isinstance(app.screen, PromptDialog), message="shelve prompt")
        await replace_text(pilot, app.screen.query_one(Input), "30")
        await pilot.press("enter")
        await wait_for(
            lambda: fake_endpoints.alarms["a1"].get("duration_s") == 30 * 60,
            message="shelved 30 min",
        )

        # Trust the waiting OPC UA server certificate.
        await pilot.press("6")
        await wait_for(lambda: app.current_mode == "plugins", message="plugins")
        certs = app.screen.query_one("#certs", DataTable)
        await wait_for(lambda: "AB12CD34EF56" in certs.rows, message="cert listed")
        certs.focus()
        await pilot.press("t")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), message="confirm trust")
        assert "CN=plc-17" in text(app.screen.query_one(".dialog-question"))
        await pilot.press("y")
        await wait_for(
            lambda: fake_endpoints.certs["AB12CD34EF56"]["state"] == "trusted", message="trusted"
        )
        await wait_for(
            lambda: "trusted" in str(certs.get_cell("AB12CD34EF56", "status")),
            message="trust shown",
        )

        # Uninstall from the deployments screen: every component of the deployment goes.
        await pilot.press("3")
        await wait_for(lambda: app.current_mode == "deployments", message="deployments")
        deps = app.screen.query_one("#deployments", DataTable)
        await wait_for(lambda: "oee-basic-1" in deps.rows, message="deployment listed")
        deps.focus()
        await pilot.press("u")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), message="confirm uninstall")
        await pilot.press("y")
        await wait_for(
            lambda: not any(i.owner for i in rt.supervisor.instances.values()),
            message="components removed",
        )
        await wait_for(
            lambda: "oee-basic-1" not in deps.rows, message="deployment gone from the table"
        )


async def test_screens_say_not_available_without_the_endpoints(
    kit_settings, make_runtime, temp_plugin
):
    # A runtime with no plugins: the core serves recipes/deployments, but nobody serves
    # alarms.* or opcua.certs.* — those screens must say so instead of failing.
    rt = await make_runtime(kit_settings, host=temp_plugin(load_entrypoints=False))
    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.link.connected, message="connected")
        for key, widget in (("5", "#alarms-unavailable"), ("6", "#certs-unavailable")):
            await pilot.press(key)
            await wait_for(
                lambda w=widget: (
                    app.screen.query(w)
                    and "not available on this runtime" in text(app.screen.query_one(w))
                ),
                message=f"{widget} says not available",
            )


async def test_downtime_reason_upgrade_and_bundles(
    kit_settings, make_runtime, temp_plugin, fake_endpoints, device, monkeypatch, tmp_path
):
    from kit_tui.screens import kpis

    from kit.control import ControlClient

    monkeypatch.setattr(kpis, "OEE_COMPONENT_TYPES", {"oee", "fake_oee"})
    rt = await make_runtime(kit_settings, host=temp_plugin(fake_endpoints, name="fake-endpoints"))
    await ControlClient(rt.bus).call(
        "recipes.install",
        {
            "recipe": "oee-basic",
            "params": {
                "host": "127.0.0.1",
                "port": device,
                "asset": NEW_ASSET,
                "ideal_cycle_s": 2.0,
            },
        },
    )
    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(100, 36)) as pilot:
        # Assign a reason code to a downtime of the OEE component.
        await pilot.press("4")
        await wait_for(lambda: app.current_mode == "kpis", message="kpis")
        downtimes = app.screen.query_one("#downtimes", DataTable)
        await wait_for(
            lambda: any(k.value == "oee-basic-1-oee|dt-1" for k in downtimes.rows),
            message="downtime listed",
        )
        assert "unassigned" in str(downtimes.get_cell("oee-basic-1-oee|dt-1", "reason"))
        downtimes.focus()
        await pilot.press("a")
        await wait_for(lambda: isinstance(app.screen, PromptDialog), message="reason prompt")
        await replace_text(pilot, app.screen.query_one(Input), "changeover")
        await pilot.press("enter")
        await wait_for(
            lambda: fake_endpoints.downtimes[0]["reason"] == "changeover", message="reason recorded"
        )
        assert fake_endpoints.downtimes[0]["component"] == "oee-basic-1-oee"
        assert fake_endpoints.downtimes[0]["who"] == app.operator
        await wait_for(
            lambda: str(downtimes.get_cell("oee-basic-1-oee|dt-1", "reason")) == "changeover",
            message="reason shown",
        )

        # Upgrade, export a bundle, install it again under another name.
        await pilot.press("3")
        await wait_for(lambda: app.current_mode == "deployments", message="deployments")
        deps = app.screen.query_one("#deployments", DataTable)
        await wait_for(lambda: "oee-basic-1" in deps.rows, message="deployment listed")
        deps.focus()
        await pilot.press("g")
        await wait_for(lambda: isinstance(app.screen, PromptDialog), message="upgrade prompt")
        assert app.screen.query_one(Input).value == "oee-basic"
        await pilot.press("enter")
        await wait_for(
            lambda: "1.1.0" in str(deps.get_cell("oee-basic-1", "recipe")),
            message="upgraded version shown",
        )

        bundle = tmp_path / "line9.kitbundle"
        await pilot.press("e")
        await wait_for(lambda: isinstance(app.screen, PromptDialog), message="export prompt")
        await replace_text(pilot, app.screen.query_one(Input), str(bundle))
        await pilot.press("enter")
        await wait_for(bundle.exists, message="bundle written")
        await pilot.press("b")
        await wait_for(lambda: isinstance(app.screen, PromptDialog), message="bundle path prompt")
        await replace_text(pilot, app.screen.query_one(Input), str(bundle))
        await pilot.press("enter")
        await wait_for(
            lambda: isinstance(app.screen, ConfirmDialog), message="confirm bundle install"
        )
        await wait_for(
            lambda: "oee-basic-1" in text(app.screen_stack[-2].query_one("#detail")),
            message="bundle shown",
        )
        await pilot.press("y")
        await wait_for(
            lambda: "oee-basic-1-copy" in deps.rows, message="bundle installed and listed"
        )

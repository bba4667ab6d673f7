"""The install wizard offers the site's own profiles: a profile parameter is a list fed by
the runtime's site library (``recipes.show`` choices), against a real runtime."""

from __future__ import annotations

import re
from pathlib import Path

from kit_tui.app import KitApp
from kit_tui.data.link import RuntimeLink
from kit_tui.screens.wizard import WizardScreen
from textual.widgets import Select

from kit.testing import wait_for

SHIPPED = Path(__file__).resolve().parents[2] / "hardware_profiles" / "eastron-sdm630.yaml"


async def test_wizard_profile_list_includes_a_site_profile(kit_settings, make_runtime):
    rt = await make_runtime(kit_settings)
    # Added while the runtime runs (as `kit profile add` does): no restart needed.
    site = kit_settings.data_dir / "profiles"
    site.mkdir(parents=True, exist_ok=True)
    text = re.sub(r"(?m)^id: .*$", "id: acme-em-3000", SHIPPED.read_text(), count=1)
    (site / "acme-em-3000.yaml").write_text(text)

    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(100, 36)) as pilot:
        app.push_screen(WizardScreen("energy-per-shift"))
        await wait_for(
            lambda: (
                isinstance(app.screen, WizardScreen)
                and bool(app.screen.query("#param-meter_profile"))
            ),
            message="wizard form with the profile field",
        )
        field = app.screen.query_one("#param-meter_profile")
        assert isinstance(field, Select)  # a list to pick from, not a free text field
        # Setting a value redraws the list's label: wait until the list has composed it.
        await wait_for(lambda: bool(field.query("SelectCurrent #label")), message="list composed")
        field.value = "acme-em-3000"  # raises if the site profile is not among the choices
        field.value = "eastron-sdm630"  # shipped ones are offered too
        await pilot.pause()
        assert field.value == "eastron-sdm630"

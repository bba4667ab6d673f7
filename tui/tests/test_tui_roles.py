"""Roles in the TUI (kit_tui.roles): what a viewer and a technician are offered.

The runtime enforces roles on the bus (tests/abuse/test_roles.py, and the browser test
test_web_browser.py end to end); these pilot tests check that the TUI offers no key that
could only fail, on the canned site of the snapshot tests. Also: a TUI that starts while
its link is still connecting shows no "Not connected" toast over its first screen.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kit_tui.app import KitApp
from kit_tui.data.fixed import FixedSource
from kit_tui.data.link import RuntimeLink
from kit_tui.roles import allowed, current_role
from kit_tui.screens.wizard import WizardScreen
from kit_tui.widgets.keyhints import KeyHints
from tui_helpers import toasts

from kit.testing import wait_for

SAMPLE = Path(__file__).parent / "sample-configs" / "site.json"


def hints(app: KitApp) -> str:
    return str(app.screen.query_one(KeyHints).render())


@pytest.mark.parametrize(
    ("role", "alarm_keys", "install"),
    [("viewer", False, False), ("technician", True, False), ("admin", True, True)],
    ids=["viewer", "technician", "admin"],
)
async def test_keys_offered_follow_the_role(role: str, alarm_keys: bool, install: bool):
    src = FixedSource.from_file(SAMPLE)
    app = KitApp(src, role=role)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await pilot.press("5")
        await wait_for(lambda: app.current_mode == "alarms", message="alarms")
        await wait_for(lambda: "Active/all" in hints(app), message="alarm hints")
        assert ("Acknowledge" in hints(app)) is alarm_keys
        assert ("Shelve" in hints(app)) is alarm_keys
        await pilot.press("a")  # refused in the UI when the role may not: nothing is sent
        if alarm_keys:
            await wait_for(lambda: any(c[0] == "alarms.ack" for c in src.calls), message="ack")
        else:
            await pilot.pause()
            assert not any(c[0] == "alarms.ack" for c in src.calls)

        await pilot.press("2")
        await wait_for(lambda: app.current_mode == "catalog", message="catalog")
        app.screen.query_one("#recipes").focus()
        await pilot.press("enter")
        if install:
            await wait_for(lambda: isinstance(app.screen, WizardScreen), message="wizard")
        else:
            await wait_for(
                lambda: any("needs the admin role" in t for t in toasts(app)), message="refusal"
            )
            assert not isinstance(app.screen, WizardScreen)
        if role != "admin":
            assert f"({role})" in app.title


def test_role_rules():
    assert current_role("viewer") == "viewer"
    with pytest.raises(ValueError, match="unknown role"):
        current_role("boss")
    assert not allowed("viewer", "ack") and allowed("technician", "ack")
    assert not allowed("technician", "install") and allowed("admin", "install")
    assert allowed("viewer", "reload")  # unlisted actions only read


async def test_no_not_connected_toast_while_the_link_comes_up(kit_settings, make_runtime):
    rt = await make_runtime(kit_settings)
    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_for(lambda: app.link.connected, timeout=20, message="connected")
        await pilot.press("3")  # a screen that fetches from the control API once connected
        await wait_for(lambda: app.current_mode == "deployments", message="deployments")
        await pilot.press("1")
        await wait_for(lambda: app.current_mode == "overview", message="overview")
        assert not [t for t in toasts(app) if "Not connected" in t]

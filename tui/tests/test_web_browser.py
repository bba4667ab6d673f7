"""``kit web`` end to end in headless Chromium (issue 17, "Done when", first point).

One module, one real runtime (``kit demo --headless``: embedded NATS with its role users,
simulated Modbus devices, the shipped OEE, energy and condition recipes) and one ``kit web``
process in front of it, driven by Debian's Chromium through Playwright:

* a viewer signs in, sees the OEE of the press change live, and cannot install: the
  catalog offers no Install key, Enter opens no wizard, and the runtime itself refuses
  the viewer's bus user a technician's call;
* a technician signs in and acknowledges a real alarm (``basic-alarms`` on the simulated
  press, installed by the admin when the module starts), recorded at the alarms plugin
  under the technician's name.

Screenshots go to ``KIT_WEB_SCREENSHOTS`` when set (docs/web.md's come from here).
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright
from web_helpers import CHROMIUM, Site, screen, sign_in, start_site, wait_screen

from kit.bus import Bus
from kit.control import ControlClient
from kit.testing import wait_for
from kit.trust.busauth import client_options


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory):
    """The demo runtime and ``kit web`` (shared by the module: both tests only sign in)."""
    s = start_site(tmp_path_factory.mktemp("web"))
    try:
        # The technician's alarm is raised while the viewer's test runs (saves its wait).
        asyncio.run(_install_alarm(s))
        yield s
    finally:
        s.stop()


async def _install_alarm(site: Site) -> None:
    """``basic-alarms`` on the simulated press: the good-part counter (10000 and rising) is
    far above the limit, so a real high alarm is raised a few seconds later."""
    bus, admin = await _control(site, "admin")
    try:
        await admin.call(
            "recipes.install",
            {
                "recipe": "basic-alarms",
                "params": {
                    "device": "press8",
                    "device_profile": "siemens-s7-mb-server",
                    "device_host": "127.0.0.1",
                    "device_port": site.machine_port,
                    "point": "count_good",
                    "high_limit": 1.0,
                },
                "check_duration_s": 1.0,
                "wait_report": False,
            },
            timeout=60,
        )
    finally:
        await bus.close()


async def _control(site: Site, role: str) -> tuple[Bus, ControlClient]:
    bus = await Bus.connect(site.bus_url, **client_options(site.data_dir, role, site.bus_url))
    return bus, ControlClient(bus)


async def _shot(page: Any, name: str) -> None:
    """Save a screenshot when KIT_WEB_SCREENSHOTS names a directory; else nothing."""
    out = os.environ.get("KIT_WEB_SCREENSHOTS")
    if out:
        await page.screenshot(path=str(Path(out) / name))


def _oee(text: str) -> str | None:
    """The OEE cell of the press's row on the overview."""
    m = re.search(r"press1\s+● \w+\s+● \w+\s+\S+\s+([\d.]+ %)", text)
    return m.group(1) if m else None


async def test_viewer_sees_live_oee_and_cannot_install(site: Site):
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = await sign_in(browser, site, "vic")
        first = await screen(page)
        assert "vic (viewer)" in first  # the header says who is signed in, with which role

        # Live: the press's OEE (recomputed every 5 s from the simulated counters) changes
        # in the browser without a key press.
        seen = await wait_for(
            lambda: _oee_now(page), timeout=30, message="an OEE value in the browser"
        )
        changed = await wait_for(
            lambda: _oee_changed(page, seen), timeout=30, message=f"OEE to change from {seen}"
        )
        assert changed != seen
        await _shot(page, "web-viewer-overview.png")

        # Catalog: no Install key for a viewer, and Enter on a recipe opens no wizard.
        await page.keyboard.press("2")
        await wait_screen(page, "— Recipe catalog")
        await wait_screen(page, "oee-machine")
        await page.keyboard.press("Enter")
        refused = await wait_screen(page, "Installing needs the admin role")
        assert "Install oee-machine" not in refused and "— Recipe catalog" in refused
        await _shot(page, "web-viewer-catalog.png")

        # Alarms: no Acknowledge or Shelve key for a viewer (a technician has them, below).
        await page.keyboard.press("5")
        await wait_screen(page, "— Alarms")
        await wait_screen(page, "Active/all")
        hints = (await screen(page)).splitlines()[-1]
        assert "Acknowledge" not in hints and "Shelve" not in hints
        await browser.close()

    # The runtime refuses the viewer's bus user an action whatever a browser sends: the
    # server rejects the publish to a technician's endpoint.
    bus, _client = await _control(site, "viewer")
    errors: list[str] = []

    async def on_error(e: Exception) -> None:
        errors.append(str(e))

    bus.nc._error_cb = on_error  # nats-py calls it for the server's -ERR
    try:
        await bus.nc.publish("kit.control.alarms.ack", b'{"id": "x", "who": "vic"}')
        await bus.nc.flush()
        refusal = await wait_for(
            lambda: next((e for e in errors if "permissions violation" in e.lower()), None),
            message="the server to refuse the viewer's ack",
        )
        assert "kit.control.alarms.ack" in refusal
    finally:
        await bus.close()


async def _oee_now(page: Any) -> str | None:
    return _oee(await screen(page))


async def _oee_changed(page: Any, before: str) -> str | None:
    now = _oee(await screen(page))
    return now if now is not None and now != before else None


async def test_technician_acknowledges_alarm(site: Site):
    admin_bus, admin = await _control(site, "admin")
    try:

        async def high() -> dict[str, Any] | None:
            for a in await admin.call("alarms.list"):
                if a["rule"] == "high" and a["state"] == "unacknowledged":
                    return a
            return None

        alarm = await wait_for(high, timeout=30, message="the high alarm raised")

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = await sign_in(browser, site, "tom")
            assert "tom (technician)" in await screen(page)
            await page.keyboard.press("5")
            await wait_screen(page, "count_good > 1 (hi)")

            async def listed() -> str | None:
                # Active unacknowledged alarms sort first: the cursor is on its row.
                text = await screen(page)
                rows = [ln for ln in text.splitlines()[2:] if "line1/" in ln or "cooling/" in ln]
                first = rows[0] if rows else ""
                return (
                    text
                    if re.search(r"unacknowledged\s+line1/press8\s+count_good > 1", first)
                    else None
                )

            alarms = await wait_for(
                listed, timeout=30, message=f"the alarm first:\n{await screen(page)}"
            )
            assert "a Acknowledge" in alarms.splitlines()[-1]
            await _shot(page, "web-technician-alarms.png")
            await page.keyboard.press("a")

            async def acked() -> dict[str, Any] | None:
                for a in await admin.call("alarms.list"):
                    if a["id"] == alarm["id"] and a["acked"]:
                        return a
                return None

            done = await wait_for(acked, timeout=30, message="the alarm acknowledged")
            assert done["acked_by"] == "tom"  # the signed-in person, not the server's login
            await wait_screen(page, f"acknowledged {alarm['id']}")
            await browser.close()
    finally:
        await admin_bus.close()

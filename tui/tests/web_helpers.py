"""Helpers for the ``kit web`` browser test and ``bench/web.py``: a real runtime (``kit demo
--headless``: embedded NATS with its role users, simulated Modbus devices, shipped recipes),
``kit web`` in front of it, and reading the terminal a browser shows.

textual-serve draws the terminal with xterm.js on a canvas, so the text is not in the page's
DOM. :data:`TERMINAL_HOOK` (a Playwright init script) catches the xterm.js ``Terminal`` as
it is built — the public object assigns ``_addonManager`` in its constructor, which a setter
on ``Object.prototype`` sees — and :func:`screen` reads its buffer: the characters xterm.js
has drawn, row by row.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kit.testing_tools import chromium

TERMINAL_HOOK = r"""
Object.defineProperty(Object.prototype, '_addonManager', {
  configurable: true,
  set(v) {
    Object.defineProperty(this, '_addonManager', {value: v, writable: true, configurable: true});
    window.__kitTerm = this;
  },
});
window.__kitScreen = () => {
  const t = window.__kitTerm;
  if (!t) return '';
  const b = t.buffer.active, out = [];
  for (let y = 0; y < t.rows; y++) {
    const line = b.getLine(y);
    out.push(line ? line.translateToString(true) : '');
  }
  return out.join('\n');
};
"""
#: Debian's Chromium (Playwright's own browser download is not available); installed on
#: first use by :func:`kit.testing_tools.chromium` when missing.
CHROMIUM = chromium()
PASSWORDS = {"vic": "viewer-pass-1", "tom": "technician-pass-1", "ada": "admin-pass-123"}
ROLES = {"vic": "viewer", "tom": "technician", "ada": "admin"}


def wait_file(path: Path, pattern: str, proc: subprocess.Popen, timeout: float) -> re.Match:
    """Poll ``path`` until ``pattern`` appears (the process prints it when ready)."""
    deadline = time.monotonic() + timeout
    rx = re.compile(pattern)
    while time.monotonic() < deadline:
        m = rx.search(path.read_text(errors="replace")) if path.exists() else None
        if m:
            return m
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited {proc.returncode}: {path.read_text()[-2000:]}")
        time.sleep(0.1)  # polling a log file for a condition, bounded by the deadline
    raise TimeoutError(f"{pattern!r} not in {path} after {timeout} s: {path.read_text()[-2000:]}")


@dataclass
class Site:
    """A running demo runtime and ``kit web`` in front of it."""

    data_dir: Path
    bus_url: str
    machine_port: int
    web_url: str
    demo: subprocess.Popen
    web: subprocess.Popen

    def stop(self) -> None:
        """SIGTERM both (web first: its TUIs leave the bus before the runtime stops)."""
        for p in (self.web, self.demo):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()


def start_site(base: Path, extra_web_args: tuple[str, ...] = ()) -> Site:
    """Start ``kit demo --headless`` and ``kit web --port 0`` with accounts vic/tom/ada."""
    from kit_tui.web.accounts import Accounts

    data = base / "data"
    data.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "KIT_DATA_DIR": str(data)}
    env.pop("KIT_CONFIG", None)
    env.pop("KIT_ROLE", None)
    kit = [sys.executable, "-m", "kit"]
    demo_log = base / "demo.log"
    demo = subprocess.Popen(
        [*kit, "demo", "--headless"],
        env=env,
        stdout=demo_log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        m = wait_file(demo_log, r"demo running — bus (nats://\S+),", demo, 90)
        bus_url = m.group(1)
        port = int(
            wait_file(demo_log, r"siemens-s7-mb-server on modbus://127.0.0.1:(\d+)", demo, 5)[1]
        )
        accounts = Accounts(data)
        for name, role in ROLES.items():
            accounts.set(name, role, PASSWORDS[name])
        web_log = base / "web.log"
        web = subprocess.Popen(
            [*kit, "web", "--port", "0", "--url", bus_url, *extra_web_args],
            env=env,
            stdout=web_log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except BaseException:
        demo.kill()
        raise
    site = Site(data, bus_url, port, "", demo, web)
    try:
        site.web_url = wait_file(web_log, r"serving the TUI on (https?://\S+) ", web, 60)[1]
    except BaseException:
        site.stop()
        raise
    return site


async def sign_in(browser, site: Site, name: str, width: int = 1280, height: int = 800):
    """A new page signed in as ``name``, with the terminal hook; waits for the overview."""
    page = await browser.new_page(viewport={"width": width, "height": height})
    await page.add_init_script(TERMINAL_HOOK)
    await page.goto(site.web_url + "/")
    await page.fill("#username", name)
    await page.fill("#password", PASSWORDS[name])
    await page.click("#sign-in")
    await wait_screen(page, "Overview", timeout=60)
    await page.click("#terminal")  # keys go to the terminal
    return page


async def screen(page) -> str:
    """The text the browser's terminal shows now."""
    return await page.evaluate("window.__kitScreen ? window.__kitScreen() : ''")


async def wait_screen(page, needle: str, timeout: float = 30) -> str:
    """Wait until the terminal shows ``needle``; the whole screen then."""
    from playwright.async_api import TimeoutError as PlaywrightTimeout

    try:
        await page.wait_for_function(
            "n => window.__kitScreen && window.__kitScreen().includes(n)",
            arg=needle,
            timeout=timeout * 1000,
            polling=50,
        )
    except PlaywrightTimeout:
        raise AssertionError(
            f"{needle!r} not shown within {timeout} s:\n{await screen(page)}"
        ) from None
    return await screen(page)

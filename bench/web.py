"""``kit web``: memory and CPU per connected browser, and key → update latency in the browser.

What it does, in one run:

1. starts a runtime (``kit up``, embedded NATS on a free port, ``--assets`` synthetic
   machines publishing at 1 Hz) and ``kit web --port 0`` in front of it;
2. **baseline**: the same TUI in a terminal (tmux, as a technician over SSH) against the
   same runtime, as a viewer — its memory, its CPU while watching, and ``--presses``
   presses of ``2`` / ``1`` (catalog / overview) timed until the new title is in the pane;
3. opens ``--browsers`` headless Chromium pages (Debian's ``/usr/bin/chromium`` through
   Playwright), each signed in as a viewer (each runs its own ``kit tui`` process);
4. measures, on the server side, the resident memory of ``kit web`` and of every TUI
   process it started (``/proc``), and their CPU over ``--window`` seconds of watching live
   data with no key pressed (per browser: the increase over ``kit web`` idle, divided by
   the number of browsers);
5. in the first page, sends the same key presses through xterm.js (``Terminal.input``, as
   a typed key) and times, inside the page, until the terminal has drawn the new screen's
   title (``onRender``): key → WebSocket → TUI → WebSocket → xterm.js → drawn.

Prints the figures and the ratios web / terminal, then ONE line of JSON. Needs tmux and
Chromium (``.ci/run`` installs both). ``--quick``: one
browser, 6 presses, 1 s windows (a smoke run; starting each browser's TUI process takes a
few seconds of CPU, so even the quick run takes ~20 s on a busy 2-core machine).

Usage: ``uv run python bench/web.py [--browsers 3] [--presses 30] [--window 10]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tui" / "tests"))
from web_helpers import CHROMIUM, PASSWORDS, TERMINAL_HOOK, wait_file  # noqa: E402

ASSETS = 6
TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

#: Measures one key press inside the page: input → drawn frame showing ``marker``.
PRESS_JS = """
([key, marker]) => new Promise((resolve, reject) => {
  const t = window.__kitTerm;
  const t0 = performance.now();
  const timer = setTimeout(() => { d.dispose(); reject(new Error('no ' + marker)); }, 15000);
  const d = t.onRender(() => {
    if (window.__kitScreen().includes(marker)) {
      clearTimeout(timer); d.dispose(); resolve(performance.now() - t0);
    }
  });
  t.input(key, true);
})
"""


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d.name))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def rss_mb(pid: int) -> float:
    """Resident memory of one process (MB)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE / 1e6
    except OSError:
        return 0.0


def cpu_s(pids: list[int]) -> float:
    """User + system CPU seconds of ``pids`` so far."""
    total = 0
    for p in pids:
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(f[11]) + int(f[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / TICK


def write_config(tmp: Path) -> Path:
    comps = "\n".join(
        f"  - name: m{i}\n    type: synthetic\n    asset: bench/hall/line{i % 3}/m{i}\n"
        f"    config: {{interval_s: 1.0, seed: {i + 1}}}"
        for i in range(ASSETS)
    )
    cfg = tmp / "kit.yaml"
    cfg.write_text(
        f"site: bench\ndata_dir: {tmp / 'data'}\nnats:\n  port: 0\nhistory: false\n"
        f"components:\n{comps}\n"
    )
    return cfg


def start(tmp: Path) -> tuple[subprocess.Popen, subprocess.Popen, str, Path]:
    """``kit up``, then ``kit web`` (not waited for: the baseline runs while it starts);
    (runtime, web, bus URL, web log)."""
    from kit_tui.web.accounts import Accounts

    cfg = write_config(tmp)
    data = tmp / "data"
    data.mkdir()
    Accounts(data).set("vic", "viewer", PASSWORDS["vic"])
    env = {k: v for k, v in os.environ.items() if k not in ("KIT_CONFIG", "KIT_ROLE")}
    kit = [sys.executable, "-m", "kit", "--config", str(cfg)]
    up_log, web_log = tmp / "up.log", tmp / "web.log"
    up = subprocess.Popen([*kit, "up"], env=env, stdout=up_log.open("w"), stderr=subprocess.STDOUT)
    bus = wait_file(up_log, r"bus (nats://\S+),", up, 60)[1]
    web = subprocess.Popen(
        [*kit, "web", "--port", "0", "--url", bus],
        env=env,
        stdout=web_log.open("w"),
        stderr=subprocess.STDOUT,
    )
    return up, web, bus, web_log


SESSION = "kit-web-bench"


def tmux(*args: str) -> str:
    """Run one tmux command; its stdout."""
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def wait_pane(marker: str, timeout: float = 15) -> float:
    """Poll the tmux pane until ``marker`` shows; when it appeared (perf_counter)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if marker in tmux("capture-pane", "-p", "-t", SESSION):
            return time.perf_counter()
        time.sleep(0.002)  # poll interval: leave the CPU to the TUI being measured
    raise TimeoutError(f"{marker!r} not in the terminal after {timeout} s")


def terminal(cfg: Path, bus: str, presses: int, window: float, settle: float) -> dict:
    """Baseline: the same TUI in a terminal (tmux, as over SSH), as a viewer: key → update
    (send-keys → title in capture-pane), its memory and its CPU while watching live data."""
    cmd = (
        f"TERM=xterm-256color {sys.executable} -m kit --config {cfg} tui --url {bus} --role viewer"
    )
    tmux("new-session", "-d", "-s", SESSION, "-x", "120", "-y", "40", cmd)
    try:
        wait_pane("— Overview", 90)
        # Warm-up period (--settle), a measuring schedule: the TUI builds its other screens
        # in the background at first and gives no signal when done, so CPU is measured after.
        time.sleep(settle)
        pid = int(tmux("display-message", "-p", "-t", SESSION, "#{pane_pid}").strip())
        pids = [pid, *descendants(pid)]
        c0 = cpu_s(pids)
        time.sleep(window)  # measuring window: watching live data, no key pressed
        out: dict = {"cpu_pct": round((cpu_s(pids) - c0) / window * 100, 2)}
        out["rss_mb"] = round(sum(rss_mb(p) for p in pids), 1)
        lat = []
        for i in range(presses + 2):  # the first two: warm-up
            key, marker = ("2", "— Recipe catalog") if i % 2 == 0 else ("1", "— Overview")
            t0 = time.perf_counter()
            tmux("send-keys", "-t", SESSION, key)
            ms = (wait_pane(marker) - t0) * 1000
            if i >= 2:
                lat.append(ms)
        out["latency_ms"] = lat
        return out
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)


async def browsers(
    url: str, web_pid: int, n: int, presses: int, window: float, settle: float
) -> dict:
    from playwright.async_api import async_playwright

    res: dict = {}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        tree0 = [web_pid]
        c0 = cpu_s(tree0)
        await asyncio.sleep(window)  # measuring window: kit web with nobody connected
        res["web_idle_cpu_pct"] = (cpu_s(tree0) - c0) / window * 100
        res["web_idle_rss_mb"] = rss_mb(web_pid)
        pages = []
        t_sign = []
        for _ in range(n):
            page = await browser.new_page(viewport={"width": 1280, "height": 800})
            await page.add_init_script(TERMINAL_HOOK)
            t0 = time.perf_counter()
            await page.goto(url + "/")
            await page.fill("#username", "vic")
            await page.fill("#password", PASSWORDS["vic"])
            await page.click("#sign-in")
            await page.wait_for_function(
                "() => window.__kitScreen && window.__kitScreen().includes('bench')",
                timeout=90_000,
            )
            t_sign.append(time.perf_counter() - t0)
            pages.append(page)
        res["sign_in_to_live_screen_s"] = [round(t, 2) for t in t_sign]
        await asyncio.sleep(settle)  # warm-up period (--settle), as in the terminal
        tree = [web_pid, *descendants(web_pid)]
        tuis = [p for p in tree if p != web_pid]
        c1 = cpu_s(tree)
        await asyncio.sleep(window)  # measuring window: n browsers watching live data
        cpu_pct = (cpu_s(tree) - c1) / window * 100
        rss_tuis = sum(rss_mb(p) for p in tuis)
        res["sessions"] = n
        res["web_rss_mb"] = rss_mb(web_pid)
        res["tui_processes_rss_mb"] = round(rss_tuis, 1)
        res["rss_per_browser_mb"] = round(
            (rss_tuis + res["web_rss_mb"] - res["web_idle_rss_mb"]) / n, 1
        )
        res["cpu_pct_all"] = round(cpu_pct, 2)
        res["cpu_pct_per_browser"] = round((cpu_pct - res["web_idle_cpu_pct"]) / n, 2)
        for key, marker in (("2", "— Recipe catalog"), ("1", "— Overview")):  # warm-up
            await pages[0].evaluate(PRESS_JS, [key, marker])
        lat = []
        for i in range(presses):
            key, marker = ("2", "— Recipe catalog") if i % 2 == 0 else ("1", "— Overview")
            lat.append(await pages[0].evaluate(PRESS_JS, [key, marker]))
        res["latency_ms"] = lat
        await browser.close()
    return res


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--browsers", type=int, default=3)
    ap.add_argument("--presses", type=int, default=30)
    ap.add_argument("--window", type=float, default=10.0, help="CPU measuring window (s)")
    ap.add_argument(
        "--settle", type=float, default=5.0, help="seconds after start before measuring CPU"
    )
    ap.add_argument(
        "--quick", action="store_true", help="1 browser, 6 presses, 1 s windows, no settling"
    )
    args = ap.parse_args()
    if args.quick:
        args.browsers, args.presses, args.window, args.settle = 1, 6, 1.0, 0.0
    with tempfile.TemporaryDirectory(prefix="kit-bench-web-") as d:
        tmp = Path(d)
        up, web, bus, web_log = start(tmp)
        try:
            term = terminal(tmp / "kit.yaml", bus, args.presses, args.window, args.settle)
            url = wait_file(web_log, r"serving the TUI on (http://\S+) ", web, 60)[1]
            res = asyncio.run(
                browsers(url, web.pid, args.browsers, args.presses, args.window, args.settle)
            )
        finally:
            for p in (web, up):
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
    lat, base = res.pop("latency_ms"), term.pop("latency_ms")
    web_p50, base_p50 = statistics.median(lat), statistics.median(base)
    ratio = web_p50 / base_p50 if base_p50 else float("nan")
    print(
        f"kit web, {res['sessions']} browser(s) signed in as viewer, {ASSETS} assets at 1 Hz:\n"
        f"  memory: kit web {res['web_rss_mb']:.0f} MB (idle {res['web_idle_rss_mb']:.0f} MB), "
        f"TUI processes {res['tui_processes_rss_mb']:.0f} MB → {res['rss_per_browser_mb']:.0f} MB "
        "per connected browser\n"
        f"  CPU while watching live data: {res['cpu_pct_all']:.1f} % of a core in all "
        f"(kit web alone {res['web_idle_cpu_pct']:.1f} %) → {res['cpu_pct_per_browser']:.1f} % "
        "per browser\n"
        f"  sign-in → live screen: {res['sign_in_to_live_screen_s']} s\n"
        f"  key → update in the browser (in-page, drawn): p50 {web_p50:.1f} ms  "
        f"p95 {pct(lat, 0.95):.1f} ms  max {max(lat):.1f} ms\n"
        f"  baseline, the same TUI in a terminal (tmux, as over SSH): key → update p50 "
        f"{base_p50:.1f} ms  p95 {pct(base, 0.95):.1f} ms; {term['rss_mb']:.0f} MB, "
        f"{term['cpu_pct']:.1f} % of a core while watching\n"
        f"  ratio web / terminal: key → update p50 {ratio:.2f}, memory "
        f"{res['rss_per_browser_mb'] / term['rss_mb']:.2f}   "
        f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)"
    )
    print(
        json.dumps(
            {
                "bench": "web",
                **res,
                "web_p50_ms": round(web_p50, 1),
                "web_p95_ms": round(pct(lat, 0.95), 1),
                "terminal": {**term, "p50_ms": round(base_p50, 1)},
                "p50_ratio_web_to_terminal": round(ratio, 2),
                "rss_ratio_web_to_terminal": round(res["rss_per_browser_mb"] / term["rss_mb"], 2),
                "presses": args.presses,
                "load_avg": round(os.getloadavg()[0], 1),
            }
        )
    )


if __name__ == "__main__":
    main()

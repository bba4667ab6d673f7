"""docs/own-device.md can never rot: every shell block of the page is run, as written, against
a real runtime (``kit up``) and a simulated device (``kit sim``) on loopback, in a temp data
dir (KIT_DATA_DIR) with the bus on a free port (KIT_NATS__PORT).

Conventions of the page that this test relies on (and checks):
* a ``yaml`` block whose first line is ``# file: NAME`` is saved as NAME (the technician
  saves it in an editor);
* a ``sh`` block whose first line says ``keeps running`` is started in the background (a
  second terminal) and waited for; every other ``sh`` block runs line by line and must
  exit 0;
* the device port ``5020`` of the page is replaced by a free port (nothing else is changed).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DOC = Path(__file__).resolve().parents[1] / "docs" / "own-device.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
DEADLINE_S = 180.0  # only bounds a hang; the test waits for conditions, not for time


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _blocks() -> list[tuple[str, str]]:
    return [(lang, body) for lang, body in FENCE.findall(DOC.read_text())]


def _wait(cond, what: str, proc: subprocess.Popen | None = None) -> None:
    """Poll ``cond`` until true; fail with ``what`` (and the process's output) if it never is."""
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        if cond():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: process exited {proc.returncode}: {proc.stdout.read()}")
        time.sleep(0.1)  # polling interval of the condition, not a synchronisation by time
    raise AssertionError(f"{what}: not reached")


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_every_command_of_the_own_device_page_works(tmp_path: Path) -> None:
    sim_port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
    env |= {
        "KIT_DATA_DIR": str(tmp_path / "data"),
        "KIT_NATS__PORT": str(_free_port()),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
    }

    def run(cmd: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-c", cmd],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=DEADLINE_S,
        )

    files: list[str] = []
    background: list[subprocess.Popen] = []
    outputs: dict[str, str] = {}
    try:
        for lang, body in _blocks():
            lines = body.splitlines()
            if lang == "yaml" and lines and lines[0].startswith("# file: "):
                name = lines[0].removeprefix("# file: ").strip()
                (tmp_path / name).write_text(body)
                files.append(name)
                continue
            if lang != "sh":
                continue
            keeps_running = bool(lines) and "keeps running" in lines[0]
            for line in lines:
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                cmd = line.replace("5020", str(sim_port))
                assert shlex.split(cmd)[0] == "kit", f"not a kit command: {line}"
                if keeps_running:
                    proc = subprocess.Popen(
                        ["bash", "-c", f"exec {cmd}"],
                        cwd=tmp_path,
                        env=env,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT,
                        text=True,
                        start_new_session=True,
                    )
                    background.append(proc)
                    if cmd.startswith("kit up"):
                        _wait(lambda: run("kit status").returncode == 0, "kit up ready", proc)
                    elif cmd.startswith("kit sim"):
                        _wait(lambda: _port_open(sim_port), "kit sim listening", proc)
                    continue
                res = run(cmd)
                assert res.returncode == 0, (
                    f"`{line}` exited {res.returncode}:\n{res.stdout}\n{res.stderr}"
                )
                outputs[line] = res.stdout
                if cmd.startswith("kit probe"):
                    # The verdict table's word-order row, on the same device: the profile with
                    # the wrong word order is told to set the one the meter uses.
                    prof = (tmp_path / "acme-em340.yaml").read_text()
                    (tmp_path / "swapped.yaml").write_text(
                        prof.replace("byte_order: CDAB", "byte_order: ABCD")
                    )
                    wrong = run(cmd.replace("acme-em340.yaml", "swapped.yaml"))
                    assert "32/64-bit values are CDAB (low word first), not ABCD" in wrong.stdout
                    assert "Fix: set connection.byte_order: CDAB." in wrong.stdout
    finally:
        for proc in reversed(background):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()

    assert files == ["acme-em340.yaml"]
    assert len(background) == 2  # kit up, kit sim

    def out(prefix: str) -> str:
        (hit,) = [v for k, v in outputs.items() if k.startswith(prefix)]
        return hit

    assert "ok — acme-em340 (modbus, 13 points)" in out("kit profile validate")
    probe = out("kit probe")
    assert "13 points: 13 ok, 0 implausible, 0 out of range, 0 bad" in probe
    assert "verdict: the profile as written fits" in probe
    assert "added profile acme-em340 to the site library" in out("kit profile add")
    row = next(ln for ln in out("kit profiles").splitlines() if ln.startswith("acme-em340"))
    assert row.split()[1] == "site"
    assert "0x0034" in out("kit profile show") or "52" in out("kit profile show")
    assert "acme-em340" in out("kit recipe match energy-per-shift")
    install = out("kit install")
    assert "Commissioning (10 s of live data): PASS" in install
    assert "read: FC43/14: Carlo Gavazzi EM340" in install  # what the device answered
    assert "**Result: PASS**" in out("kit deployments show")
    assert "energy-per-shift-press_4_feed-energy-meter energy       running" in out("kit status")
    kpis = out("kit bus tail").splitlines()
    # What the page says: energy_kwh every minute, and at each window's end (a 15-minute
    # demand window closes four times an hour) the demand figures too — a run across such
    # an end once saw demand_kw and peak_demand_kw among the three.
    assert len(kpis) == 3, kpis
    assert all(k.startswith("site/utilities/main/press_4_feed ") for k in kpis), kpis
    names = {k.split()[1] for k in kpis}
    assert names <= {"energy_kwh", "demand_kw", "peak_demand_kw"}, kpis


def test_the_page_is_linked_and_names_every_probe_verdict() -> None:
    docs = DOC.parent
    assert "(own-device.md)" in (docs / "index.md").read_text()
    assert "(own-device.md)" in (docs / "profiles.md").read_text()
    text = DOC.read_text()
    # Every verdict kind and summary item probe can print has a row that explains it.
    for phrase in (
        "the profile as written fits",
        "too high",
        "Fix: set connection.byte_order",
        "no address shift or word order fits better",
        "no combination of address shift",
        "malformed frames",
        "exception 03",
        "holes (exception 02)",
        "DOES NOT MATCH",
    ):
        assert phrase in text, phrase


async def test_probe_names_the_word_order_of_small_int32_values(tmp_path: Path) -> None:
    # A swapped int32 of a small value reads as value × 65536: Σ phases ≈ total holds either
    # way, so only the ranges can tell. The profile as written (ABCD) has 11 of 13 values out
    # of range; probe must name CDAB, not say "the profile as written fits".
    from kit_modbus.probe import probe_device

    from kit.cli.sim_cmd import start_simulator
    from kit.plugins import get_plugin_manager
    from kit.profiles import load_profile

    (body,) = [b for lang, b in _blocks() if lang == "yaml" and b.startswith("# file: ")]
    right, wrong = tmp_path / "right.yaml", tmp_path / "wrong.yaml"
    right.write_text(body)
    wrong.write_text(body.replace("byte_order: CDAB", "byte_order: ABCD"))
    sim = await start_simulator(str(right))
    try:
        report = await probe_device(
            load_profile(wrong, get_plugin_manager()), "127.0.0.1", sim.port, 1
        )
        v = report["verdict"]
        assert v["kind"] == "fix" and v["byte_order"] == "CDAB" and v["shift"] == 0, v
        asis = report["summary"]
        assert asis["out_of_range"] > asis["ok"]  # what the profile as written gave
        # ... and the right profile is never told to change.
        ok = await probe_device(load_profile(right, get_plugin_manager()), "127.0.0.1", sim.port, 1)
        assert ok["verdict"]["kind"] == "fits"
    finally:
        await sim.stop()

"""``kit probe``: range checks, byte-order diagnosis and identification against the simulator."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from kit_modbus.plugin import find_profile
from kit_modbus.probe import probe_device, render

from kit.plugins import get_plugin_manager
from kit.profiles import load_profile

ROOT = Path(__file__).resolve().parents[3]
SDM630 = ROOT / "hardware_profiles" / "eastron-sdm630.yaml"


def _word_swapped_variant(tmp_path: Path):
    """The same meter, but a firmware that sends floats low word first (CDAB)."""
    text = (
        SDM630.read_text()
        .replace("byte_order: ABCD", "byte_order: CDAB")
        .replace("id: eastron-sdm630", "id: sdm630-cdab")
    )
    path = tmp_path / "sdm630-cdab.yaml"
    path.write_text(text)
    return load_profile(path, get_plugin_manager())


async def test_probe_finds_the_word_order(tmp_path, sim_factory):
    device = _word_swapped_variant(tmp_path)
    sim = await sim_factory(device)
    sim.freeze()
    report = await probe_device(find_profile("eastron-sdm630"), sim.host, sim.port, 1)
    floats = [r for r in report["points"] if r["type"] == "float32" and r["range"]]
    assert floats
    # Values the simulator serves stay in range in the true order …
    assert all("CDAB" in r["orders_in_range"] for r in floats)
    # … and the decoded value in the true order equals what the simulator serves.
    for r in floats:
        assert r["orders"]["CDAB"] == sim.expected(r["point"])
    assert report["summary"]["out_of_range"] > 0
    assert "byte_order: CDAB" in report["summary"]["byte_order_hint"]
    assert "hint:" in render(report)


async def test_probe_with_the_right_profile_is_clean(sim_factory):
    prof = find_profile("eastron-sdm630")
    sim = await sim_factory(prof)
    report = await probe_device(prof, sim.host, sim.port, 1)
    s = report["summary"]
    # Every point read and in range. (Points the relations call implausible are the
    # simulator's own inconsistencies — its physics is being made consistent separately.)
    assert s["points"] == len(prof.points) == s["ok"] + s["implausible"]
    assert s["byte_order_hint"] is None
    assert report["verdict"]["kind"] == "fits"
    assert report["identification"] is None  # the profile says the meter has no FC43/14


async def test_probe_cli_reads_identification_and_reports_illegal_points(sim_factory, test_profile):
    sim = await sim_factory(test_profile)
    sim.set_illegal("holding", [41])
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from kit.cli import main; main()",
        "probe",
        f"{sim.host}:{sim.port}",
        "--profile",
        str(Path(__file__).parent / "profiles" / "kit-test-device.yaml"),
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    report = json.loads(out)
    assert report["identification"]["objects"]["product_code"] == "KTD-1"
    assert report["identification"]["matches_profile"] is True
    bad = {r["point"]: r["reason"] for r in report["points"] if r["status"] == "bad"}
    assert bad == {"machine_running": "modbus_exception_2"}


async def test_probe_cli_unreachable_device_exits_with_device_error(sim_factory, test_profile):
    sim = await sim_factory(test_profile)
    port = sim.port
    await sim.stop()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from kit.cli import main; main()",
        "probe",
        f"127.0.0.1:{port}",
        "--profile",
        "eastron-sdm630",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await proc.communicate()
    assert proc.returncode == 6
    assert "cannot connect" in err.decode()

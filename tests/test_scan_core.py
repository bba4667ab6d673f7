"""``kit scan`` core, without a network: targets, ports, unit ids, pacing schedule, inventory."""

from __future__ import annotations

import pytest

from kit.errors import ConfigError
from kit.scan.inventory import Device, Endpoint, Inventory, load_inventory, save_inventory
from kit.scan.pace import Pacer
from kit.scan.targets import MAX_HOSTS, parse_int_list, parse_ports, parse_targets


def test_targets_networks_ranges_and_lists():
    assert parse_targets(["10.0.0.0/30"]) == ["10.0.0.1", "10.0.0.2"]
    assert parse_targets(["10.0.0.5-7, 10.0.0.6", "10.0.0.9"]) == [
        "10.0.0.5",
        "10.0.0.6",
        "10.0.0.7",
        "10.0.0.9",
    ]
    assert parse_targets(["10.0.0.254-10.0.1.1"]) == [
        "10.0.0.254",
        "10.0.0.255",
        "10.0.1.0",
        "10.0.1.1",
    ]
    assert (
        parse_targets(["127.0.0.0/28"])[0] == "127.0.0.1"
        and len(parse_targets(["127.0.0.0/28"])) == 14
    )
    # An IPv6 range stays IPv6 (small integers would otherwise read as IPv4 addresses).
    assert parse_targets(["::1-::3"]) == ["::1", "::2", "::3"]


def test_endpoints_of_both_ip_versions_sort():
    from kit.scan.inventory import Endpoint
    from kit.scan.sweep import _sort_key

    eps = [Endpoint.model_construct(host=h, port=p) for h, p in (("::1", 502), ("127.0.0.2", 502))]
    assert [e.host for e in sorted(eps, key=_sort_key)] == ["127.0.0.2", "::1"]


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("10.0.0.0/8", f"at most {MAX_HOSTS}"),
        ("plc.local", "names are not resolved"),
        ("10.0.0.9-3", "below its start"),
        ("10.0.0.1-x", "neither an address"),
        ("10.0.0.5-::1", "mixes an IPv4 start with an IPv6 end"),
    ],
)
def test_bad_targets_are_clear_errors(spec, words):
    with pytest.raises(ConfigError) as err:
        parse_targets([spec])
    assert words in str(err.value) and repr(spec) in str(err.value)


def test_ports_need_a_protocol_unless_they_are_a_default():
    known = {502: "modbus", 4840: "opcua"}
    assert parse_ports("502,4840,5020/modbus", known, ["modbus", "opcua"]) == {
        502: "modbus",
        4840: "opcua",
        5020: "modbus",
    }
    with pytest.raises(ConfigError, match="5020/modbus"):
        parse_ports("5020", known, ["modbus", "opcua"])
    with pytest.raises(ConfigError, match="no installed adapter scans 'bacnet'"):
        parse_ports("47808/bacnet", known, ["modbus", "opcua"])


def test_unit_lists():
    assert parse_int_list("1-3,247,2", 0, 255, "unit id") == [1, 2, 3, 247]
    with pytest.raises(ConfigError, match="within 0–255"):
        parse_int_list("1-300", 0, 255, "unit id")


async def test_pacer_schedule_is_strict_across_and_per_host(monkeypatch):
    """The send times handed out never come closer than 1/rate (all hosts) or 1/host_rate
    (one host) — checked on the schedule itself, with a clock that does not move."""
    import kit.scan.pace as pace

    clock = [100.0]
    slept: list[float] = []
    monkeypatch.setattr(pace.time, "monotonic", lambda: clock[0])

    async def fake_sleep(s):
        slept.append(clock[0] + s)

    monkeypatch.setattr(pace.asyncio, "sleep", fake_sleep)
    p = Pacer(rate=10, host_rate=2)
    for host in ["a", "b", "a", "c", "a"]:
        await p.acquire(host)
    times = [100.0, *slept]  # the first send is immediate
    assert all(b - a >= 0.1 - 1e-9 for a, b in zip(times, times[1:], strict=False))
    a_times = [times[0], times[2], times[4]]
    assert all(b - a >= 0.5 - 1e-9 for a, b in zip(a_times, a_times[1:], strict=False))
    assert p.total() == 5 and p.sent["a"] == 3


def test_inventory_round_trip_and_bad_file(tmp_path):
    inv = Inventory(
        complete=False,
        endpoints=[
            Endpoint(
                host="10.0.0.5",
                port=502,
                protocol="modbus",
                status="scanned",
                devices=[Device(unit_id=1, status="identified", profile="x", confidence=0.9)],
            )
        ],
    )
    path = tmp_path / "inventory.json"
    save_inventory(inv, path)
    back = load_inventory(path)
    assert back == inv and back.devices()[0][1].profile == "x"
    path.write_text('{"version": 7}')
    with pytest.raises(ConfigError, match="version"):
        load_inventory(path)
    with pytest.raises(ConfigError, match="run `kit scan"):
        load_inventory(tmp_path / "missing.json")


def test_pacer_rejects_a_zero_rate():
    with pytest.raises(ValueError):
        Pacer(0, 1)


def _inv_two() -> Inventory:
    return Inventory(
        endpoints=[
            Endpoint(
                host="10.0.0.5",
                port=5020,
                protocol="modbus",
                status="scanned",
                devices=[
                    Device(unit_id=3, status="identified", profile="eastron-sdm630", confidence=1),
                    Device(unit_id=4, status="unknown"),
                ],
            )
        ]
    )


def test_install_params_from_an_inventory_device():
    from pathlib import Path

    from kit.recipes.loader import load_recipe
    from kit.scan.inventory import install_params

    root = Path(__file__).resolve().parents[1]
    defs = load_recipe(root / "recipes" / "energy-per-shift.yaml").recipe.model_dump(mode="json")[
        "parameters"
    ]
    assert install_params(_inv_two(), 1, defs) == {
        "meter_host": "10.0.0.5",
        "meter_port": 5020,
        "meter_profile": "eastron-sdm630",
        "unit_id": 3,
    }
    with pytest.raises(ConfigError, match="was not identified"):
        install_params(_inv_two(), 2, defs)
    with pytest.raises(ConfigError, match="has 2 device"):
        install_params(_inv_two(), 3, defs)


def test_kit_install_device_reads_the_inventory(tmp_path):
    """``kit install FILE --device N`` fails on a missing device before any runtime call."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from kit.scan.inventory import inventory_path

    env = dict(os.environ, KIT_DATA_DIR=str(tmp_path))
    env.pop("KIT_CONFIG", None)
    recipe = Path(__file__).resolve().parents[1] / "recipes" / "energy-per-shift.yaml"

    def kit_install(n: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "kit", "install", str(recipe), "--device", n, "--yes"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )

    res = kit_install("1")
    assert res.returncode != 0 and "no inventory yet" in res.stderr
    save_inventory(_inv_two(), inventory_path(tmp_path))
    res = kit_install("2")
    assert res.returncode != 0 and "--set meter_profile=PROFILE" in res.stderr


async def test_scanners_load_their_libraries_before_the_sweep_in_a_thread():
    """``scan_prepare`` of every scanned protocol runs before the first endpoint is scanned,
    off the event loop: a library imported inside the sweep (asyncua: seconds) blocked the
    loop, and Modbus connects about to start timed out ("cannot connect")."""
    import asyncio
    import threading

    from kit.scan.sweep import ScanOptions, run_scan

    events: list[tuple[str, str, bool]] = []
    loop_thread = threading.get_ident()

    class Scanner:
        @classmethod
        def scan_prepare(cls):
            events.append(("prepare", cls.__name__, threading.get_ident() != loop_thread))

        @classmethod
        async def scan_endpoint(cls, host, port, **kw):
            events.append(("scan", cls.__name__, True))
            return {"status": "scanned", "devices": []}

    class Used(Scanner):
        pass

    class Unused(Scanner):
        pass

    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        inv = await run_scan(
            ScanOptions(targets=["127.0.0.1"], ports={port: "used"}, timeout_s=1),
            {"used": Used, "unused": Unused},
            {},
            Inventory(),
        )
    finally:
        server.close()
    assert inv.complete and [e.host for e in inv.endpoints] == ["127.0.0.1"]
    # Prepared once, in a worker thread, before the scan; a protocol not scanned is not.
    assert events == [("prepare", "Used", True), ("scan", "Used", True)]

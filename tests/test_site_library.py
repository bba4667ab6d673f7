"""The site library: a technician's own profile and recipe, added with `kit profile add` /
`kit recipe add`, used by every command, by a running runtime without restart, by the TUI
wizard's profile list and carried by bundles to another site.

Real parts only: `kit up` and `kit sim` as subprocesses with an embedded nats-server, the
Modbus simulator on loopback, a second site with its own nats-server.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
from pathlib import Path

import pytest
import pytest_asyncio

from kit.control import ControlClient
from kit.library import Library
from kit.natsserver import EmbeddedNats
from kit.plugins import get_plugin_manager
from kit.recipes import bundle as bundles
from kit.settings import NatsSettings
from tests.test_cli_runtime import KIT, env_for, free_port, wait_line

SHIPPED = Path(__file__).resolve().parents[1] / "hardware_profiles" / "eastron-sdm630.yaml"
SITE_ID = "acme-em-3000"


def site_profile(tmp_path: Path, profile_id: str = SITE_ID) -> Path:
    """A technician's own meter profile: the SDM630 register map under a new id and name."""
    text = SHIPPED.read_text()
    text = re.sub(r"(?m)^id: .*$", f"id: {profile_id}", text, count=1)
    text = re.sub(r"(?m)^vendor: .*$", "vendor: ACME", text, count=1)
    text = re.sub(r"(?m)^model: .*$", "model: EM 3000 (site profile)", text, count=1)
    p = tmp_path / f"{profile_id}-from-manual.yaml"
    p.write_text(text)
    return p


def kit_cmd(args: list[str], env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(KIT + args, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def site(tmp_path):
    data = tmp_path / "data"
    cfg = tmp_path / "kit.yaml"
    cfg.write_text(f"site: plant\ndata_dir: {data}\nnats:\n  port: {free_port()}\n")
    env = env_for(tmp_path / "unused")
    env.pop("KIT_DATA_DIR")
    return data, cfg, env


def test_profile_add_validates_every_problem_and_copies_nothing_on_error(site, tmp_path):
    data, cfg, env = site
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: acme-bad\nvendor: ACME\nprotocol: modbus\nsource: {title: manual}\n"
        "connection: {transport: tcp, byte_order: XYZW}\npoints: []\n"
    )
    r = kit_cmd(["profile", "add", str(bad), "--config", str(cfg)], env)
    assert r.returncode == 2, r.stderr
    assert f"{bad}:1: model: Field required" in r.stderr
    assert f"{bad}:5: connection.byte_order:" in r.stderr
    assert not (data / "profiles").exists() or not list((data / "profiles").iterdir())

    good = site_profile(tmp_path)
    r = kit_cmd(["profile", "add", str(good), "--config", str(cfg)], env)
    assert r.returncode == 0, r.stderr
    dest = data / "profiles" / f"{SITE_ID}.yaml"
    assert dest.read_bytes() == good.read_bytes()
    again = kit_cmd(["profile", "add", str(good), "--config", str(cfg)], env)
    assert again.returncode == 2 and "--replace" in again.stderr
    assert (
        kit_cmd(["profile", "add", str(good), "--replace", "--config", str(cfg)], env).returncode
        == 0
    )

    # A site file that uses a shipped id shadows it, and `kit profiles` says so.
    shadow = site_profile(tmp_path, "eastron-sdm630")
    r = kit_cmd(["profile", "add", str(shadow), "--config", str(cfg)], env)
    assert r.returncode == 0 and "shadows the shipped profile 'eastron-sdm630'" in r.stderr
    listing = kit_cmd(["profiles", "--json", "--config", str(cfg)], env)
    rows = {p["id"]: p for p in json.loads(listing.stdout)["profiles"]}
    assert rows[SITE_ID]["origin"] == "site" and rows[SITE_ID]["vendor"] == "ACME"
    assert rows["eastron-sdm630"]["origin"] == "site"
    assert rows["eastron-sdm630"]["shadows"] == [str(SHIPPED)]
    assert rows["eastron-sdm120"]["origin"] == "shipped"
    text = kit_cmd(["profiles", "--config", str(cfg)], env).stdout
    assert f"site file {data / 'profiles' / 'eastron-sdm630.yaml'} shadows {SHIPPED}" in text
    show = kit_cmd(["profile", "show", SITE_ID, "--config", str(cfg)], env)
    assert show.returncode == 0 and "ACME EM 3000" in show.stdout and "(site)" in show.stdout


def test_recipe_add_checks_against_the_site_library(site, tmp_path):
    data, cfg, env = site
    recipe = tmp_path / "my-energy.yaml"
    text = (Path(__file__).resolve().parents[1] / "recipes" / "energy-per-shift.yaml").read_text()
    text = text.replace("id: energy-per-shift", "id: acme-energy", 1)
    text = text.replace('profile: "${meter_profile}"', f"profile: {SITE_ID}", 1)
    recipe.write_text(text)
    r = kit_cmd(["recipe", "add", str(recipe), "--config", str(cfg)], env)
    assert r.returncode == 2, r.stderr  # the site profile is not there yet
    assert f"unknown profile '{SITE_ID}'" in r.stderr and "nothing copied" in r.stderr
    assert not (data / "recipes").exists()
    assert (
        kit_cmd(
            ["profile", "add", str(site_profile(tmp_path)), "--config", str(cfg)], env
        ).returncode
        == 0
    )
    r = kit_cmd(["recipe", "add", str(recipe), "--config", str(cfg)], env)
    assert r.returncode == 0, r.stderr
    assert (data / "recipes" / "acme-energy.yaml").read_text() == text


def test_profile_added_while_the_runtime_runs_is_used_by_install_and_sim(site, tmp_path):
    """`kit profile add` after `kit up`: `kit sim` serves it, `kit install` uses it, no restart."""
    data, cfg, env = site
    up = subprocess.Popen(
        KIT + ["up", "--config", str(cfg)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sim = None
    try:
        wait_line(up, "kit runtime up")
        add = kit_cmd(["profile", "add", str(site_profile(tmp_path)), "--config", str(cfg)], env)
        assert add.returncode == 0, add.stderr
        sim = subprocess.Popen(
            KIT + ["sim", SITE_ID, "--config", str(cfg)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        line = wait_line(sim, f"simulating {SITE_ID} at ")
        port = int(re.search(r":(\d+)\b", line.split(" at ", 1)[1]).group(1))
        probe = kit_cmd(
            ["probe", f"127.0.0.1:{port}", "--profile", SITE_ID, "--json", "--config", str(cfg)],
            env,
        )
        assert probe.returncode == 0, probe.stderr
        assert SITE_ID in probe.stdout  # the report names the site profile it read with
        inst = kit_cmd(
            [
                "install",
                "energy-per-shift",
                "--config",
                str(cfg),
                "--yes",
                "--set",
                "meter=feed 1",
                "--set",
                f"meter_profile={SITE_ID}",
                "--set",
                "meter_host=127.0.0.1",
                "--set",
                f"meter_port={port}",
                "--check-duration",
                "3",
            ],
            env,
        )
        assert inst.returncode == 0, inst.stdout + inst.stderr
        assert "installed energy-per-shift" in inst.stdout
        st = json.loads(kit_cmd(["status", "--json", "--config", str(cfg)], env).stdout)
        comps = {c["name"]: c for c in st["components"]}
        meter = next(c for c in comps.values() if c["type"] == "modbus")
        assert meter["status"] == "running"
        name = re.search(r"installed (\S+):", inst.stdout).group(1)
        shown = kit_cmd(
            ["deployments", "show", name, "--format", "json", "--config", str(cfg)], env
        )
        dep = json.loads(shown.stdout)
        assert dep["assets"]["meter"]["profile"] == SITE_ID
        tail = kit_cmd(
            ["bus", "tail", "kit.data.plant.>", "--count", "1", "--json", "--config", str(cfg)], env
        )
        batch = json.loads(tail.stdout.splitlines()[0])
        names = {p["name"]: p for p in batch["data"]["points"]}
        power = names["power_active_total_w"]
        assert power.get("quality", "good") == "good"  # good is the default, left out
        assert isinstance(power["value"], (int, float))

        # A site recipe added now is offered by the same running runtime.
        recipe = tmp_path / "acme-energy.yaml"
        recipe.write_text(
            (Path(__file__).resolve().parents[1] / "recipes" / "energy-per-shift.yaml")
            .read_text()
            .replace("id: energy-per-shift", "id: acme-energy", 1)
        )
        assert kit_cmd(["recipe", "add", str(recipe), "--config", str(cfg)], env).returncode == 0
        listed = json.loads(kit_cmd(["recipes", "--json", "--config", str(cfg)], env).stdout)
        mine = next(r for r in listed["recipes"] if r["id"] == "acme-energy")
        assert mine["file"] == str(data / "recipes" / "acme-energy.yaml")
    finally:
        if sim is not None:
            sim.send_signal(signal.SIGINT)
            sim.wait(timeout=30)
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=30) == 0


def test_library_reloads_when_the_site_directory_changes(tmp_path):
    lib = Library(get_plugin_manager(), tmp_path / "data")
    first = lib.profiles()
    assert SITE_ID not in first.profiles and lib.profiles() is first  # cached while unchanged
    (tmp_path / "data" / "profiles").mkdir(parents=True)
    site_profile(tmp_path).rename(tmp_path / "data" / "profiles" / f"{SITE_ID}.yaml")
    assert lib.profile(SITE_ID).vendor == "ACME"
    assert lib.profiles().origins[SITE_ID] == "site"


@pytest_asyncio.fixture
async def other_site(tmp_path: Path, kit_settings):
    server = EmbeddedNats(NatsSettings(port=0), tmp_path / "other-nats", server_name="kit-other")
    await server.start()
    try:
        yield kit_settings.model_copy(
            update={"data_dir": tmp_path / "other-data", "nats_url": server.url}
        )
    finally:
        await server.stop()


async def test_bundle_carries_site_profiles_to_another_site(
    kit_settings, other_site, make_runtime, tmp_path
):
    from kit.cli.sim_cmd import start_simulator

    a = await make_runtime(kit_settings)
    (kit_settings.data_dir / "profiles").mkdir(parents=True)
    site_profile(tmp_path).rename(kit_settings.data_dir / "profiles" / f"{SITE_ID}.yaml")
    sim = await start_simulator(SITE_ID, "127.0.0.1", 0, library=a.library)
    try:
        client = ControlClient(a.bus, timeout=60)
        shown = await client.call("recipes.show", {"id": "energy-per-shift"})
        choice = next(p for p in shown["parameters"] if p["name"] == "meter_profile")["choices"]
        assert {
            "value": SITE_ID,
            "label": f"{SITE_ID} — ACME EM 3000 (site profile) (site)",
        } in choice
        assert "eastron-sdm630" in {c["value"] for c in choice}  # shipped ones too
        assert "banner-qm30vt2" not in {c["value"] for c in choice}  # not a meter
        params = {
            "meter": "feed 1",
            "meter_profile": SITE_ID,
            "meter_host": "127.0.0.1",
            "meter_port": sim.port,
        }
        res = await a.recipe_engine.install(
            "energy-per-shift", params, wait_report=True, check_duration_s=1
        )
        exported = await client.call("bundles.export", {"deployments": [res["deployment"]]})
        body = json.loads(
            __import__("zipfile")
            .ZipFile(__import__("io").BytesIO(bundles.decode(exported["bundle"])))
            .read("bundle.json")
        )
        assert {"id": SITE_ID, "file": f"profiles/{SITE_ID}.yaml", "origin": "site"} in body[
            "profiles"
        ]

        b = await make_runtime(other_site)
        target = other_site.data_dir / "profiles" / f"{SITE_ID}.yaml"
        assert not target.exists()
        other = ControlClient(b.bus, timeout=60)
        info = await other.call("bundles.inspect", {"bundle": exported["bundle"]})
        assert info["missing"] == []
        row = next(p for p in info["profiles"] if p["id"] == SITE_ID)
        assert row["state"] == "added to the site library on install"
        out = await other.call(
            "bundles.install",
            {
                "bundle": exported["bundle"],
                # Host, port and the asset's name are this site's own (blanked on export).
                "values": {
                    res["deployment"]: {
                        "meter_host": "127.0.0.1",
                        "meter_port": sim.port,
                        "meter": "feed 1",
                    }
                },
                "check_duration_s": 1,
                "wait_report": True,
            },
        )
        assert out["profiles_added"] == [SITE_ID]
        assert (
            target.read_bytes()
            == (kit_settings.data_dir / "profiles" / f"{SITE_ID}.yaml").read_bytes()
        )
        assert out["installed"][0]["report"]["result"] == "pass"
        assert b.library.profiles().origins[SITE_ID] == "site"
    finally:
        await sim.stop()

"""Bundle rollout from a hub: a signed bundle offered to 3 sites over their leaf links,
then the hub's fleet view of the same sites.

Real processes on loopback: a 1-node hub, three site ``Runtime``s joined to it (embedded
servers as leaf nodes) with the probe test plugin (``conftest.py``: a TCP "device"). Each
site verifies the signature against its own trust store, installs with the values from
its values file and reports back through its event stream, which the hub sources.
Lives next to the bundle tests for the probe plugin's fixtures.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import nats

from kit import codec
from kit.hub.config import HubState, add_site, site_credentials, write_credentials
from kit.hub.rollout import counts, reoffer_pending, rollout_status, start_rollout
from kit.hub.server import LocalHub
from kit.hub.sources import ensure_streams, restart_site_sources
from kit.hub.status import REPLY_PREFIX
from kit.hub.view import fleet_view, render_view
from kit.payloads import KpiValue, utcnow
from kit.recipes import bundle as bundles
from kit.recipes.loader import load_recipe
from kit.runtime import Runtime
from kit.settings import HubLinkSettings, NatsSettings, Settings, SupervisorSettings
from kit.testing import wait_for
from kit.trust.signing import load_private_key, new_keypair
from kit.trust.truststore import trust_key

SITES = ("plant-a", "plant-b", "plant-c")


def _settings(tmp: Path, site: str, creds: Path, leaf_url: str) -> Settings:
    return Settings(
        site=site,
        data_dir=tmp / site,
        nats=NatsSettings(port=0),
        hub=HubLinkSettings(credentials=creds, url=leaf_url),
        supervisor=SupervisorSettings(backoff_initial_s=0.05, backoff_max_s=0.5, heartbeat_s=0.5),
        history=False,
    )


async def test_signed_bundle_rolls_out_to_three_sites_one_rolls_back(
    tmp_path: Path, probe_host, device, closed_port, recipe_file
):
    state = HubState.create(1, client_port=0, leaf_port=0)
    for s in SITES:
        add_site(state, s)
    hub = LocalHub(tmp_path / "hub", state)
    await hub.start()
    sites: dict[str, Runtime] = {}
    hnc = None
    try:
        priv, pub = new_keypair(tmp_path / "keys", "lighthouse")
        settings = {}
        for s in SITES:
            creds = write_credentials(
                tmp_path / f"{s}.json", site_credentials(state, s, hub.leaf_urls)
            )
            (tmp_path / s).mkdir()
            trust_key(tmp_path / s, pub, "vendor")  # each site trusts the lighthouse's key
            settings[s] = _settings(tmp_path, s, creds, hub.leaf_urls[0])
        for s in ("plant-a", "plant-b"):  # plant-c joins later
            sites[s] = Runtime(settings[s], host=probe_host)
            await sites[s].start()
        hnc = await nats.connect(
            hub.client_urls, inbox_prefix=REPLY_PREFIX, **hub.connect_options()
        )
        await ensure_streams(hnc.jetstream(), state)

        # The lighthouse's two deployments, exported and signed (plant-a stands in for it and
        # removes them again, so all three sites start empty).
        a = sites["plant-a"]
        lr = load_recipe(recipe_file)
        good = {"meter_host": "127.0.0.1", "meter_port": device}
        for name in ("m1", "m2"):
            await a.recipe_engine.install(lr, {**good, "meter": name}, f"d-{name}")
        data = await bundles.export_bundle(a.recipe_engine, ["d-m1", "d-m2"])
        for name in ("m1", "m2"):
            await a.recipe_engine.uninstall(f"d-{name}")
        signed = bundles.sign_bundle(data, load_private_key(priv), "lighthouse")

        values = tmp_path / "values"
        values.mkdir()
        for s in SITES:
            # plant-c's second meter has a wrong port: nothing answers there.
            port2 = closed_port if s == "plant-c" else device
            doc = {"d-m1": {**good, "meter": "m1"}, "d-m2": {**good, "meter_port": port2}}
            (values / f"{s}.yaml").write_text(json.dumps(doc))  # JSON is YAML

        # plant-c is offline when a first rollout goes out: "not reachable", and offered
        # again when its link comes up (what `kit hub up`'s watcher does then).
        early, first = await start_rollout(hnc, signed, ["plant-c"], values)
        assert [(x.site, x.state) for x in first] == [("plant-c", "not reachable")]
        sites["plant-c"] = Runtime(settings["plant-c"], host=probe_host)
        await sites["plant-c"].start()

        async def reachable_all() -> bool:
            for s in SITES:
                try:
                    await hnc.request(f"$JS.{s}.API.INFO", b"", timeout=1)
                except Exception:
                    return False
            return True

        await wait_for(reachable_all, timeout=60, message="all three leaf links")

        # An unsigned bundle is refused by a site's default policy, before anything runs.
        _, unsigned = await start_rollout(hnc, data, ["plant-a"], values)
        assert unsigned[0].state == "refused" and "unsigned" in unsigned[0].reason

        async def settled(rid):
            st = await rollout_status(hnc, rid)
            return (
                st
                if all(r.state not in ("offered", "not reachable") for r in st["sites"])
                else None
            )

        # What `kit hub up`'s watcher does when a site's link comes up: its sources (they
        # were backing off while it was away), then the rollouts it missed.
        await restart_site_sources(hnc.jetstream(), state, "plant-c")
        assert await reoffer_pending(hnc, "plant-c") == [early]
        st0 = await wait_for(lambda: settled(early), timeout=90, message="plant-c's late result")
        assert [(r.site, r.state) for r in st0["sites"]] == [("plant-c", "rolled_back")]
        assert await reoffer_pending(hnc, "plant-c") == []  # offered once, not again

        rid, answers = await start_rollout(hnc, signed, list(SITES), values, "cell.kitbundle")
        assert [(x.site, x.state) for x in answers] == [(s, "offered") for s in SITES]

        st = await wait_for(lambda: settled(rid), timeout=90, message="every site's result")
        rows = {r.site: r for r in st["sites"]}
        assert counts(st["sites"]) == {"installed": 2, "rolled_back": 1}
        assert rows["plant-a"].state == rows["plant-b"].state == "installed"
        c = rows["plant-c"]
        assert c.state == "rolled_back"
        assert "d-m2" in c.reason and "connection test failed" in c.reason
        assert "rolled back: d-m1" in c.reason
        # What the sites run now: a and b both deployments, c nothing (the first undone).
        for s in ("plant-a", "plant-b"):
            recs = await sites[s].recipe_engine.store.all()
            assert sorted(r["id"] for r in recs) == ["d-m1", "d-m2"]
        assert await sites["plant-c"].recipe_engine.store.all() == []
        assert sites["plant-c"].supervisor.instances == {}

        # The fleet view at the hub: each site's kit and plugin versions, deployments and
        # health (from the inventory the sites publish), and KPIs per shift side by side.
        shift = "shift:2026-12-07/early"
        expected = {}
        for i, s in enumerate(SITES):
            for kpi, value in (("oee", 0.61 + i / 10), ("energy_per_part_kwh", 1.5 + i)):
                asset = f"{s}/hall/line1/m1"
                v = KpiValue(
                    asset=asset, kpi=kpi, value=value, ts=utcnow(), window=shift, source="t"
                )
                await sites[s].bus.publish(f"kit.kpi.{s}.hall.line1.m1.{kpi}", codec.encode(v))
                expected[(s, kpi)] = value
            await sites[s].bus.acks.wait_idle()

        async def view_complete():
            v = await fleet_view(hnc)
            cards = {c["site"]: c for c in v["sites"]}
            done = len(v["shifts"]) == 3 and {d["id"] for d in cards["plant-b"]["deployments"]} == {
                "d-m1",
                "d-m2",
            }
            return v if done else None

        view = await wait_for(view_complete, timeout=60, message="fleet view at the hub")
        cards = {c["site"]: c for c in view["sites"]}
        assert sorted(cards) == list(SITES)
        from kit import __version__

        for s in SITES:
            assert cards[s]["kit_version"] == __version__ and cards[s]["seen"]
            assert {
                "distribution": "kit-synthetic",
                "version": metadata.version("kit-synthetic"),
            } in cards[s]["plugins"]
        assert cards["plant-a"]["health"] == "ok"
        assert cards["plant-c"]["deployments"] == []
        got = {(r["site"], k): v for r in view["shifts"] for k, v in r["values"].items()}
        assert got == expected
        assert {r["shift"] for r in view["shifts"]} == {"2026-12-07/early"}
        text = render_view(view)
        assert "plant-b" in text and "d-m1 1.0.0" in text and "0.710" in text
    finally:
        if hnc is not None:
            await hnc.close()
        for rt in sites.values():
            await rt.stop()
        await hub.stop()

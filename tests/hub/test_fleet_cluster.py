"""The hub over TLS, and a 3-node hub that loses a node while a site keeps sending."""

from __future__ import annotations

import socket
from pathlib import Path

import nats
import pytest

from kit.hub.config import HubState, HubTLS, add_site, site_credentials, write_credentials
from kit.hub.leaf import apply_link
from kit.hub.server import LocalHub
from kit.hub.sources import ensure_streams
from kit.hub.status import REPLY_PREFIX, fleet_status
from kit.natsserver import EmbeddedNats
from kit.settings import HubLinkSettings, NatsSettings
from kit.testing import wait_for
from kit.testing_pki import loopback_pki


async def _site(tmp: Path, state: HubState, site: str, link: HubLinkSettings) -> EmbeddedNats:
    srv = EmbeddedNats(NatsSettings(port=0), tmp / site)
    apply_link(srv, site, link)
    await srv.start()
    return srv


async def _send(url: str, site: str, start: int, n: int) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    await js.add_stream(name="KIT_KPI", subjects=["kit.kpi.>"])
    for i in range(start, start + n):
        await js.publish(f"kit.kpi.{site}.a.l.m.oee", str(i).encode())
    await nc.close()


def _complete(n: int):
    async def check(hnc) -> bool:
        sts = [s for s in await fleet_status(hnc) if s.stream == "KIT_KPI"]
        return bool(sts) and all(
            s.site_reachable and s.site_last_seq == n and s.completeness_pct == 100.0 for s in sts
        )

    return check


async def test_leaf_link_over_tls(tmp_path: Path):
    pki = loopback_pki(tmp_path, "fleet-test")
    state = HubState.create(
        1, client_port=0, leaf_port=0, tls=HubTLS(cert=pki["cert"], key=pki["key"], ca=pki["ca"])
    )
    add_site(state, "plant-t")
    hub = LocalHub(tmp_path / "hub", state)
    await hub.start()
    site = None
    try:
        # The hub requires TLS: a plain client is turned away.
        with pytest.raises(Exception):
            await nats.connect(
                f"nats://127.0.0.1:{hub.nodes[0].client_port}",
                allow_reconnect=False,
                connect_timeout=2,
            )
        assert hub.leaf_urls[0].startswith("tls://")
        creds = write_credentials(
            tmp_path / "t.json", site_credentials(state, "plant-t", hub.leaf_urls)
        )
        site = await _site(
            tmp_path, state, "plant-t", HubLinkSettings(credentials=creds, tls_ca=pki["ca"])
        )
        await _send(site.url, "plant-t", 0, 25)
        hnc = await nats.connect(
            hub.client_urls, inbox_prefix=REPLY_PREFIX, **hub.connect_options()
        )
        try:
            await ensure_streams(hnc.jetstream(), state)
            check = _complete(25)
            await wait_for(lambda: check(hnc), timeout=60, message="KPIs over the TLS leaf link")
            # What the hub can send the site: reading stream info works, changing or reading
            # out the site's streams does not reach the site.
            api = "$JS.plant-t.API"
            info = await hnc.request(f"{api}.STREAM.INFO.KIT_KPI", b"", timeout=5)
            assert b'"last_seq":25' in info.data
            for call in ("STREAM.PURGE.KIT_KPI", "STREAM.DELETE.KIT_KPI", "STREAM.MSG.GET.KIT_KPI"):
                with pytest.raises(nats.errors.Error):
                    await hnc.request(f"{api}.{call}", b'{"seq": 1}', timeout=1)
            local = await nats.connect(site.url)
            try:
                state_now = (await local.jetstream().stream_info("KIT_KPI")).state
                assert (state_now.messages, state_now.first_seq) == (25, 1)
            finally:
                await local.close()
        finally:
            await hnc.close()
    finally:
        if site:
            await site.stop()
        await hub.stop()


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


async def test_three_node_hub_keeps_sourcing_when_a_node_dies(tmp_path: Path):
    p = _free_ports(9)
    state = HubState(nodes=3, client_ports=p[0:3], cluster_ports=p[3:6], leaf_ports=p[6:9])
    add_site(state, "plant-c")
    hub = LocalHub(tmp_path / "hub", state)
    await hub.start()
    site = None
    try:
        creds = write_credentials(
            tmp_path / "c.json", site_credentials(state, "plant-c", hub.leaf_urls)
        )
        site = await _site(tmp_path, state, "plant-c", HubLinkSettings(credentials=creds))
        await _send(site.url, "plant-c", 0, 30)
        hnc = await nats.connect(
            hub.client_urls, inbox_prefix=REPLY_PREFIX, **hub.connect_options()
        )
        try:
            await ensure_streams(hnc.jetstream(), state)
            info = await hnc.jetstream().stream_info("FLEET_KPI")
            assert info.config.num_replicas == 3
            check30 = _complete(30)
            await wait_for(lambda: check30(hnc), timeout=60, message="first 30 at the 3-node hub")
            # One hub node dies (the first: clients and possibly the site's link were on it).
            await hub.nodes[0].stop()
            await _send(site.url, "plant-c", 30, 40)
            check70 = _complete(70)
            await wait_for(lambda: check70(hnc), timeout=90, message="70 after losing a node")
            st = next(s for s in await fleet_status(hnc) if s.stream == "KIT_KPI")
            assert st.duplicates == 0 and st.gaps == [] and st.present == 70
        finally:
            await hnc.close()
    finally:
        if site:
            await site.stop()
        await hub.stop()

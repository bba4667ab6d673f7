"""Interop: the adapter against a server we did not write (node-opcua)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kit_opcua.adapter import OpcuaAdapter
from kit_opcua.config import OpcuaConfig
from kit_opcua.connection import CertificateRefused
from kit_opcua.pki import Pki

from kit.settings import ComponentSpec
from kit.testing import wait_for


async def test_values_quality_timestamps_from_node_opcua(
    node_opcua, interop_profile, bus, make_runtime, kit_settings, collector, asset
):
    cfg = {
        "profile": "node-opcua-interop",
        "profile_file": str(interop_profile),
        "endpoint": node_opcua,
        "data_dir": str(kit_settings.data_dir),
        "security_policy": "Basic256Sha256",
        "security_mode": "SignAndEncrypt",
        "reconnect_initial_s": 0.2,
        "reconnect_max_s": 0.5,
    }
    # First contact: the node-opcua certificate is unknown → refused and stored under rejected/.
    with pytest.raises(CertificateRefused):
        await OpcuaAdapter.test_connection(OpcuaConfig(**cfg))
    pki = Pki(kit_settings.data_dir)
    (rejected,) = [c for c in pki.list() if c.state == "rejected"]
    pki.trust(rejected.thumbprint)

    rt = await make_runtime(kit_settings)
    await rt.add_component(ComponentSpec(name="node1", type="opcua", asset=asset, config=cfg))
    comp = await wait_for(
        lambda: rt.supervisor.instances["node1"].component, 10, message="component"
    )
    await wait_for(lambda: comp.state == "connected", 20, message="connected")
    assert "node-opcua" in comp.metrics()["server"]

    await wait_for(
        lambda: all(
            collector.points(n)
            for n in (
                "x_constant_value",
                "x_device_name",
                "machine_running",
                "x_stamped_value",
                "x_broken_value",
            )
        ),
        15,
        message="all points",
    )
    assert collector.good("x_constant_value")[0].value == 42.5
    assert collector.good("x_constant_value")[0].unit == "W"
    assert collector.good("x_device_name")[0].value == "node-opcua"
    assert collector.good("machine_running")[0].value is True  # found by browse path
    stamped = collector.good("x_stamped_value")[0]
    assert stamped.value == 7.25
    assert stamped.ts == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)  # the server's SourceTimestamp
    broken = [p for p, _ in collector.points("x_broken_value")]
    assert all(p.quality.value == "bad" and p.value is None for p in broken)
    assert broken[0].reason == "BadSensorFailure"
    # The counter moves on the server every 100 ms: several increasing values arrive.
    await wait_for(lambda: len(collector.good("count_good")) >= 5, 15, message="counter values")
    counts = [p.value for p in collector.good("count_good")]
    assert counts == sorted(counts) and len(set(counts)) == len(counts)
    for p, batch in collector.points("count_good"):
        assert p.ts is not None and p.ts <= batch.ts
    assert comp.metrics()["revised_publishing_interval_ms"] >= 50
    assert set(comp.revised) == {
        "x_constant_value",
        "x_device_name",
        "machine_running",
        "count_good",
        "x_stamped_value",
        "x_broken_value",
    }


async def test_aes128_sha256_rsaoaep_sign_and_encrypt_with_node_opcua(
    node_opcua, interop_profile, tmp_path
):
    cfg = OpcuaConfig(
        profile="node-opcua-interop",
        profile_file=interop_profile,
        endpoint=node_opcua,
        data_dir=tmp_path,
        security_policy="Aes128_Sha256_RsaOaep",
        security_mode="SignAndEncrypt",
    )
    with pytest.raises(CertificateRefused):
        await OpcuaAdapter.test_connection(cfg)
    pki = Pki(tmp_path)
    pki.trust(pki.list()[0].thumbprint)
    text = await OpcuaAdapter.test_connection(cfg)
    assert (
        "node-opcua" in text
        and "5/6 points readable" in text
        and "x_broken_value (BadSensorFailure)" in text
    )


async def test_browse_node_opcua_writes_a_valid_draft(node_opcua, tmp_path):
    from kit_opcua import connection as conn
    from kit_opcua.browse import draft
    from kit_opcua.profile import OpcuaProfile

    from kit.yamlfiles import load_yaml

    cfg = OpcuaConfig(profile="draft", endpoint=node_opcua, data_dir=tmp_path)
    with pytest.raises(CertificateRefused):
        await conn.open_client(cfg)
    pki = Pki(tmp_path)
    pki.trust(pki.list()[0].thumbprint)
    client = await conn.open_client(cfg)
    try:
        text, n = await draft(client, node_opcua, "node-draft")
    finally:
        await conn.close(client)
    f = tmp_path / "draft.yaml"
    f.write_text(text)
    prof = OpcuaProfile.model_validate(load_yaml(f))
    by_node = {p.node: p for p in prof.points}
    alias = next(a for a, uri in prof.namespaces.items() if uri == "urn:kit-interop:node-opcua")
    assert by_node[f"{alias};s=Counter"].type == "UInt32"
    assert by_node[f"{alias};s=Name"].type == "String"
    assert by_node[f"{alias};s=Constant"].name == "x_constant"
    assert prof.vendor == "node-opcua"
    assert not any(
        p.node and p.node.startswith("ns=") for p in prof.points
    )  # never a namespace index

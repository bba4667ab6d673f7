"""``kit scan`` of an OPC UA server: GetEndpoints, the certificate reported by fingerprint and
never trusted, an anonymous look inside where the server offers it (namespaces, BuildInfo, clock
offset) and the match against the OPC UA profiles (issue 13). Against the kit's asyncua
simulator on 127.0.0.2."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives.serialization import Encoding
from kit_opcua.adapter import OpcuaAdapter


async def test_scan_lists_application_and_security_without_trusting(sim_factory, tmp_path):
    sim = await sim_factory("siemens-s7-1500-db", host="127.0.0.2")
    env = dict(os.environ, KIT_DATA_DIR=str(tmp_path))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kit",
        "scan",
        "127.0.0.2",
        "--ports",
        f"{sim.port}/opcua",
        "--json",
        "--quiet",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    ep = json.loads(out)["endpoints"][0]
    assert ep["protocol"] == "opcua" and ep["status"] == "scanned"
    info = ep["info"]
    assert info["application"]["application_uri"] == sim.application_uri
    policies = {e["security_policy"] for e in info["endpoints"]}
    assert "None" in policies and "Basic256Sha256" in policies
    cert = sim.certificate.public_bytes(Encoding.DER)
    assert info["certificate_sha256"] == [hashlib.sha256(cert).hexdigest()]
    assert info["certificate_trusted"] is False
    # GetEndpoints, then (None + Anonymous offered) one anonymous session and one read.
    assert ep["requests"] == 3
    dev = ep["devices"][0]
    notes = " ".join(dev["notes"])
    assert "secure endpoint" in notes and "available" in notes
    assert "server clock offset" in notes and isinstance(info["clock_offset_s"], float)
    # Matched against the OPC UA profiles by BuildInfo and namespace.
    assert dev["status"] == "identified" and dev["profile"] == "siemens-s7-1500-db"
    assert "http://www.siemens.com/simatic-s7-opcua" in info["namespaces"]
    assert any(e.startswith("BuildInfo 'Siemens") for e in dev["candidates"][0]["evidence"])
    assert dev["identification"]["manufacturer_name"].startswith("Siemens")
    # The scan wrote its inventory and nothing else: no certificate trusted or stored.
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["inventory.json"]


def test_the_registered_opcua_component_offers_the_scan_contract():
    """``kit scan`` finds the OPC UA scanner on the class the plugin registers (the light
    component class), and the real adapter inherits it."""
    from kit.cli.scan_cmd import scanners
    from kit.plugins import get_plugin_manager

    cls = scanners(get_plugin_manager())["opcua"]
    assert cls.scan_ports == (4840,)
    assert asyncio.iscoroutinefunction(cls.scan_endpoint)
    assert issubclass(OpcuaAdapter, cls)


async def test_a_server_with_only_secure_endpoints_is_listed_without_a_session(
    sim_factory, tmp_path
):
    from kit_opcua.scan import scan_endpoint

    sim = await sim_factory(
        "siemens-s7-1500-db", host="127.0.0.2", security_policy="Basic256Sha256"
    )
    sent = []

    async def pace():
        sent.append(1)

    got = await scan_endpoint(sim.host, sim.port, pace=pace, profiles=[], timeout_s=1.0)
    assert got["status"] == "scanned" and len(sent) == 1
    assert {e["security_policy"] for e in got["info"]["endpoints"]} == {"Basic256Sha256"}
    assert got["devices"][0]["status"] == "unknown" and "namespaces" not in got["info"]

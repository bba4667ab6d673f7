"""Security: certificate trust, validation failures, insecure policies, identities."""

from __future__ import annotations

import datetime as dt
import os
import stat

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from kit_opcua.adapter import OpcuaAdapter
from kit_opcua.cli import opcua as opcua_cli
from kit_opcua.config import OpcuaConfig
from kit_opcua.connection import CertificateRefused
from kit_opcua.pki import Pki, application_uris, load_cert, make_certificate, new_key, thumbprint
from pydantic import ValidationError

from kit.errors import AdapterError
from kit.testing import wait_for


def cfg_for(sim, data_dir, **kw) -> OpcuaConfig:
    return OpcuaConfig(profile=sim.profile.id, endpoint=sim.url, data_dir=data_dir, **kw)


@pytest.mark.parametrize("policy", ["Basic256Sha256", "Aes128_Sha256_RsaOaep"])
async def test_sign_and_encrypt_after_trust_and_rejected_store(sim_factory, tmp_path, policy):
    sim = await sim_factory(
        "siemens-s7-1500-db", security_policy=policy, security_mode="SignAndEncrypt"
    )
    cfg = cfg_for(sim, tmp_path, security_policy=policy, security_mode="SignAndEncrypt")
    with pytest.raises(CertificateRefused) as exc:
        await OpcuaAdapter.test_connection(cfg)
    assert exc.value.code == "BadCertificateUntrusted"
    assert sim.thumbprint[:12] in str(exc.value)  # the message tells what to trust
    pki = Pki(tmp_path)
    rejected = [c for c in pki.list() if c.state == "rejected"]
    assert [c.thumbprint for c in rejected] == [sim.thumbprint]
    assert (tmp_path / "pki" / "rejected" / f"{sim.thumbprint}.der").is_file()
    assert rejected[0].application_uri == sim.application_uri
    pki.trust(sim.thumbprint[:10])  # a unique prefix is enough
    assert [c.state for c in pki.list()] == ["trusted"]
    text = await OpcuaAdapter.test_connection(cfg)
    assert "6/6 points readable" in text and "Siemens" in text


async def test_running_adapter_connects_after_cli_trust_without_restart(
    start_adapter, sim_factory, collector, kit_settings
):
    sim = await sim_factory("siemens-s7-1500-db", security_policy="Basic256Sha256")
    rt, comp = await start_adapter(
        sim, trust=False, wait_connected=False, reconnect_initial_s=0.2, reconnect_max_s=0.5
    )
    await wait_for(lambda: comp.certificate_problem, 15, message="certificate refused")
    assert comp.certificate_problem == {
        "status": "BadCertificateUntrusted",
        "thumbprint": sim.thumbprint,
    }
    # Points are bad (never stale good values) while the server is not trusted.
    await wait_for(lambda: collector.points("count_good"), 10, message="bad points published")
    assert all(p.quality.value == "bad" for p, _ in collector.points("count_good"))
    runner = CliRunner()
    listing = runner.invoke(opcua_cli, ["certs", "--data-dir", str(kit_settings.data_dir)])
    assert (
        listing.exit_code == 0 and sim.thumbprint in listing.output and "rejected" in listing.output
    )
    res = runner.invoke(opcua_cli, ["trust", "--yes", "--data-dir", str(kit_settings.data_dir)])
    assert res.exit_code == 0, res.output
    await wait_for(lambda: comp.state == "connected", 15, message="connected after trust")
    await wait_for(lambda: collector.good("count_good"), 10, message="good data")
    # The control endpoints see the same store.
    from kit.control import ControlClient

    listed = await ControlClient(rt.bus).call("opcua.certs.list")
    assert [c["thumbprint"] for c in listed["certificates"]] == [sim.thumbprint]
    assert listed["own"]["thumbprint"] == thumbprint(
        load_cert(Pki(kit_settings.data_dir).cert_file)
    )
    await ControlClient(rt.bus).call("opcua.certs.reject", {"thumbprint": sim.thumbprint})
    assert [c.state for c in Pki(kit_settings.data_dir).list()] == ["rejected"]


async def test_expired_server_certificate_refused(sim_factory, tmp_path):
    key = new_key()
    uri = "urn:fast-track-kit:sim:expired"
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    cert = make_certificate(
        key,
        uri,
        common_name="expired",
        hostnames=["127.0.0.1"],
        server=True,
        days=10,
        not_before=past,
    )
    sim = await sim_factory(
        "siemens-s7-1500-db",
        security_policy="Basic256Sha256",
        certificate=(cert, key),
        application_uri=uri,
    )
    Pki(tmp_path).add_trusted(cert)  # trusted, but expired: still refused
    with pytest.raises(CertificateRefused) as exc:
        await OpcuaAdapter.test_connection(cfg_for(sim, tmp_path))
    assert exc.value.code == "BadCertificateTimeInvalid"


async def test_uri_mismatched_server_certificate_refused(sim_factory, tmp_path):
    key = new_key()
    cert = make_certificate(
        key, "urn:somewhere:else", common_name="mismatch", hostnames=["127.0.0.1"], server=True
    )
    sim = await sim_factory(
        "siemens-s7-1500-db",
        security_policy="Basic256Sha256",
        certificate=(cert, key),
        application_uri="urn:fast-track-kit:sim:real",
    )
    Pki(tmp_path).add_trusted(cert)
    with pytest.raises(CertificateRefused) as exc:
        await OpcuaAdapter.test_connection(cfg_for(sim, tmp_path))
    assert exc.value.code == "BadCertificateUriInvalid"


def test_policy_none_and_deprecated_refused_by_default():
    base = {"profile": "x", "endpoint": "opc.tcp://127.0.0.1:4840"}
    with pytest.raises(ValidationError, match="allow_insecure"):
        OpcuaConfig(**base, security_policy="None", security_mode="None")
    with pytest.raises(ValidationError, match="allow_insecure"):
        OpcuaConfig(**base, security_policy="Basic256")
    with pytest.raises(ValidationError, match="allow_insecure"):
        OpcuaConfig(**base, security_policy="Basic128Rsa15", security_mode="Sign")
    assert OpcuaConfig(**base).security_policy == "Basic256Sha256"  # secure default
    assert OpcuaConfig(
        **base, security_policy="None", security_mode="None", allow_insecure=True
    ).insecure


async def test_none_only_server_refused_by_default_and_allowed_explicitly(
    sim_factory, tmp_path, caplog
):
    sim = await sim_factory("siemens-s7-1500-db", security_policy="None")
    with pytest.raises(
        AdapterError, match="offers no endpoint with Basic256Sha256/SignAndEncrypt.*None/None"
    ):
        await OpcuaAdapter.test_connection(cfg_for(sim, tmp_path))
    text = await OpcuaAdapter.test_connection(
        cfg_for(sim, tmp_path, security_policy="None", security_mode="None", allow_insecure=True)
    )
    assert "6/6" in text
    assert any("security policy None accepted" in r.message for r in caplog.records)


async def test_server_requiring_trusted_client_certificate(sim_factory, tmp_path):
    pki = Pki(tmp_path)
    cert_file, _ = pki.ensure_own()
    other = make_certificate(
        new_key(), "urn:other:client", common_name="other", hostnames=["x"], server=False
    )
    sim = await sim_factory(
        "siemens-s7-1500-db", security_policy="Aes256_Sha256_RsaPss", trusted_clients=[other]
    )
    pki.add_trusted(sim.certificate)
    cfg = cfg_for(sim, tmp_path, security_policy="Aes256_Sha256_RsaPss")
    with pytest.raises(AdapterError, match="Bad"):
        await OpcuaAdapter.test_connection(cfg)
    sim.trusted_clients.append(load_cert(cert_file))  # the operator trusts the kit on the server
    assert "6/6" in await OpcuaAdapter.test_connection(cfg)


async def test_username_identity(sim_factory, tmp_path):
    sim = await sim_factory(
        "siemens-s7-1500-db", security_policy="Basic256Sha256", users={"maint": "s3cret"}
    )
    Pki(tmp_path).add_trusted(sim.certificate)
    with pytest.raises(AdapterError, match="Bad"):
        await OpcuaAdapter.test_connection(
            cfg_for(sim, tmp_path, identity="username", username="maint", password="wrong")
        )
    assert "6/6" in await OpcuaAdapter.test_connection(
        cfg_for(sim, tmp_path, identity="username", username="maint", password="s3cret")
    )


def test_own_certificate_generated_once_with_application_uri(tmp_path):
    pki = Pki(tmp_path, "urn:fast-track-kit:testhost")
    cert_file, key_file = pki.ensure_own()
    first = cert_file.read_bytes()
    cert = x509.load_der_x509_certificate(first)
    assert application_uris(cert) == ["urn:fast-track-kit:testhost"]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH in eku
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert pki.ensure_own()[0].read_bytes() == first  # reused, not regenerated
    key = serialization.load_pem_private_key(key_file.read_bytes(), None)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()
    # A changed ApplicationUri gets a new certificate for the new URI, with the same key.
    pki2 = Pki(tmp_path, "urn:fast-track-kit:renamed")
    new = x509.load_der_x509_certificate(pki2.ensure_own()[0].read_bytes())
    assert application_uris(new) == ["urn:fast-track-kit:renamed"]
    assert new.public_key().public_numbers() == cert.public_key().public_numbers()

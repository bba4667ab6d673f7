"""Signatures: Signed / Unsigned / Invalid / Modified at every load, replay across versions, policy."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from kit.plugins import get_plugin_manager
from kit.trust.sign_plugin import sign_plugin
from kit.trust.signing import (
    SignatureError,
    load_private_key,
    new_keypair,
    sign_bytes,
    verify_bytes,
)
from kit.trust.truststore import TrustStore, trust_key
from kit.trust.verify import check_package, make_verifier

PLUGIN = """
import kit
from kit.components import Source

class Tiny(Source):
    name = "tiny-{v}"
    async def run(self):
        pass

@kit.hookimpl
def register_components(register):
    register.add(Tiny)
"""


def install_plugin(site: Path, version: str, mod: str = "kit_tinyplug") -> Path:
    """Install a plugin the way pip lays it out: package + dist-info with entry points."""
    pkg = site / mod
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "plugin.py").write_text(PLUGIN.replace("{v}", mod))
    (pkg / "kit_manifest.yaml").write_text(
        f"name: kit-tinyplug\nversion: {version}\nvendor: test\ncontact: t@example.org\n"
        f"kinds: [source]\ncomponents: [tiny]\npublishes: ['kit.data.>']\n"
    )
    di = site / f"kit_tinyplug-{version}.dist-info"
    for old in site.glob("kit_tinyplug-*.dist-info"):
        for f in old.iterdir():
            f.unlink()
        old.rmdir()
    di.mkdir()
    (di / "METADATA").write_text(f"Metadata-Version: 2.1\nName: kit-tinyplug\nVersion: {version}\n")
    (di / "entry_points.txt").write_text(f"[kit]\ntinyplug = {mod}.plugin\n")
    return pkg


@pytest.fixture
def env(tmp_path, monkeypatch):
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("KIT_LOAD_PLUGINS", "tinyplug")
    data = tmp_path / "data"
    keys = tmp_path / "keys"
    new_keypair(keys, "vendor")
    new_keypair(keys, "certifier")
    trust_key(data, keys / "vendor.pub", "vendor")
    trust_key(data, keys / "certifier.pub", "certifier")
    yield site, data, keys
    for m in [m for m in sys.modules if m.startswith("kit_tinyplug")]:
        del sys.modules[m]


def _report(tmp: Path, version: str) -> Path:
    p = tmp / "report.json"
    p.write_text(
        json.dumps({"plugin": {"name": "kit-tinyplug", "version": version}, "tier": "bronze"})
    )
    return p


def test_modified_file_turns_status_modified_and_require_certified_refuses(env, tmp_path):
    site, data, keys = env
    pkg = install_plugin(site, "1.0.0")
    host = get_plugin_manager(verify=make_verifier(data, "require-certified"))
    assert host.trust["tinyplug"].status == "Unsigned"
    assert [b.name for b in host.broken] == ["tinyplug"]

    report = _report(tmp_path, "1.0.0")  # the report ships in the package and is signed with it
    sign_plugin(pkg, load_private_key(keys / "vendor.key"), "vendor", report=report)
    sign_plugin(pkg, load_private_key(keys / "certifier.key"), "certifier", report=report)
    host = get_plugin_manager(verify=make_verifier(data, "require-certified"))
    st = host.trust["tinyplug"]
    assert (st.status, st.certified, st.tier) == ("Signed", True, "bronze")
    assert "tiny-kit_tinyplug" in host.components.items and not host.broken
    info = {p.name: p for p in host.info()}  # what the `plugins` control endpoint returns
    assert (
        info["tinyplug"].trust["status"] == "Signed" and info["tinyplug"].trust["tier"] == "bronze"
    )

    # Tamper with an installed file: the next load sees it.
    (pkg / "plugin.py").write_text(
        (pkg / "plugin.py").read_text() + "\nimport socket  # injected\n"
    )
    host = get_plugin_manager(verify=make_verifier(data, "require-certified"))
    assert host.trust["tinyplug"].status == "Modified"
    assert "plugin.py" in host.trust["tinyplug"].detail
    assert "tiny-kit_tinyplug" not in host.components.items
    assert "require-certified" in host.broken[0].error
    # warn refuses Modified too; allow-unsigned loads it (development).
    assert get_plugin_manager(verify=make_verifier(data, "warn")).broken
    assert not get_plugin_manager(verify=make_verifier(data, "allow-unsigned")).broken


def test_added_file_and_unknown_key(env, tmp_path):
    site, data, keys = env
    pkg = install_plugin(site, "1.0.0")
    sign_plugin(pkg, load_private_key(keys / "vendor.key"), "vendor")
    store = TrustStore.load(data)
    assert check_package(pkg, "kit-tinyplug", "1.0.0", store).status == "Signed"
    (pkg / "extra.py").write_text("x = 1\n")
    st = check_package(pkg, "kit-tinyplug", "1.0.0", store)
    assert st.status == "Modified" and "extra.py" in st.detail
    (pkg / "extra.py").unlink()
    # A key the site does not trust makes the signature Untrusted, not Signed (item 15).
    assert check_package(pkg, "kit-tinyplug", "1.0.0", TrustStore()).status == "Untrusted"


def test_signature_for_1_0_does_not_validate_1_1(env, tmp_path):
    site, data, keys = env
    pkg = install_plugin(site, "1.0")
    sign_plugin(pkg, load_private_key(keys / "vendor.key"), "vendor")
    sig = (pkg / "kit_signature.json").read_text()
    assert (
        get_plugin_manager(verify=make_verifier(data, "warn")).trust["tinyplug"].status == "Signed"
    )
    # Release 1.1 with the same files and the old signature copied over (a replay).
    pkg = install_plugin(site, "1.1")
    (pkg / "kit_manifest.yaml").write_text(
        (pkg / "kit_manifest.yaml").read_text().replace("1.1", "1.0")
    )
    (pkg / "kit_signature.json").write_text(sig)
    host = get_plugin_manager(verify=make_verifier(data, "warn"))
    st = host.trust["tinyplug"]
    assert st.status == "Invalid" and "version" in st.detail
    assert host.broken  # warn refuses Invalid


def test_sign_bytes_binds_statement(tmp_path):
    new_keypair(tmp_path, "k")
    key = load_private_key(tmp_path / "k.key")
    doc = sign_bytes(b"bundle", key, {"name": "line-oee", "version": "1.0"})
    keys = {doc["key_id"]: key.public_key()}
    assert verify_bytes(b"bundle", doc, keys, expect={"version": "1.0"})["name"] == "line-oee"
    with pytest.raises(SignatureError, match="version"):
        verify_bytes(b"bundle", doc, keys, expect={"version": "1.1"})
    with pytest.raises(SignatureError, match="does not match"):
        verify_bytes(b"bundle!", doc, keys)
    doc["statement"]["version"] = "1.1"  # editing the trusted statement breaks the signature
    with pytest.raises(SignatureError, match="does not verify"):
        verify_bytes(b"bundle", doc, keys)

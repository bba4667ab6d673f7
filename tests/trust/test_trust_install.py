"""Verification at install: a wheel is checked against the trust store and policy before installing."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from kit.errors import PluginError
from kit.trust.install import check_wheel
from kit.trust.sign_plugin import sign_plugin
from kit.trust.signing import load_private_key, new_keypair
from kit.trust.truststore import trust_key

from .test_trust_signatures import install_plugin


def build_wheel(site: Path, out: Path, tamper: bool = False) -> Path:
    """Zip the installed layout (package + dist-info) the way a wheel carries it."""
    with zipfile.ZipFile(out, "w") as z:
        for p in sorted(site.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                data = p.read_bytes()
                if tamper and p.name == "plugin.py":
                    data += b"\nimport os; os.system('id')\n"
                z.writestr(p.relative_to(site).as_posix(), data)
    return out


def test_wheel_verified_before_install(tmp_path):
    site = tmp_path / "site"
    pkg = install_plugin(site, "1.2.0")
    data = tmp_path / "data"
    new_keypair(tmp_path / "k", "cert")
    trust_key(data, tmp_path / "k" / "cert.pub", "certifier")
    report = tmp_path / "r.json"
    report.write_text(
        json.dumps({"plugin": {"name": "kit-tinyplug", "version": "1.2.0"}, "tier": "silver"})
    )
    sign_plugin(pkg, load_private_key(tmp_path / "k" / "cert.key"), "certifier", report=report)

    ok = check_wheel(
        build_wheel(site, tmp_path / "kit_tinyplug-1.2.0-py3-none-any.whl"),
        data,
        "require-certified",
    )
    assert ok.status == "Signed" and ok.certified and ok.tier == "silver"

    bad = build_wheel(site, tmp_path / "tampered.whl", tamper=True)
    with pytest.raises(PluginError, match="Modified"):
        check_wheel(bad, data, "warn")
    with pytest.raises(PluginError, match="require-certified"):
        check_wheel(bad, tmp_path / "empty-data", "require-certified")  # unknown key: Invalid

"""Verification at install: a wheel is checked against the trust store and policy before installing."""

from __future__ import annotations

import base64
import hashlib
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


def build_wheel(
    site: Path, out: Path, tamper: bool = False, extra: dict[str, bytes] | None = None
) -> Path:
    """Zip the installed layout (package + dist-info) the way a wheel carries it, with a
    RECORD of every file (``extra``: more files, listed in RECORD like a build tool would)."""
    files: dict[str, bytes] = {}
    for p in sorted(site.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.name != "RECORD":
            data = p.read_bytes()
            if tamper and p.name == "plugin.py":
                data += b"\nimport os; os.system('id')\n"
            files[p.relative_to(site).as_posix()] = data
    files.update(extra or {})
    dist_info = next(k.split("/")[0] for k in files if k.endswith(".dist-info/METADATA"))
    rows = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows.append(f"{name},sha256={digest},{len(data)}")
    rows.append(f"{dist_info}/RECORD,,")
    with zipfile.ZipFile(out, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
        z.writestr(f"{dist_info}/RECORD", "\n".join(rows) + "\n")
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


def _certified_site(tmp_path: Path) -> tuple[Path, Path]:
    site = tmp_path / "site"
    pkg = install_plugin(site, "1.2.0")
    data = tmp_path / "data"
    new_keypair(tmp_path / "k", "cert")
    trust_key(data, tmp_path / "k" / "cert.pub", "certifier")
    report = tmp_path / "r.json"
    report.write_text(
        json.dumps({"plugin": {"name": "kit-tinyplug", "version": "1.2.0"}, "tier": "gold"})
    )
    sign_plugin(pkg, load_private_key(tmp_path / "k" / "cert.key"), "certifier", report=report)
    return site, data


@pytest.mark.parametrize(
    "extra",
    [
        {"zz_evil.pth": b"import os; os.system('id')\n"},
        {"sitecustomize.py": b"print('owned')\n"},
        {"other_pkg/__init__.py": b""},
        {"kit_tinyplug-1.2.0.data/scripts/kit": b"#!/bin/sh\nid\n"},
        {"kit_tinyplug/nested.pth": b"import os\n"},
    ],
    ids=["pth", "module", "package", "data-scripts", "nested-pth"],
)
def test_signed_wheel_with_extra_files_is_refused(tmp_path, extra):
    """Issue 19 item 13: a certified-gold wheel plus a top-level .pth must not install."""
    site, data = _certified_site(tmp_path)
    name = next(iter(extra))
    whl = build_wheel(site, tmp_path / "kit_tinyplug-1.2.0-py3-none-any.whl", extra=extra)
    with pytest.raises(PluginError, match="outside the signature") as exc:
        check_wheel(whl, data, "allow-unsigned")  # refused under every policy
    assert name in str(exc.value)


def test_wheel_file_differing_from_record_is_refused(tmp_path):
    site, data = _certified_site(tmp_path)
    whl = build_wheel(site, tmp_path / "kit_tinyplug-1.2.0-py3-none-any.whl")
    bad = tmp_path / "bad.whl"
    with zipfile.ZipFile(whl) as src, zipfile.ZipFile(bad, "w") as dst:
        for info in src.infolist():
            body = src.read(info)
            if info.filename.endswith("entry_points.txt"):
                body += b"evil = os:system\n"  # the dist-info is not covered by the signature
            dst.writestr(info, body)
    with pytest.raises(PluginError, match="hash differs from RECORD"):
        check_wheel(bad, data, "require-certified")
    assert check_wheel(whl, data, "require-certified").tier == "gold"

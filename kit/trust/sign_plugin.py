"""Signing a plugin package: the statement binds name@version, the kit API and the report.

``kit sign PATH --key vendor.key --role vendor`` (or ``--role certifier --report r.json``)
adds one signature to ``<package>/kit_signature.json``. Each signature covers the SHA-256
of every file of the package directory — the manifest and the certification report
(``kit_certification.json``, copied into the package so it ships in the wheel) included.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kit.errors import PluginError
from kit.trust import KIT_API_VERSION
from kit.trust.manifest import MANIFEST_FILE, load_manifest
from kit.trust.signing import SIGNATURE_FILE, SignatureError, canonical, key_id, sign_tree

REPORT_FILE = "kit_certification.json"


def find_package_dir(path: Path) -> Path:
    """The plugin package directory (the one holding ``kit_manifest.yaml``) at or below ``path``.

    Accepts the package directory itself or a project root with ``src/<pkg>/``.

    Raises:
        PluginError: none or several found.
    """
    path = Path(path)
    if (path / MANIFEST_FILE).is_file():
        return path
    found = [p.parent for p in path.glob(f"src/*/{MANIFEST_FILE}")] or [
        p.parent for p in path.glob(f"*/{MANIFEST_FILE}")
    ]
    if len(found) != 1:
        raise PluginError(
            f"{path}: expected exactly one package with a {MANIFEST_FILE} "
            f"(in {path}, {path}/src/<pkg>/ or {path}/<pkg>/), found {len(found)}"
        )
    return found[0]


def sign_plugin(
    path: Path,
    key: Ed25519PrivateKey,
    role: str = "vendor",
    report: Path | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Sign the plugin package at ``path``; returns the signature file.

    Args:
        role: ``vendor`` or ``certifier``. A certifier signature names the tier the report
            passed; it makes the plugin *certified* where the key is trusted as a certifier.
        report: a ``kit certify`` JSON report to embed (required for ``certifier``).

    Raises:
        SignatureError: a certifier without a passing report, or a report for another plugin.
    """
    pkg = find_package_dir(path)
    man = load_manifest(pkg / MANIFEST_FILE)
    tier = None
    if report is not None:
        rep = json.loads(Path(report).read_text())
        if (
            rep.get("plugin", {}).get("name") != man.name
            or rep.get("plugin", {}).get("version") != man.version
        ):
            raise SignatureError(f"report is for {rep.get('plugin')}, not {man.name} {man.version}")
        tier = rep.get("tier")
        if Path(report).resolve() != (pkg / REPORT_FILE).resolve():
            shutil.copyfile(report, pkg / REPORT_FILE)
    if role == "certifier" and not tier:
        raise SignatureError(
            "a certifier signature needs a report that passed at least bronze (--report)"
        )
    if role not in ("vendor", "certifier", "release"):
        raise SignatureError("role must be vendor, certifier or release")
    statement: dict[str, Any] = {
        "purpose": "kit-plugin",
        "name": man.name,
        "version": man.version,
        "kit_api": man.kit_api,
        "kit_api_version": KIT_API_VERSION,
        "role": role,
        "tier": tier if role == "certifier" else None,
        **(extra or {}),
    }
    rp = pkg / REPORT_FILE
    if rp.is_file():
        import hashlib

        statement["report_sha256"] = hashlib.sha256(rp.read_bytes()).hexdigest()
    sig_path = pkg / SIGNATURE_FILE
    docs: list[dict[str, Any]] = []
    if sig_path.exists():
        try:
            docs = [
                d
                for d in json.loads(sig_path.read_text()).get("signatures", [])
                if d.get("key_id") != key_id(key.public_key())
            ]
        except ValueError:
            docs = []
    tmp = pkg.parent / f".{pkg.name}.sig.tmp"
    sign_tree(pkg, key, statement, out=tmp)
    docs.append(json.loads(tmp.read_text()))
    tmp.unlink()
    sig_path.write_text(json.dumps({"signatures": docs}, indent=2, sort_keys=True) + "\n")
    return sig_path


__all__ = ["REPORT_FILE", "find_package_dir", "sign_plugin", "canonical"]

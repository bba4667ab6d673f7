"""Model files: one JSON document per model version, signed with the kit's Ed25519 keys.

Layout in the site data directory::

    <data_dir>/models/<name>/v<version>.kitmodel.json
    <data_dir>/models/<name>/registry.json      {"active": 2, "shadow": 3, "retired": [1]}

A model file is ``{"format": "kit-model/1", "manifest": {...}, "model": {...},
"signature": {...} | null}``. The manifest holds the kind and parameters, the feature
definition (signal → point, aggregate, window), the training window and the SHA-256 of the
training feature matrix, evaluation metrics and the kit/plugin versions. The signature is a
``kit.trust.signing`` document over the canonical JSON of format + manifest + model whose
statement names ``purpose: kit-model``, the model name and version (a signature cannot be
replayed onto another model or version).

Trust status, as for plugins (``kit plugin verify``): **Signed** (a trusted key, content
unchanged), **Untrusted** (valid, by a key the site has not trusted), **Unsigned**,
**Invalid** (does not verify, or names another model/version), **Modified** (validly signed,
content changed since). The site's ``plugin_policy`` decides: ``require-certified`` loads
only Signed models, ``warn`` refuses Invalid/Modified and warns about Unsigned/Untrusted,
``allow-unsigned`` loads everything.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.errors import KitError
from kit.trust.signing import (
    SignatureError,
    UntrustedSigner,
    canonical,
    embedded_key,
    sign_bytes,
    verify_statement,
)

FORMAT = "kit-model/1"
PURPOSE = "kit-model"
SUFFIX = ".kitmodel.json"
POLICIES = ("allow-unsigned", "warn", "require-certified")


class ModelError(KitError):
    """A model file or registry cannot be used."""

    exit_code = 2


@dataclass
class ModelStatus:
    """Trust status of one model file."""

    status: str  # Signed | Untrusted | Unsigned | Invalid | Modified
    signer: str | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {"status": self.status, "signer": self.signer, "detail": self.detail}


def signed_bytes(doc: dict[str, Any]) -> bytes:
    """The bytes a signature covers: canonical JSON of format, manifest and model."""
    return canonical({k: doc.get(k) for k in ("format", "manifest", "model")})


def sign(doc: dict[str, Any], key: Any) -> dict[str, Any]:
    """Sign ``doc`` in place with an Ed25519 private key; returns it."""
    m = doc["manifest"]
    doc["signature"] = sign_bytes(
        signed_bytes(doc), key, {"purpose": PURPOSE, "name": m["name"], "version": m["version"]}
    )
    return doc


def verify(doc: dict[str, Any], keys: dict[str, Any]) -> ModelStatus:
    """Trust status of a model document against the trusted ``keys`` (id → public key)."""
    sig = doc.get("signature")
    if not sig:
        return ModelStatus("Unsigned", detail="no signature")
    m = doc.get("manifest") or {}
    status, signer = "Signed", sig.get("key_id") if isinstance(sig, dict) else None
    try:
        st = verify_statement(sig, keys)
    except UntrustedSigner as exc:
        k = embedded_key(sig)
        try:
            st = verify_statement(sig, {exc.key_id: k} if k else {})
        except SignatureError:
            return ModelStatus("Invalid", signer, "signature does not verify")
        status = "Untrusted"
    except SignatureError as exc:
        return ModelStatus("Invalid", signer, str(exc))
    for field in ("name", "version"):
        if st.get(field) != m.get(field):
            return ModelStatus(
                "Invalid",
                signer,
                f"signature is for {field} {st.get(field)!r}, the file says {m.get(field)!r}",
            )
    if st.get("purpose") != PURPOSE:
        return ModelStatus("Invalid", signer, "signature is not for a model")
    if st.get("sha256") != hashlib.sha256(signed_bytes(doc)).hexdigest():
        return ModelStatus("Modified", signer, "content changed since it was signed")
    detail = "" if status == "Signed" else f"key {signer} is not trusted (kit keys trust)"
    return ModelStatus(status, signer, detail)


def decide(status: ModelStatus, policy: str) -> tuple[bool, str]:
    """Whether ``policy`` lets a model with ``status`` run, and the warning or refusal text."""
    s = status.status
    if policy == "allow-unsigned" or s == "Signed":
        return True, ""
    if policy == "require-certified":
        return False, f"refused by plugin_policy require-certified: model is {s} ({status.detail})"
    if s in ("Invalid", "Modified"):
        return False, f"refused: model is {s} ({status.detail})"
    return True, f"model is {s} ({status.detail}); loaded under plugin_policy warn"


# -- files and registry ----------------------------------------------------------------------
def models_root(data_dir: Path) -> Path:
    """``<data_dir>/models``."""
    return Path(data_dir) / "models"


def model_path(data_dir: Path, name: str, version: int) -> Path:
    """Path of one model version's file."""
    return models_root(data_dir) / name / f"v{version}{SUFFIX}"


def read_doc(path: Path) -> dict[str, Any]:
    """Read a model file.

    Raises:
        ModelError: unreadable, not JSON or not a kit model file.
    """
    try:
        doc = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ModelError(f"{path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise ModelError(f"{path}: not JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelError(f"{path}: not a {FORMAT} model file")
    return doc


def versions(data_dir: Path, name: str) -> list[int]:
    """Stored versions of model ``name``, ascending."""
    d = models_root(data_dir) / name
    out = []
    for p in d.glob(f"v*{SUFFIX}") if d.is_dir() else []:
        try:
            out.append(int(p.name[1 : -len(SUFFIX)]))
        except ValueError:
            continue
    return sorted(out)


def names(data_dir: Path) -> list[str]:
    """Names of stored models."""
    root = models_root(data_dir)
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def registry(data_dir: Path, name: str) -> dict[str, Any]:
    """``{"active": int|None, "shadow": int|None, "retired": [int]}`` of model ``name``."""
    p = models_root(data_dir) / name / "registry.json"
    base: dict[str, Any] = {"active": None, "shadow": None, "retired": []}
    if p.exists():
        try:
            base.update(json.loads(p.read_text()))
        except ValueError as exc:
            raise ModelError(f"{p}: not JSON: {exc}") from None
    return base


def write_registry(data_dir: Path, name: str, reg: dict[str, Any]) -> None:
    """Write the registry atomically (a crash never leaves half a file)."""
    p = models_root(data_dir) / name / "registry.json"
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    tmp.write_text(json.dumps(reg, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, p)


def store(data_dir: Path, doc: dict[str, Any]) -> Path:
    """Write a new model version (never overwrites) and make it the shadow of its model."""
    m = doc["manifest"]
    p = model_path(data_dir, m["name"], m["version"])
    if p.exists():
        raise ModelError(f"{p} exists already; versions are never overwritten")
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    reg = registry(data_dir, m["name"])
    reg["shadow"] = m["version"]
    write_registry(data_dir, m["name"], reg)
    return p


def promote(data_dir: Path, name: str, version: int) -> dict[str, Any]:
    """Make ``version`` the active model (the former active one is kept, not retired).

    Raises:
        ModelError: no such version, or it was retired.
    """
    if version not in versions(data_dir, name):
        raise ModelError(
            f"model {name} has no version {version}; stored: {versions(data_dir, name)}"
        )
    reg = registry(data_dir, name)
    if version in reg["retired"]:
        raise ModelError(f"model {name} v{version} is retired")
    previous = reg["active"]
    reg["active"] = version
    if reg["shadow"] == version:
        reg["shadow"] = None
    write_registry(data_dir, name, reg)
    return {"model": name, "active": version, "previous": previous}


def retire(data_dir: Path, name: str, version: int) -> dict[str, Any]:
    """Retire ``version``: it no longer runs (active → none: the rule fallback carries alerts)."""
    if version not in versions(data_dir, name):
        raise ModelError(f"model {name} has no version {version}")
    reg = registry(data_dir, name)
    if version not in reg["retired"]:
        reg["retired"].append(version)
    for role in ("active", "shadow"):
        if reg[role] == version:
            reg[role] = None
    write_registry(data_dir, name, reg)
    return {"model": name, "retired": version, **{k: reg[k] for k in ("active", "shadow")}}

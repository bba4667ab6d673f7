"""Signed evidence packs: one zip file whose manifest lists the SHA-256 of every file in it
and is signed with the site's Ed25519 key (:mod:`kit.trust.signing`, the same signatures
as plugins, bundles and models).

Layout of a ``*.kitevidence`` file::

    manifest.json   format kit-evidence/1, kind, creation time, summary, redaction note,
                    and the SHA-256 of every other file
    manifest.sig    Ed25519 signature of manifest.json (statement purpose "kit-evidence")
    ...             the content (for a pilot: report, KPI rows, versions, reports)

This module is the container only — what the files mean and how their statistics are
recomputed belongs to the producer (``kit_pilot``). It is part of the public API plugins may
import, so a plugin can write and check packs without reaching into :mod:`kit.trust`.

A file that is missing, added or changed after signing refuses the whole pack; so does a
signature that does not verify or whose key the site does not trust (``kit keys trust``).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from kit.errors import ConfigError
from kit.hashedzip import MANIFEST as MANIFEST
from kit.hashedzip import ZipKind, file_hashes, open_zip, sha256_hex
from kit.payloads import utcnow

FORMAT = "kit-evidence/1"
SIGNATURE = "manifest.sig"
PURPOSE = "kit-evidence"
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
"""Largest total size of a pack's files once unpacked (30 days of minute KPIs on 10 assets
is tens of MB; the bound refuses zip bombs)."""


class EvidenceError(ConfigError):
    """The file is not an evidence pack, was changed after signing, or is not trusted
    (``problems`` names each file that differs)."""

    exit_code = 1


_KIND = ZipKind(
    what="an evidence pack",
    noun="pack",
    format=FORMAT,
    signature=SIGNATURE,
    max_unpacked=MAX_UNPACKED_BYTES,
    sealed_by="signing",
    error=EvidenceError,
)


def write_pack(files: dict[str, bytes], info: dict[str, Any], key: Any, signer: str = "") -> bytes:
    """A signed pack of ``files``; ``info`` (kind, summary, redaction…) goes into the manifest.

    Args:
        key: an Ed25519 private key (:func:`load_key`).
    """
    from kit.trust.signing import sign_bytes

    bad = [n for n in files if n in (MANIFEST, SIGNATURE) or n.startswith("/") or ".." in n]
    if bad:
        raise EvidenceError(f"reserved or unsafe file name(s) in a pack: {', '.join(bad)}")
    manifest = {
        "format": FORMAT,
        "created": utcnow().isoformat(),
        **info,
        "files": file_hashes(files),
    }
    raw = json.dumps(manifest, indent=2, sort_keys=True, default=str).encode()
    sig = sign_bytes(raw, key, {"purpose": PURPOSE, "signer": signer, "kind": info.get("kind")})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(MANIFEST, raw)
        z.writestr(SIGNATURE, json.dumps(sig, indent=2))
        for n, d in sorted(files.items()):
            z.writestr(n, d)
    return buf.getvalue()


@dataclass
class Pack:
    """An opened pack whose files match its manifest (signature not yet checked)."""

    manifest: dict[str, Any]
    files: dict[str, bytes]
    raw_manifest: bytes
    signature: dict[str, Any] | None

    def text(self, name: str) -> str:
        """File ``name`` as UTF-8 text.

        Raises:
            EvidenceError: not in the pack.
        """
        try:
            return self.files[name].decode("utf-8")
        except KeyError:
            raise EvidenceError(f"the pack has no {name}") from None

    def json(self, name: str) -> Any:
        """File ``name`` parsed as JSON."""
        try:
            return json.loads(self.text(name))
        except ValueError as exc:
            raise EvidenceError(f"{name}: not JSON ({exc})") from None


def read_pack(data: bytes, name: str = "pack") -> Pack:
    """Open ``data`` and check every file against the manifest.

    Raises:
        EvidenceError: not a pack, or files changed, missing or added after signing (each
            named in ``problems``).
    """
    opened = open_zip(data, name, _KIND)
    sig_raw = opened.signature
    try:
        sig = json.loads(sig_raw) if sig_raw is not None else None
    except ValueError:
        raise EvidenceError(f"{name}: {SIGNATURE} is not JSON") from None
    return Pack(opened.manifest, opened.files, opened.raw_manifest, sig)


def check_signature(pack: Pack, data_dir: Path, own_key: Any | None = None) -> str:
    """Verify the pack's signature against the trust store of ``data_dir``.

    ``own_key`` (a private or public key; default ``<data_dir>/keys/site.pub`` if present):
    counts as trusted too — a site checking or redacting its own pack need not list its own
    key in its trust store.

    Returns:
        ``signed by <key id> (<role>, <comment>)``.

    Raises:
        EvidenceError: unsigned, a signature that does not verify, or a key this site does
            not trust (with the command that would trust it).
    """
    from kit.trust.signing import SignatureError, UntrustedSigner, verify_bytes
    from kit.trust.truststore import TrustStore

    if pack.signature is None:
        raise EvidenceError("the pack is not signed")
    ts = TrustStore.load(data_dir)
    own = None
    if own_key is None:
        # The site's own key (``kit keys new site``) needs no trust-store entry at its site.
        pub = Path(data_dir) / "keys" / "site.pub"
        if pub.exists():
            from kit.trust.signing import load_public_key

            try:
                own_key = load_public_key(pub)
            except SignatureError:
                own_key = None
    if own_key is not None:
        public = own_key.public_key() if hasattr(own_key, "public_key") else own_key
        from kit.trust.signing import key_id

        kid = key_id(public)
        if kid not in ts.keys:
            ts.keys[kid] = public
            own = kid
    try:
        st = verify_bytes(pack.raw_manifest, pack.signature, ts.keys, expect={"purpose": PURPOSE})
    except UntrustedSigner as exc:
        raise EvidenceError(
            f"{exc}; if you trust the site that made it, add its public key with "
            "`kit keys trust SITE.pub --role vendor`"
        ) from None
    except SignatureError as exc:
        raise EvidenceError(f"signature refused: {exc}") from None
    kid = st["key_id"]
    if kid == own:
        return f"signed by {kid} (this site's own key)"
    who = ts.comments.get(kid) or ""
    return f"signed by {kid} ({ts.roles.get(kid, '?')}{', ' + who if who else ''})"


def load_key(path: Path) -> Any:
    """The Ed25519 private key in ``path`` (written by ``kit keys new``).

    Raises:
        EvidenceError: missing or unusable, with how to make one.
    """
    from kit.trust.signing import SignatureError, load_private_key

    if not Path(path).exists():
        raise EvidenceError(
            f"{path}: no signing key; make the site's key with `kit keys new site` "
            "(it goes to <data_dir>/keys/site.key) or give --key"
        )
    try:
        return load_private_key(path)
    except SignatureError as exc:
        raise EvidenceError(str(exc)) from None


def key_id_of(key: Any) -> str:
    """Key id of a private key's public half."""
    from kit.trust.signing import key_id

    return key_id(key.public_key())


def pseudonym_secret(key: Any) -> bytes:
    """A secret derived from the site's private key: pseudonyms are stable for one site (the
    same asset gets the same name in every pack it shares) and cannot be reversed by others."""
    from cryptography.hazmat.primitives import serialization

    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return hashlib.sha256(b"kit-evidence-pseudonyms/1" + raw).digest()


def pseudonym(secret: bytes, kind: str, value: str) -> str:
    """Stable pseudonym of ``value``: ``<kind>-<6 hex>`` (HMAC-SHA-256 with ``secret``)."""
    return f"{kind}-{hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()[:6]}"


def installed_versions(
    prefixes: tuple[str, ...] = ("kit", "fast-track-kit"),
) -> list[dict[str, Any]]:
    """Installed kit distributions: name, version and SHA-256 of their RECORD (two installs
    with the same fingerprint have byte-identical files)."""
    out = []
    for d in metadata.distributions():
        name = d.metadata["Name"] or ""
        if not name.lower().startswith(prefixes):
            continue
        try:
            record = d.read_text("RECORD")
        except (OSError, ValueError):
            record = None
        out.append(
            {
                "distribution": name,
                "version": d.version,
                "record_sha256": sha256_hex(record.encode()) if record else None,
            }
        )
    return sorted(out, key=lambda r: r["distribution"])

"""Ed25519 signatures (``cryptography``): keys, bytes, and file trees with a signed statement.

Modelled on minisign's *trusted comment*: the signature covers a **statement** that binds
``name@version``, the kit API range and version, the SHA-256 of every file and of the
certification report. Changing any file, or presenting a 1.0 signature for 1.1, fails.

Public API (also used by the recipes work to sign bundles):

* :func:`new_keypair`, :func:`load_private_key`, :func:`load_public_key`, :func:`key_id`
* :func:`sign_bytes` / :func:`verify_bytes` — detached signature over bytes plus a statement.
* :func:`hash_tree` / :func:`sign_tree` / :func:`verify_tree` — a directory of files.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit.errors import KitError

if TYPE_CHECKING:
    # cryptography is imported where a key is used (~7 MiB resident): a runtime whose
    # plugins carry no signature never loads it (docs/sizing.md).
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

SIGNATURE_FILE = "kit_signature.json"
FORMAT = "kit-signature/1"
#: Files never hashed: the signature itself and byte-code caches the interpreter writes.
_SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache"}
_SKIP_SUFFIXES = (".pyc", ".pyo")


class SignatureError(KitError):
    """A key or signature file cannot be used."""

    exit_code = 2


# -- keys ----------------------------------------------------------------------------------
def key_id(public: Ed25519PublicKey) -> str:
    """Short id of a public key: the first 8 bytes of SHA-256 of its raw bytes, hex."""
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_text(public: Ed25519PublicKey, comment: str = "") -> str:
    """One-line text form of a public key: ``kit-ed25519 <base64> <comment>``."""
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"kit-ed25519 {base64.b64encode(raw).decode()} {comment}".rstrip() + "\n"


def parse_public(text: str) -> Ed25519PublicKey:
    """Parse :func:`public_text` output.

    Raises:
        SignatureError: not a kit public key.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    parts = text.strip().split()
    if len(parts) < 2 or parts[0] != "kit-ed25519":
        raise SignatureError("not a kit public key (expected 'kit-ed25519 <base64> [comment]')")
    try:
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(parts[1]))
    except Exception as exc:
        raise SignatureError(f"bad public key: {exc}") from None


def new_keypair(directory: Path, name: str, comment: str = "") -> tuple[Path, Path]:
    """Create ``<name>.key`` (private, PEM, mode 0600) and ``<name>.pub`` in ``directory``.

    Raises:
        SignatureError: the key files exist already (never overwrite a private key).
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    priv_p, pub_p = directory / f"{name}.key", directory / f"{name}.pub"
    if priv_p.exists() or pub_p.exists():
        raise SignatureError(
            f"{priv_p} or {pub_p} exists already; choose another name or remove them"
        )
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(priv_p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub_p.write_text(public_text(key.public_key(), comment or name))
    return priv_p, pub_p


def load_private_key(path: Path | str) -> Ed25519PrivateKey:
    """Load a private key written by :func:`new_keypair`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise SignatureError(f"{path}: cannot load private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path}: not an Ed25519 key")
    return key


def load_public_key(path: Path | str) -> Ed25519PublicKey:
    """Load a ``.pub`` file written by :func:`new_keypair`."""
    try:
        return parse_public(Path(path).read_text())
    except OSError as exc:
        raise SignatureError(f"{path}: cannot read public key: {exc.strerror}") from None


# -- bytes ---------------------------------------------------------------------------------
def canonical(obj: Any) -> bytes:
    """Canonical JSON bytes (sorted keys, no spaces) — what is actually signed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sign_bytes(
    data: bytes, key: Ed25519PrivateKey, statement: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Sign ``data`` and a trusted ``statement`` (e.g. name, version, purpose).

    Returns:
        A JSON-able signature document ``{format, statement, key_id, signature}``; the
        statement carries ``sha256`` of ``data`` and the signing time.
    """
    st = dict(statement or {})
    st["sha256"] = hashlib.sha256(data).hexdigest()
    st.setdefault("signed_at", datetime.now(UTC).isoformat(timespec="seconds"))
    st["key_id"] = key_id(key.public_key())
    return {
        "format": FORMAT,
        "statement": st,
        "key_id": st["key_id"],
        # The public half travels with the signature so a site that does not trust the key
        # yet can still tell "valid, but by an unknown signer" from "broken" (the key id is
        # its hash, so the embedded key cannot be swapped without changing the id).
        "public_key": public_text(key.public_key()).split()[1],
        "signature": base64.b64encode(key.sign(canonical(st))).decode(),
    }


def verify_statement(doc: dict[str, Any], keys: dict[str, Ed25519PublicKey]) -> dict[str, Any]:
    """Check the signature of ``doc`` with the key it names from ``keys``; return the statement.

    Raises:
        SignatureError: unknown key, bad format or a signature that does not verify.
    """
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SignatureError(f"not a {FORMAT} signature document")
    st, kid = doc.get("statement"), doc.get("key_id")
    if not isinstance(st, dict) or st.get("key_id") != kid:
        raise SignatureError("the statement does not name the signing key")
    if kid not in keys:
        raise UntrustedSigner(str(kid))
    from cryptography.exceptions import InvalidSignature

    try:
        keys[kid].verify(base64.b64decode(doc.get("signature", "")), canonical(st))
    except (InvalidSignature, ValueError):
        raise SignatureError(f"signature by key {kid} does not verify") from None
    return st


class UntrustedSigner(SignatureError):
    """The signature is well-formed but its key is not in the trust store."""

    def __init__(self, kid: str) -> None:
        super().__init__(f"signed by key {kid}, which is not in the trust store")
        self.key_id = kid


def embedded_key(doc: dict[str, Any]) -> Ed25519PublicKey | None:
    """The public key a signature document carries, if its id matches the signing key id."""
    raw = doc.get("public_key") if isinstance(doc, dict) else None
    if not isinstance(raw, str):
        return None
    try:
        k = parse_public(f"kit-ed25519 {raw}")
    except SignatureError:
        return None
    return k if key_id(k) == doc.get("key_id") else None


def verify_bytes(
    data: bytes,
    doc: dict[str, Any],
    keys: dict[str, Ed25519PublicKey],
    expect: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Verify a :func:`sign_bytes` document for ``data``; ``expect`` fields must match the statement.

    Raises:
        SignatureError: any mismatch (key, signature, content hash, expected statement fields).
    """
    st = verify_statement(doc, keys)
    if st.get("sha256") != hashlib.sha256(data).hexdigest():
        raise SignatureError("the data does not match the signed hash")
    _check_expect(st, expect)
    return st


def _check_expect(st: dict[str, Any], expect: dict[str, Any] | None) -> None:
    for k, v in (expect or {}).items():
        if st.get(k) != v:
            raise SignatureError(f"signed statement says {k}={st.get(k)!r}, expected {v!r}")


# -- trees ---------------------------------------------------------------------------------
def hash_tree(root: Path, exclude: set[str] | None = None) -> dict[str, str]:
    """SHA-256 of every file under ``root`` by POSIX relative path (caches and the signature excluded)."""
    root = Path(root)
    skip = {SIGNATURE_FILE} | (exclude or set())
    out: dict[str, str] = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if any(part in _SKIP_DIRS for part in rel.parts) or p.name.endswith(_SKIP_SUFFIXES):
            continue
        if p.is_file() and rel.as_posix() not in skip:
            out[rel.as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@dataclass
class TreeCheck:
    """Result of :func:`verify_tree`."""

    statement: dict[str, Any]
    changed: list[str]
    added: list[str]
    removed: list[str]

    @property
    def modified(self) -> bool:
        """True if any file differs from what was signed."""
        return bool(self.changed or self.added or self.removed)


def sign_tree(
    root: Path, key: Ed25519PrivateKey, statement: dict[str, Any], out: Path | None = None
) -> Path:
    """Sign every file under ``root``; write the signature document (default ``root/kit_signature.json``).

    The statement (``name``, ``version``, ``kit_api``, ``kit_api_version``, ``role``, …) is
    extended with ``files_sha256`` — the hash of the canonical file list — so the signature
    covers every byte of every file.
    """
    files = hash_tree(root)
    st = dict(statement)
    st["files_sha256"] = hashlib.sha256(canonical(files)).hexdigest()
    st["file_count"] = len(files)
    doc = sign_bytes(canonical(files), key, st)
    doc["files"] = files
    out = out or Path(root) / SIGNATURE_FILE
    Path(out).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    return Path(out)


def verify_tree(
    root: Path,
    doc: dict[str, Any],
    keys: dict[str, Ed25519PublicKey],
    expect: dict[str, Any] | None = None,
) -> TreeCheck:
    """Verify a :func:`sign_tree` document against the files now under ``root``.

    Returns:
        A :class:`TreeCheck`; ``modified`` is True when files changed, appeared or vanished.

    Raises:
        SignatureError: the signature, key or expected statement fields are wrong (Invalid).
    """
    st = verify_statement(doc, keys)
    _check_expect(st, expect)
    files = doc.get("files")
    if (
        not isinstance(files, dict)
        or hashlib.sha256(canonical(files)).hexdigest() != st.get("files_sha256")
        or hashlib.sha256(canonical(files)).hexdigest() != st.get("sha256")
    ):
        raise SignatureError("the file list does not match the signed statement")
    now = hash_tree(root)
    changed = sorted(k for k in files if k in now and now[k] != files[k])
    removed = sorted(k for k in files if k not in now)
    added = sorted(k for k in now if k not in files)
    return TreeCheck(st, changed, added, removed)

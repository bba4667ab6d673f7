"""Zip files whose ``manifest.json`` lists the SHA-256 of every other file: the container of
evidence packs (:mod:`kit.evidence`) and lighthouse bundles (:mod:`kit.recipes.bundle`).

Reading one checks it whole before anything looks inside: its unpacked size is bounded
before a byte is inflated (a zip bomb is refused, not unpacked), and a file missing, added
or changed since the manifest was written refuses the zip, with every such file named.
Only the signature file (a detached signature of the manifest) may stand outside it. What
the manifest says beyond ``format`` and ``files``, and how the signature is checked, belongs
to the caller.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from dataclasses import dataclass
from typing import Any

from kit.errors import ConfigError

MANIFEST = "manifest.json"


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` as the manifest lists it (hex)."""
    return hashlib.sha256(data).hexdigest()


def file_hashes(files: dict[str, bytes]) -> dict[str, str]:
    """The manifest's ``files`` entry: name → SHA-256, in name order."""
    return {n: sha256_hex(d) for n, d in sorted(files.items())}


@dataclass(frozen=True)
class ZipKind:
    """One kind of hashed zip: what it is called in errors and what it may hold."""

    what: str
    """With its article, as in "not an evidence pack"."""
    noun: str
    """As in "the pack was modified after signing"."""
    format: str
    """The manifest's ``format`` this kit reads."""
    signature: str
    """The one file allowed outside the manifest."""
    max_unpacked: int
    sealed_by: str
    """What fixed the manifest: "signing", "export"."""
    error: type[ConfigError]
    format_word: str = ""
    """Before "format" in the unsupported-format error ("bundle ")."""
    limit_hint: str = ""
    """After the size refusal, where the bound lives (" (module.NAME)")."""


@dataclass
class Opened:
    """A hashed zip whose files match its manifest (signature not yet checked)."""

    manifest: dict[str, Any]
    raw_manifest: bytes
    files: dict[str, bytes]
    """Every file but the manifest and the signature."""
    signature: bytes | None


def open_zip(data: bytes, name: str, kind: ZipKind) -> Opened:
    """Open ``data`` and check every file against the manifest.

    Raises:
        kind.error: not a zip of this kind, larger than ``kind.max_unpacked`` unpacked,
            another format, or files changed, missing or added since the manifest (each
            named in ``problems``).
    """
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        if sum(i.file_size for i in z.infolist()) > kind.max_unpacked:
            raise kind.error(
                f"{name}: refused — unpacks to more than {kind.max_unpacked:,} bytes"
                + kind.limit_hint
            )
        contents = {i.filename: z.read(i) for i in z.infolist() if not i.is_dir()}
    except (
        zipfile.BadZipFile,
        OSError,
        KeyError,
        zlib.error,
        NotImplementedError,
        RuntimeError,
    ) as exc:
        raise kind.error(f"{name}: not {kind.what} ({exc})") from None
    raw = contents.pop(MANIFEST, None)
    if raw is None:
        raise kind.error(f"{name}: not {kind.what} (no {MANIFEST})")
    try:
        manifest = json.loads(raw)
        listed = dict(manifest["files"])
    except (ValueError, KeyError, TypeError):
        raise kind.error(f"{name}: {MANIFEST} is unreadable") from None
    if manifest.get("format") != kind.format:
        raise kind.error(
            f"{name}: unsupported {kind.format_word}format {manifest.get('format')!r} "
            f"(this kit reads {kind.format})"
        )
    signature = contents.pop(kind.signature, None)
    after = kind.sealed_by
    problems = (
        [f"{f}: listed in the manifest but missing" for f in listed if f not in contents]
        + [
            f"{f}: SHA-256 does not match the manifest (changed after {after})"
            for f, d in listed.items()
            if f in contents and sha256_hex(contents[f]) != d
        ]
        + [
            f"{f}: not listed in the manifest (added after {after})"
            for f in contents
            if f not in listed
        ]
    )
    if problems:
        raise kind.error(f"{name}: refused — the {kind.noun} was modified after {after}", problems)
    return Opened(manifest, raw, contents, signature)

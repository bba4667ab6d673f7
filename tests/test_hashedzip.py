"""The hashed zip both evidence packs and bundles are: every file is checked against the
manifest, and each kind keeps its own words in the errors."""

import hashlib
import io
import json
import zipfile

import pytest

from kit.evidence import EvidenceError, read_pack
from kit.recipes.bundle import BundleError, open_bundle


def _zip(manifest: dict, files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("manifest.json", json.dumps(manifest))
        for n, b in files.items():
            z.writestr(n, b)
    return out.getvalue()


def _tampered(fmt: str) -> bytes:
    """Listed a.txt (missing), b.txt (changed); c.txt added; d.txt intact."""
    listed = {n: hashlib.sha256(n.encode()).hexdigest() for n in ("a.txt", "b.txt", "d.txt")}
    return _zip(
        {"format": fmt, "files": listed},
        {"b.txt": b"not b", "c.txt": b"c.txt", "d.txt": b"d.txt"},
    )


@pytest.mark.parametrize(
    ("open_", "error", "fmt", "noun", "after"),
    [
        (read_pack, EvidenceError, "kit-evidence/1", "pack", "signing"),
        (lambda d, n: open_bundle(d, n), BundleError, "kit-bundle/1", "bundle", "export"),
    ],
)
def test_missing_changed_and_added_files_are_each_named(open_, error, fmt, noun, after):
    with pytest.raises(error) as err:
        open_(_tampered(fmt), "x.zip")
    assert str(err.value).startswith(f"x.zip: refused — the {noun} was modified after {after}")
    assert err.value.problems == [
        "a.txt: listed in the manifest but missing",
        f"b.txt: SHA-256 does not match the manifest (changed after {after})",
        f"c.txt: not listed in the manifest (added after {after})",
    ]


def test_each_kind_names_itself_for_a_wrong_format_and_a_non_zip():
    other = _zip({"format": "something/9", "files": {}}, {})
    with pytest.raises(EvidenceError, match=r"unsupported format 'something/9' .*kit-evidence/1"):
        read_pack(other, "p")
    with pytest.raises(BundleError, match=r"unsupported bundle format 'something/9'"):
        open_bundle(other, "b")
    with pytest.raises(EvidenceError, match=r"^p: not an evidence pack \("):
        read_pack(b"not a zip", "p")
    with pytest.raises(BundleError, match=r"^b: not a kit bundle \(no manifest.json\)"):
        open_bundle(_zip_without_manifest(), "b")


def _zip_without_manifest() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("bundle.json", b"{}")
    return out.getvalue()

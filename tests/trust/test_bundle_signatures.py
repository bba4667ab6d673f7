"""Signed bundles: a lighthouse site signs, the receiving site verifies against its trust store."""

import io
import json
import zipfile

import pytest

from kit.hashedzip import sha256_hex
from kit.recipes import bundle as bundles
from kit.trust.signing import key_id, load_private_key, new_keypair


def make_bundle() -> bytes:
    files = {"bundle.json": b'{"deployments": [], "plugins": []}', "recipes/x.yaml": b"id: x\n"}
    manifest = {"format": bundles.FORMAT, "files": {n: sha256_hex(b) for n, b in files.items()}}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(bundles.MANIFEST, json.dumps(manifest))
        for n, b in files.items():
            z.writestr(n, b)
    return out.getvalue()


@pytest.fixture
def keys(tmp_path):
    priv, _pub = new_keypair(tmp_path, "lighthouse")
    key = load_private_key(priv)
    other = load_private_key(new_keypair(tmp_path, "stranger")[0])
    trusted = {key_id(key.public_key()): key.public_key()}
    return key, other, trusted


def test_unsigned_bundle_is_reported_unsigned(keys):
    assert bundles.open_bundle(make_bundle(), keys=keys[2])[2] == "unsigned"


def test_signed_by_trusted_key(keys):
    key, _, trusted = keys
    signed = bundles.sign_bundle(make_bundle(), key, "site A")
    assert bundles.open_bundle(signed, keys=trusted)[2] == f"signed by {key_id(key.public_key())}"


def test_signature_by_untrusted_key_is_refused(keys):
    _, other, trusted = keys
    with pytest.raises(bundles.BundleError, match="not in the trust store"):
        bundles.open_bundle(bundles.sign_bundle(make_bundle(), other), keys=trusted)


def test_signature_of_another_manifest_is_refused(keys):
    key, _, trusted = keys
    signed = bundles.sign_bundle(make_bundle(), key)
    sig = zipfile.ZipFile(io.BytesIO(signed)).read(bundles.SIGNATURE_FILE)
    # A different (but internally consistent) bundle carrying the first one's signature.
    files = {"bundle.json": b'{"deployments": [1], "plugins": []}'}
    manifest = {"format": bundles.FORMAT, "files": {n: sha256_hex(b) for n, b in files.items()}}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(bundles.MANIFEST, json.dumps(manifest))
        z.writestr("bundle.json", files["bundle.json"])
        z.writestr(bundles.SIGNATURE_FILE, sig)
    with pytest.raises(bundles.BundleError, match="does not match the signed hash"):
        bundles.open_bundle(out.getvalue(), keys=trusted)

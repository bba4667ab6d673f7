"""First-party release signatures (issue 19 item 14).

The kit's own plugin distributions are signed with a **release key** whose public half is
in the kit (``kit/trust/release_keys/*.pub``), so every site trusts them without
configuration and ``plugin_policy: require-certified`` runs the demo. A release signature
only counts for the distributions listed in :data:`FIRST_PARTY` (the statement binds the
name), never for a vendor's plugin.

Where the private half lives (docs/security/release-keys.md):

* **Official releases**: the project key, generated offline; its private half is in the
  release pipeline's secret store (``KIT_RELEASE_KEY`` = path to the PEM file at build time),
  never in the repository. Its public half is committed here.
* **Dev and CI builds**: ``scripts/sign_first_party.py`` without ``KIT_RELEASE_KEY``
  generates a *build-local* key outside the repository (``--key-dir``, default
  ``$XDG_DATA_HOME/fast-track-kit/release-dev``) and writes its public half to
  ``kit/trust/release_keys/dev-build.pub`` (git-ignored). Only that checkout trusts it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only the type: keys are built by kit.trust.signing
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kit.trust.signing import SignatureError, key_id, load_public_key

#: Distributions of this repository that a release key may vouch for.
FIRST_PARTY = frozenset(
    {
        "kit-alarms",
        "kit-condition",
        "kit-energy",
        "kit-historian",
        "kit-modbus",
        "kit-models",
        "kit-notify",
        "kit-oee",
        "kit-opcua",
        "kit-pilot",
        "kit-spc",
        "kit-synthetic",
        "kit-tui",
    }
)
RELEASE_TIER = "first-party"
DEV_KEY_NAME = "dev-build"


def release_keys_dir() -> Path:
    """The directory of built-in release public keys."""
    return Path(__file__).parent / "release_keys"


def builtin_release_keys() -> dict[str, tuple[Ed25519PublicKey, str]]:
    """Key id → (public key, file name) of every built-in release key."""
    out: dict[str, tuple[Ed25519PublicKey, str]] = {}
    for p in sorted(release_keys_dir().glob("*.pub")):
        try:
            k = load_public_key(p)
        except SignatureError:
            continue
        out[key_id(k)] = (k, p.name)
    return out

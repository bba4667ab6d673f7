"""The trust store: public keys of certifiers and vendors a site accepts.

Layout in the data directory::

    <data_dir>/trust/certifiers/<key_id>.pub
    <data_dir>/trust/vendors/<key_id>.pub
    <data_dir>/trust/releases/<key_id>.pub   (plus the kit's built-in release keys)

A certifier's signature on a plugin whose statement carries a certification tier makes the
plugin *certified*; a vendor's signature makes it *signed*. Adding a key is an explicit
operator action (``kit keys trust FILE --role vendor|certifier``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # only the type: keys are built by kit.trust.signing
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kit.trust.signing import SignatureError, key_id, load_public_key, public_text

Role = Literal["certifier", "vendor", "release"]
ROLES: tuple[Role, ...] = ("certifier", "vendor", "release")


def store_dir(data_dir: Path) -> Path:
    """``<data_dir>/trust``."""
    return Path(data_dir) / "trust"


@dataclass
class TrustStore:
    """Keys by id and the role each key was trusted for."""

    keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    roles: dict[str, Role] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, data_dir: Path) -> TrustStore:
        """Read every key of the store; unreadable files are skipped (reported by ``kit keys list``)."""
        ts = cls()
        # Built-in release keys (first-party distributions only; kit.trust.release).
        from kit.trust.release import builtin_release_keys

        for kid, (k, name) in builtin_release_keys().items():
            ts.keys[kid] = k
            ts.roles[kid] = "release"
            ts.comments[kid] = f"built-in release key ({name})"
        for role in ROLES:
            d = store_dir(data_dir) / f"{role}s"
            for p in sorted(d.glob("*.pub")) if d.is_dir() else []:
                try:
                    k = load_public_key(p)
                except SignatureError:
                    continue
                kid = key_id(k)
                ts.keys[kid] = k
                ts.roles[kid] = role
                ts.comments[kid] = " ".join(p.read_text().split()[2:])
        return ts

    def of_role(self, role: Role) -> dict[str, Ed25519PublicKey]:
        """Keys trusted for ``role``."""
        return {k: v for k, v in self.keys.items() if self.roles.get(k) == role}


def trust_key(data_dir: Path, pub_file: Path, role: Role) -> str:
    """Add the public key in ``pub_file`` to the store as ``role``; return its key id."""
    if role not in ROLES:
        raise SignatureError(f"role must be one of {', '.join(ROLES)}")
    k = load_public_key(pub_file)
    kid = key_id(k)
    d = store_dir(data_dir) / f"{role}s"
    d.mkdir(parents=True, exist_ok=True)
    comment = " ".join(Path(pub_file).read_text().split()[2:])
    (d / f"{kid}.pub").write_text(public_text(k, comment))
    return kid


def untrust_key(data_dir: Path, kid: str) -> bool:
    """Remove key ``kid`` from every role; True if it was there."""
    found = False
    for role in ROLES:
        p = store_dir(data_dir) / f"{role}s" / f"{kid}.pub"
        if p.exists():
            p.unlink()
            found = True
    return found

"""Secrets at rest and private file modes (issue 19 item 11).

* **Deployment records** (recipe parameters of type ``secret``, and the component configs
  built from them) are encrypted with a **site key** before they go into the
  ``KIT_DEPLOYMENTS`` KV bucket, i.e. before JetStream writes them to disk. Fernet from
  ``cryptography`` (AES-128-CBC + HMAC-SHA256, authenticated): a changed byte fails to decrypt.
  The key is ``<data_dir>/secrets.key`` (mode 0600), created on first use. Whoever can read
  the data directory can read the key: this protects copies of the JetStream store (backups,
  a disk pulled from a gateway, a bucket snapshot), not against root on the gateway.
* **Private files**: the runtime process runs with umask 077, so everything it and its
  ``nats-server`` child create (JetStream store, historian Parquet, keys) is owner-only;
  the data directory itself is made 0700.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit.errors import KitError

if TYPE_CHECKING:  # cryptography costs ~7 MiB resident: imported when a record is sealed
    from cryptography.fernet import Fernet

KEY_FILE = "secrets.key"
ENC_FORMAT = "kit-fernet/1"
PRIVATE_UMASK = 0o077


class SecretsError(KitError):
    """A stored record cannot be decrypted (wrong or missing site key, or tampered data)."""

    exit_code = 2


def harden_process(data_dir: Path) -> None:
    """Owner-only files from now on (umask 077, inherited by nats-server) and a 0700 data dir."""
    os.umask(PRIVATE_UMASK)
    d = Path(data_dir)
    d.mkdir(parents=True, exist_ok=True)
    os.chmod(d, 0o700)


def site_key(data_dir: Path) -> Fernet:
    """The site key of ``data_dir`` (created 0600 on first use, never overwritten)."""
    from cryptography.fernet import Fernet

    p = Path(data_dir) / KEY_FILE
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it meanwhile: use theirs
            pass
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(Fernet.generate_key())
    try:
        return Fernet(p.read_bytes().strip())
    except (OSError, ValueError) as exc:
        raise SecretsError(f"{p}: cannot use the site key: {exc}") from None


def seal(record: dict[str, Any], key: Fernet) -> bytes:
    """The bytes stored for ``record``: ``{"enc": "kit-fernet/1", "token": …}``."""
    token = key.encrypt(json.dumps(record, default=str).encode())
    return json.dumps({"enc": ENC_FORMAT, "token": token.decode()}).encode()


def is_sealed(raw: bytes) -> bool:
    """True if ``raw`` was written by :func:`seal`."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("enc") == ENC_FORMAT


def unseal(raw: bytes, key: Fernet | None) -> dict[str, Any]:
    """The record in ``raw`` (sealed or a legacy plain-JSON record).

    Raises:
        SecretsError: sealed, but no key or the wrong key, or the token was changed.
        ValueError: not JSON at all.
    """
    doc: dict[str, Any] = json.loads(raw)
    if not (isinstance(doc, dict) and doc.get("enc") == ENC_FORMAT):
        return doc
    if key is None:
        raise SecretsError("the record is encrypted and no site key was given")
    from cryptography.fernet import InvalidToken

    try:
        opened: dict[str, Any] = json.loads(key.decrypt(str(doc.get("token", "")).encode()))
        return opened
    except InvalidToken:
        raise SecretsError(
            "cannot decrypt a deployment record: wrong site key or changed data"
        ) from None

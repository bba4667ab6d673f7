"""Named secrets of notification routes, sealed with the site key.

A route names a secret (``token_secret: mes_token``); the value lives in
``<data_dir>/notify-secrets.json`` (mode 0600), each one encrypted with the site key by the
kit's one secrets mechanism (:mod:`kit.trust.secrets`: Fernet, ``<data_dir>/secrets.key``)
— the same protection as a recipe's ``secret`` parameters. Nothing secret is ever in the
site configuration, in ``kit status`` or in a bundle. Set one with
``kit notify secret set NAME`` (asked for without echo, or read from standard input).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from kit.errors import ConfigError
from kit.trust.secrets import seal, site_key, unseal

FILE = "notify-secrets.json"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _path(data_dir: Path) -> Path:
    return Path(data_dir) / FILE


def _read(data_dir: Path) -> dict[str, dict[str, str]]:
    try:
        doc = json.loads(_path(data_dir).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{_path(data_dir)}: unreadable: {exc}") from None
    return dict(doc.get("secrets", {}))


def _write(data_dir: Path, secrets: dict[str, dict[str, str]]) -> None:
    p = _path(data_dir)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"secrets": secrets}, f, indent=2)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, p)


def check_name(name: str) -> str:
    """``name`` if it is a valid secret name (lower case, digits, ``_``, ``-``)."""
    if not _NAME.match(name):
        raise ConfigError(f"secret name {name!r}: use lower case letters, digits, _ and -")
    return name


def set_secret(data_dir: Path, name: str, value: str) -> None:
    """Seal ``value`` under ``name`` (replacing an earlier one)."""
    if not value:
        raise ConfigError(f"secret {name!r}: empty value")
    secrets = _read(data_dir)
    secrets[check_name(name)] = json.loads(seal({"value": value}, site_key(data_dir)))
    _write(data_dir, secrets)


def remove_secret(data_dir: Path, name: str) -> bool:
    """Forget ``name``; False if there was none."""
    secrets = _read(data_dir)
    if secrets.pop(name, None) is None:
        return False
    _write(data_dir, secrets)
    return True


def secret_names(data_dir: Path) -> list[str]:
    """Names of the stored secrets (never their values)."""
    return sorted(_read(data_dir))


def get_secret(data_dir: Path | None, name: str) -> str:
    """The value of secret ``name``.

    Raises:
        ConfigError: no data directory, no such secret, or it cannot be decrypted.
    """
    if data_dir is None:
        raise ConfigError(f"secret {name!r}: no site data directory")
    sealed = _read(data_dir).get(name)
    if sealed is None:
        raise ConfigError(f"secret {name!r} is not set; set it with `kit notify secret set {name}`")
    try:
        return str(unseal(json.dumps(sealed).encode(), site_key(data_dir))["value"])
    except Exception as exc:
        raise ConfigError(f"secret {name!r}: {exc}") from None

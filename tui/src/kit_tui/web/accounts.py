"""Web view accounts: person → role, with a salted scrypt password hash.

Stored in ``<data_dir>/web/users.json`` (mode 0600, written atomically). A role here is one of
the runtime's bus roles: a signed-in person's TUI connects to the bus as that role's user,
so the runtime — not the browser — decides what the person may do.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from kit.errors import ConfigError
from kit_tui.roles import ROLES

USERS_FILE = Path("web") / "users.json"
#: scrypt cost (RFC 7914): 16 MiB and ~50 ms per check on a Raspberry Pi 4 — slow for a
#: password guesser, quick enough for a person signing in.
_N, _R, _P = 2**14, 8, 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 10


@dataclass(frozen=True)
class Account:
    """One person who may sign in to the web view."""

    name: str
    role: str


def _hash(password: str, salt: bytes, n: int = _N, r: int = _R, p: int = _P) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 2**20, dklen=32)


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


class Accounts:
    """The accounts file of one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / USERS_FILE

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{self.path}: unreadable web accounts file: {exc}") from None
        users = raw.get("users") if isinstance(raw, dict) else None
        if not isinstance(users, dict):
            raise ConfigError(f"{self.path}: users: missing (expected a mapping of accounts)")
        return users

    def _save(self, users: dict[str, dict[str, str]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"users": users}, f, indent=2, sort_keys=True)
        os.replace(tmp, self.path)

    def list(self) -> list[Account]:
        """Every account, by name."""
        return [Account(n, u["role"]) for n, u in sorted(self._load().items())]

    def set(self, name: str, role: str, password: str) -> Account:
        """Create or replace account ``name`` (a new password replaces the old one).

        Raises:
            ConfigError: bad name, unknown role or a password shorter than ``MIN_PASSWORD``.
        """
        if not _NAME.match(name):
            raise ConfigError(
                f"name: {name!r} is not a valid account name (letters, digits, . _ @ -; up to 64)"
            )
        if role not in ROLES:
            raise ConfigError(f"role: {role!r} is not one of {', '.join(ROLES)}")
        if len(password) < MIN_PASSWORD:
            raise ConfigError(f"password: at least {MIN_PASSWORD} characters")
        salt = secrets.token_bytes(16)
        users = self._load()
        users[name] = {
            "role": role,
            "hash": f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(_hash(password, salt))}",
        }
        self._save(users)
        return Account(name, role)

    def remove(self, name: str) -> bool:
        """Delete account ``name``; False if there was none."""
        users = self._load()
        if users.pop(name, None) is None:
            return False
        self._save(users)
        return True

    def verify(self, name: str, password: str) -> Account | None:
        """The account if ``password`` is right, else None (same work whether or not it exists)."""
        user = self._load().get(name)
        if user is None:
            _hash(password, b"\0" * 16)  # no timing hint that the name does not exist
            return None
        try:
            _algo, n, r, p, salt, digest = user["hash"].split("$")
            got = _hash(password, base64.b64decode(salt), int(n), int(r), int(p))
        except (KeyError, ValueError):
            return None
        if not hmac.compare_digest(got, base64.b64decode(digest)):
            return None
        return Account(name, user["role"])

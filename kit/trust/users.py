"""Named bus accounts for tools outside the kit (``kit users add NAME --role viewer``).

Node-RED, Grafana's MQTT data source, a SCADA or an MES reading KPIs need their own login
to the embedded server (NATS and its MQTT listener), without anyone digging the built-in
role passwords out of ``nats/auth.json``. Each named user has a role:

* ``viewer`` — a **read-only data account**: it may subscribe to the KPI topics
  (``kit/out/kpi/#``, NATS ``kit.out.kpi.>``) and nothing else. It cannot publish at all
  (no control API, no JetStream API, so no deployment records, secrets or state), cannot
  read raw data, events or other clients' replies.
* ``technician``, ``admin`` — the permissions of the built-in role of that name
  (:func:`kit.trust.busauth.role_permissions`), for a person or tool that acts.

Accounts live in ``<data_dir>/nats/users.json`` (mode 0600, like ``auth.json``); the
password is generated, shown once by ``kit users add`` and kept for the server's
configuration. A running runtime picks changes up through the admin endpoint
``users.reload`` (the CLI calls it).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any

from kit.errors import ConfigError

USERS_FILE = "users.json"
#: MQTT topic tree (and NATS subjects) a viewer account reads: KPIs per window, retained.
KPI_OUT_SUBJECT = "kit.out.kpi"
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
_RESERVED = {"runtime", "admin", "technician", "viewer", "system", "sys"}


def users_file(data_dir: Path) -> Path:
    """``<data_dir>/nats/users.json``."""
    return Path(data_dir) / "nats" / USERS_FILE


def load_users(data_dir: Path) -> dict[str, dict[str, str]]:
    """Named accounts: ``{name: {"role": …, "password": …}}`` (empty if none)."""
    try:
        doc = json.loads(users_file(data_dir).read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{users_file(data_dir)}: unreadable: {exc}") from None
    return {str(k): dict(v) for k, v in dict(doc.get("users", {})).items()}


def _save(data_dir: Path, users: dict[str, dict[str, str]]) -> None:
    p = users_file(data_dir)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"users": users}, f, indent=2)
    os.replace(tmp, p)


def add_user(data_dir: Path, name: str, role: str, password: str | None = None) -> str:
    """Create (or give a new password to) account ``name`` with ``role``; returns the password.

    Raises:
        ConfigError: a bad or reserved name, or an unknown role.
    """
    from kit.trust.busauth import ROLES

    if not _NAME.match(name) or name in _RESERVED or name.startswith("c-"):
        raise ConfigError(
            f"user name {name!r}: lower case letters, digits, _ and - (starting with a letter); "
            f"not {', '.join(sorted(_RESERVED))} and not c-…"
        )
    if role not in ROLES:
        raise ConfigError(f"role {role!r}: one of {', '.join(ROLES)}")
    users = load_users(data_dir)
    pw = password or secrets.token_urlsafe(18)
    users[name] = {"role": role, "password": pw}
    _save(data_dir, users)
    return pw


def remove_user(data_dir: Path, name: str) -> bool:
    """Delete account ``name``; False if there was none."""
    users = load_users(data_dir)
    if users.pop(name, None) is None:
        return False
    _save(data_dir, users)
    return True


def user_permissions(role: str) -> dict[str, Any]:
    """NATS permissions of a named account of ``role`` (see the module docstring)."""
    from kit.trust.busauth import role_permissions

    if role == "viewer":
        return {
            "publish": {"deny": [">"]},
            # Nothing of $MQTT.>: MQTT sessions (QoS 1, retained values) work without it
            # (tested), and it would show other clients' QoS 1 deliveries over NATS.
            "subscribe": {"allow": [f"{KPI_OUT_SUBJECT}.>", KPI_OUT_SUBJECT]},
        }
    return role_permissions(role)


def conf_entries(data_dir: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """``(user, password, permissions)`` of every named account, for ``nats.conf``."""
    return [
        (name, u["password"], user_permissions(u["role"]))
        for name, u in sorted(load_users(data_dir).items())
    ]

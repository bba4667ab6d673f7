"""What each of the kit's roles may do in the TUI (and so in the web view).

The runtime enforces roles: a viewer's or technician's bus user may publish only to the
control API endpoints of its role (``kit.trust.busauth.ROLE_ENDPOINTS``), so a forbidden call
is refused by the server whatever the UI does. The TUI mirrors that here so that a person
is never offered a key that can only fail: every screen hides the actions beyond its user's
role (``KitScreen.check_action``), and the app refuses to open the install wizard.
"""

from __future__ import annotations

import os

#: Roles in increasing power (the same names as the runtime's bus users).
ROLES = ("viewer", "technician", "admin")

#: Screen action → the least role that may run it, after the control API endpoint it calls
#: (kit.trust.busauth.ROLE_ENDPOINTS: technicians acknowledge, shelve, assign reasons and
#: test connections; installing, upgrading, removing and trusting are the admin's).
ACTION_ROLES: dict[str, str] = {
    "ack": "technician",
    "shelve": "technician",
    "unshelve": "technician",
    "assign_reason": "technician",
    "test": "technician",
    "install": "admin",
    "uninstall": "admin",
    "upgrade": "admin",
    "export": "admin",
    "bundle_install": "admin",
    "trust": "admin",
    "reject": "admin",
}


def current_role(explicit: str | None = None) -> str:
    """The role this TUI runs as: ``explicit``, else ``KIT_ROLE``, else ``admin`` (the CLI's
    default too: whoever reads the data directory holds the admin password anyway).

    Raises:
        ValueError: not one of :data:`ROLES`.
    """
    role = explicit or os.environ.get("KIT_ROLE") or "admin"
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    return role


def at_least(role: str, needed: str) -> bool:
    """True if ``role`` has the rights of ``needed``."""
    return ROLES.index(role) >= ROLES.index(needed)


def allowed(role: str, action: str) -> bool:
    """True if ``role`` may run screen action ``action`` (unlisted actions only read)."""
    needed = ACTION_ROLES.get(action)
    return needed is None or at_least(role, needed)

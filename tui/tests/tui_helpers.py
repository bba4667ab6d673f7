"""Helpers shared by the TUI pilot tests (importable as ``tui_helpers``: ``conftest.py`` puts
this folder on ``sys.path``, since the suite runs in importlib import mode)."""

from __future__ import annotations

import socket

from textual.widgets import Input
from textual.widgets._toast import Toast

#: Hardware profile of the simulated machine controller (Modbus TCP, ``kit sim``).
PROFILE = "siemens-s7-mb-server"


def text(widget) -> str:
    """Rendered plain text of a Static/Label."""
    return str(widget.render())


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def replace_text(pilot, field: Input, value: str) -> None:
    """Clear an input and type ``value`` with key presses, as a user does."""
    field.focus()
    await pilot.press("end", *["backspace"] * len(field.value), *list(value))


def toasts(app) -> list[str]:
    """Text of the notifications the current screen shows (``run_test(notifications=True)``)."""
    return [text(t) for t in app.screen.query(Toast)]

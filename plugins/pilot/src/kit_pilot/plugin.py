"""The ``pilot`` plugin: adds ``kit pilot`` (no components, no bus access)."""

from __future__ import annotations

from typing import Any

import kit


@kit.hookimpl
def register_commands(cli: Any) -> None:
    """Add ``kit pilot``."""
    from kit_pilot.cli import pilot

    cli.add_command(pilot)

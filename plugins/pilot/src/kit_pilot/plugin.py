"""The ``pilot`` plugin: adds ``kit pilot`` and ``kit evidence`` (no components, no bus access)."""

from __future__ import annotations

from typing import Any

import kit


@kit.hookimpl
def register_commands(cli: Any) -> None:
    """Add ``kit pilot`` (with ``kit pilot pack``) and ``kit evidence``."""
    from kit_pilot.cli import pilot
    from kit_pilot.evidence_cli import evidence, pack_cmd

    pilot.add_command(pack_cmd)
    cli.add_command(pilot)
    cli.add_command(evidence)

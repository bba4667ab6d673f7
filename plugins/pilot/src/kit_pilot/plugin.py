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


@kit.hookimpl
def register_endpoints(api: Any, runtime: Any) -> None:
    """``pilots.progress``: every pilot's goals, evaluated from the site history."""
    import asyncio

    from kit_pilot import api as pilot_api

    async def progress_(body: pilot_api.ProgressRequest) -> list[dict[str, Any]]:
        # Imported on the first call: the evaluation reads history with polars (~35 MiB
        # resident), which a runtime must not load at start (tests/footprint).
        from kit_pilot.overview import all_progress

        # Parquet reads and the bootstrap take a fraction of a second per goal: off the loop.
        return await asyncio.to_thread(all_progress, runtime.settings, body.now)

    api.add(pilot_api.PROGRESS, progress_)

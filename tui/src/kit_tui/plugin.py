"""Hook implementations of the TUI plugin: adds ``kit tui`` and ``kit web`` to the command line.

Textual is imported only inside the commands, so ``kit`` and every other command stay
free of it (``kit/`` never imports textual; this keeps ``kit status`` fast on a Pi too).
"""

from __future__ import annotations

import click

import kit


@click.command()
@click.option(
    "--url",
    help="NATS URL of the runtime's bus, e.g. nats://10.0.0.5:4222 (default: the local runtime).",
)
@click.option(
    "--hub",
    metavar="DIR|URL",
    help="Show the fleet view of a hub instead: its directory (kit hub) or client URL.",
)
@click.option(
    "--role",
    type=click.Choice(["viewer", "technician", "admin"]),
    envvar="KIT_ROLE",
    help="Connect as this role's bus user (default: KIT_ROLE, else admin). The runtime "
    "enforces it; the TUI hides what the role may not do.",
)
@click.pass_context
def tui(ctx: click.Context, url: str | None, hub: str | None, role: str | None) -> None:
    """Open the terminal UI: overview, recipe catalog and install wizard, KPIs, alarms, plugins
    (with --hub: the sites of a hub side by side)."""
    if hub is not None:
        from pathlib import Path

        from kit.cli.fleet_cmds import hub_target
        from kit_tui.screens.fleet import FleetApp, hub_loader

        as_dir = Path(hub)
        target, opts = hub_target(
            None if as_dir.is_dir() else hub, as_dir if as_dir.is_dir() else None, None
        )
        FleetApp(hub_loader(target, opts)).run()
        return
    from kit.cli.common import bus_url, settings_from
    from kit.trust.natsclient import cli_options
    from kit_tui.app import KitApp
    from kit_tui.data.link import RuntimeLink

    settings = settings_from(ctx)  # --config reaches the credentials lookup explicitly
    target = bus_url(settings, url)
    link = RuntimeLink(target, connect_options=cli_options(settings, target, role))
    KitApp(link, role=role).run()


@kit.hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``kit tui`` and ``kit web``."""
    from kit_tui.web.cli import web

    cli.add_command(tui)
    cli.add_command(web)

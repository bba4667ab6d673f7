"""The ``kit`` command line (click). Subcommands live in sibling modules by concern.

User errors are :class:`kit.errors.KitError`; they print ``Error: …`` without a traceback
and exit with the documented code (docs/cli.md). Plugins add commands through the
``register_commands`` hook.
"""

from __future__ import annotations

import click

from kit import __version__
from kit.cli.common import KitGroup


@click.group(
    cls=KitGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="KIT_CONFIG",
    help="Site settings file (YAML). Default: none; KIT_… environment variables still apply.",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(__version__, "--version", prog_name="kit")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, verbose: int) -> None:
    """Fast-Track Kit: from a PLC and a meter on the network to a measured use case."""
    import logging

    level = logging.WARNING - 10 * verbose
    logging.basicConfig(
        level=max(level, logging.DEBUG), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Commands read it through kit.cli.common.settings_from(ctx); nothing is written to the
    # environment, so code that needs settings gets them from its caller.
    ctx.obj = {"config": config_path}


def _register_builtin_commands() -> None:
    from kit.cli import (
        bus_cmds,
        core_cmds,
        demo_cmd,
        hub_cmds,
        library_cmds,
        profile_cmds,
        recipe_cmds,
        scan_cmd,
        sim_cmd,
        trust_cmds,
        users_cmds,
    )

    for mod in (
        core_cmds,
        bus_cmds,
        demo_cmd,
        profile_cmds,
        sim_cmd,
        scan_cmd,
        recipe_cmds,
        trust_cmds,
        hub_cmds,
        library_cmds,  # adds `add` to the profile and recipe groups above
        users_cmds,
    ):
        mod.register(cli)


_register_builtin_commands()


def main() -> None:
    """Entry point of the ``kit`` script."""
    cli.main(prog_name="kit")

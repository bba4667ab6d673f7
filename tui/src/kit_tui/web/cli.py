"""``kit web``: serve the TUI to browsers; ``kit web users``: who may sign in, with which role.

Textual, textual-serve and aiohttp are imported inside the commands only, so ``kit`` starts
as fast as before for every other command.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path

import click

from kit.errors import ConfigError

DEFAULT_PORT = 8080


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.group(invoke_without_command=True)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar="KIT_WEB_HOST",
    help="Address to listen on. Keep the default behind a reverse proxy (docs/web.md); "
    "another address needs --cert/--key.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    envvar="KIT_WEB_PORT",
    help="TCP port (0: any free one, printed at start).",
)
@click.option(
    "--url",
    help="NATS URL of the runtime's bus (default: the local runtime).",
)
@click.option(
    "--cert",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="KIT_WEB_CERT",
    help="TLS certificate chain (PEM): serve HTTPS.",
)
@click.option(
    "--key",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="KIT_WEB_KEY",
    help="TLS private key (PEM) of --cert.",
)
@click.option(
    "--public-url",
    envvar="KIT_WEB_PUBLIC_URL",
    help="The address browsers use when a reverse proxy is in front, e.g. https://kit.plant.lan.",
)
@click.option(
    "--max-sessions",
    type=click.IntRange(1, 200),
    default=10,
    show_default=True,
    help="Browser tabs open at once (each runs one TUI process, ~120 MB).",
)
@click.option(
    "--session-hours",
    type=click.FloatRange(0.1, 24 * 30),
    default=12.0,
    show_default=True,
    help="Hours a sign-in lasts.",
)
@click.option(
    "--allow-plain-http",
    is_flag=True,
    help="Listen on a non-loopback address without TLS (passwords cross the network readable).",
)
@click.pass_context
def web(
    ctx: click.Context,
    host: str,
    port: int,
    url: str | None,
    cert: Path | None,
    key: Path | None,
    public_url: str | None,
    max_sessions: int,
    session_hours: float,
    allow_plain_http: bool,
) -> None:
    """Serve the terminal UI in the browser, with sign-in by role (viewer, technician, admin).

    Each browser tab runs its own `kit tui` as the signed-in person's role: the runtime
    enforces what that role may do. Add people first with `kit web users add`.
    """
    if ctx.invoked_subcommand is not None:
        return
    from kit.cli.common import find_runtime, run, settings_from
    from kit.trust.natsclient import cli_options
    from kit_tui.roles import ROLES
    from kit_tui.web.accounts import Accounts
    from kit_tui.web.server import KitWebServer, tls_context

    if (cert is None) != (key is None):
        raise click.UsageError("--cert and --key go together")
    if not _loopback(host) and cert is None and not allow_plain_http:
        raise click.UsageError(
            f"--host {host} is reachable from the network: give --cert/--key for HTTPS, or keep "
            "127.0.0.1 behind a TLS reverse proxy (docs/web.md), or say --allow-plain-http"
        )
    settings = settings_from(ctx)
    accounts = Accounts(settings.data_dir)
    if not accounts.list():
        raise ConfigError(
            f"no web accounts in {accounts.path}: add one with "
            "`kit web users add NAME --role viewer|technician|admin`"
        )
    target, rt_settings = find_runtime(settings, url)
    if rt_settings.nats_url and not url:
        raise ConfigError(
            "kit web needs the embedded server's role users (viewer, technician, admin) to let "
            "the runtime enforce each person's role; with an external nats_url every session "
            "would share one identity. Run kit web beside a runtime with the embedded server"
        )
    for role in ROLES:
        if "user" not in cli_options(rt_settings, target, role):
            raise ConfigError(
                f"no {role} credentials for {target} in {rt_settings.data_dir}/nats/auth.json: "
                "run kit web as the user that runs the runtime, on the same machine"
            )
    config = (ctx.find_root().obj or {}).get("config")

    def command(account: object) -> list[str]:
        role = getattr(account, "role")  # noqa: B009 (an Account)
        base = [sys.executable, "-m", "kit"] + (["--config", config] if config else [])
        return [*base, "tui", "--url", target, "--role", role]

    server = KitWebServer(
        accounts,
        command,
        host=host,
        port=port,
        public_url=public_url,
        ssl_context=tls_context(cert, key) if cert and key else None,
        session_hours=session_hours,
        max_sessions=max_sessions,
    )

    def ready(bound: str) -> None:
        click.echo(
            f"kit web: serving the TUI on {public_url or bound} (bus {target}). Ctrl-C to stop."
        )

    run(server.run(ready))


@web.group()
def users() -> None:
    """Who may sign in to the web view, and with which role."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["viewer", "technician", "admin"]), required=True)
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from standard input (scripts) instead of prompting.",
)
@click.pass_context
def users_add(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Add NAME (or change its role and password)."""
    from kit.cli.common import settings_from
    from kit_tui.web.accounts import Accounts

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    acc = Accounts(settings_from(ctx).data_dir).set(name, role, password)
    click.echo(f"{acc.name}: {acc.role}")


@users.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """List the accounts and their roles."""
    from kit.cli.common import settings_from
    from kit_tui.web.accounts import Accounts

    for acc in Accounts(settings_from(ctx).data_dir).list():
        click.echo(f"{acc.name}\t{acc.role}")


@users.command("remove")
@click.argument("name")
@click.pass_context
def users_remove(ctx: click.Context, name: str) -> None:
    """Remove NAME (a browser of NAME that is signed in cannot open a new tab; tabs already
    open end when closed or when the sign-in expires)."""
    from kit.cli.common import settings_from
    from kit_tui.web.accounts import Accounts

    if not Accounts(settings_from(ctx).data_dir).remove(name):
        raise ConfigError(f"no web account {name!r}")
    click.echo(f"removed {name}")

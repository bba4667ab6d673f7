"""``kit users``: named accounts for tools reading the bus or MQTT (kit.trust.users)."""

from __future__ import annotations

import sys
from urllib.parse import urlparse

import click

from kit.cli.common import control_call, run, settings_from
from kit.datadir import read_runtime_file
from kit.trust import users as accounts
from kit.trust.busauth import ROLES


@click.group()
def users() -> None:
    """Named accounts for MQTT and NATS tools (Node-RED, Grafana, an MES): docs/integrations.md."""


def _reload(ctx: click.Context) -> str:
    """Ask a running runtime to load the accounts; a sentence saying what happened."""
    from kit.api import core

    settings = settings_from(ctx)
    if read_runtime_file(settings.data_dir) is None:
        return "the runtime is not running: it loads the account when it starts"
    run(control_call(settings, core.USERS_RELOAD))
    return "the running runtime has loaded it"


@users.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default="viewer",
    show_default=True,
    help="viewer: subscribe to the KPI topics (kit/out/kpi/#) and nothing else.",
)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (else generated)."
)
@click.pass_context
def users_add(ctx: click.Context, name: str, role: str, password_stdin: bool) -> None:
    """Create account NAME (or give it a new password) and print how to connect."""
    settings = settings_from(ctx)
    given = sys.stdin.read().strip() if password_stdin else None
    if password_stdin and len(given or "") < 12:
        raise click.ClickException("the password must have at least 12 characters")
    pw = accounts.add_user(settings.data_dir, name, role, given)
    info = read_runtime_file(settings.data_dir) or {}
    url = urlparse(str(info.get("url", "")).split(",")[0])
    host, nats_port = url.hostname or settings.nats.host, url.port or settings.nats.port
    mqtt = info.get("mqtt_port") or settings.nats.mqtt_port
    click.echo(f"user:     {name} ({role})")
    if not password_stdin:
        click.echo(f"password: {pw}   (shown once; `kit users add {name}` again makes a new one)")
    click.echo(f"NATS:     nats://{host}:{nats_port}  subjects kit.out.kpi.>")
    click.echo(
        f"MQTT:     mqtt://{host}:{mqtt}  topics kit/out/kpi/#"
        if mqtt
        else "MQTT:     off (set nats.mqtt_port, e.g. 1883, and restart the runtime)"
    )
    if mqtt and role == "viewer":
        secret = "<password>" if password_stdin else pw
        click.echo(
            f"try:      mosquitto_sub -h {host} -p {mqtt} -u {name} -P '{secret}' -t 'kit/out/kpi/#' -v"
        )
    click.echo(_reload(ctx))


@users.command("list")
@click.pass_context
def users_list(ctx: click.Context) -> None:
    """Named accounts and their roles (never passwords)."""
    for name, u in sorted(accounts.load_users(settings_from(ctx).data_dir).items()):
        click.echo(f"{name}\t{u['role']}")


@users.command("remove")
@click.argument("name")
@click.pass_context
def users_remove(ctx: click.Context, name: str) -> None:
    """Delete account NAME (its connections are refused from the next reload)."""
    if not accounts.remove_user(settings_from(ctx).data_dir, name):
        raise click.ClickException(f"no account named {name!r}")
    click.echo(f"removed {name}; {_reload(ctx)}")


def register(cli: click.Group) -> None:
    """Add ``users`` to the kit CLI."""
    cli.add_command(users)

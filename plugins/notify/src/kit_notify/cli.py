"""``kit notify``: the secrets notification routes use (sealed with the site key)."""

from __future__ import annotations

import sys

import click

from kit.cli.common import settings_from
from kit_notify import secrets


@click.group()
def notify() -> None:
    """Notifications: secrets of e-mail, webhook and MQTT routes (docs/integrations.md)."""


@notify.group("secret")
def secret() -> None:
    """Secrets routes name (token_secret, password_secret), kept encrypted in the data dir."""


@secret.command("set")
@click.argument("name")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the value from standard input.")
@click.pass_context
def secret_set(ctx: click.Context, name: str, from_stdin: bool) -> None:
    """Store secret NAME (asked for without echo), sealed with the site key."""
    secrets.check_name(name)
    if from_stdin:
        value = sys.stdin.read().strip()
    else:
        value = click.prompt(f"value of {name}", hide_input=True, confirmation_prompt=True)
    secrets.set_secret(settings_from(ctx).data_dir, name, value)
    click.echo(
        f"secret {name} stored (encrypted with the site key); a running notify component "
        "reads it when it restarts"
    )


@secret.command("list")
@click.pass_context
def secret_list(ctx: click.Context) -> None:
    """Names of the stored secrets (never their values)."""
    for n in secrets.secret_names(settings_from(ctx).data_dir):
        click.echo(n)


@secret.command("remove")
@click.argument("name")
@click.pass_context
def secret_remove(ctx: click.Context, name: str) -> None:
    """Forget secret NAME."""
    if not secrets.remove_secret(settings_from(ctx).data_dir, name):
        raise click.ClickException(f"no secret named {name!r}")
    click.echo(f"secret {name} removed")

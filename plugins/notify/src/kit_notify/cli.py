"""``kit notify``: route secrets (sealed with the site key), the delivery log, test messages."""

from __future__ import annotations

import sys

import click

from kit.cli.common import control_call, run, settings_from
from kit_notify import secrets


@click.group()
def notify() -> None:
    """Notifications: route secrets, delivery log, test messages (docs/integrations.md)."""


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


@notify.command("log")
@click.option("--route", help="Only this route.")
@click.option("--component", help="notify component (default: every one).")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--url", help="NATS URL of the runtime (default: the local one).")
@click.pass_context
def notify_log(
    ctx: click.Context, route: str | None, component: str | None, limit: int, url: str | None
) -> None:
    """Recent deliveries (delivered, retrying, failed, dropped) and what is still pending."""
    from kit_notify.api import LOG

    body = {"route": route, "component": component, "limit": limit}
    reply = run(control_call(settings_from(ctx), LOG, body, url=url))
    for e in reply.entries:
        detail = f"  {e.detail}" if e.detail else ""
        click.echo(
            f"{e.ts}  {e.component}/{e.route}  {e.result:<9}  {e.event}  {e.asset}  "
            f"attempt {e.attempts}  {e.key}{detail}"
        )
    for r, n in sorted(reply.pending.items()):
        click.echo(f"pending {r}: {n}")


@notify.command("test")
@click.argument("route")
@click.option("--component", help="notify component holding ROUTE (default: the first).")
@click.option("--url", help="NATS URL of the runtime (default: the local one).")
@click.pass_context
def notify_test(ctx: click.Context, route: str, component: str | None, url: str | None) -> None:
    """Send a test message on ROUTE now and say whether it arrived."""
    from kit_notify.api import TEST

    body = {"route": route, "component": component}
    reply = run(control_call(settings_from(ctx), TEST, body, url=url, timeout=40.0))
    click.echo(f"{reply.route}: {reply.result}{': ' + reply.detail if reply.detail else ''}")
    if reply.result != "delivered":
        raise click.exceptions.Exit(1)

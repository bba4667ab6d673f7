"""``kit fleet rollout …``: offer a signed bundle to chosen sites of a hub, and its status.

Registered under ``kit fleet`` (:mod:`kit.cli.hub_cmds`); the work is in
:mod:`kit.hub.rollout` (hub side) and :mod:`kit.hub.agent` (site side).
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import click

from kit.cli.common import option_group, run
from kit.errors import ConfigError

#: ``--url``, ``--dir`` and ``--tls-ca``: how a fleet command reaches the hub.
hub_options = option_group(
    click.option("--url", help="Hub client URL (may carry user:password) [from --dir]."),
    click.option(
        "--dir",
        "hub_dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Hub directory: its URL and admin credentials.",
    ),
    click.option(
        "--tls-ca",
        type=click.Path(dir_okay=False, path_type=Path),
        help="CA of the hub's certificate.",
    ),
)


def hub_target(
    url: str | None, hub_dir: Path | None, tls_ca: Path | None
) -> tuple[str, dict[str, Any]]:
    """The hub's URL(s) and nats-py options from the fleet command options."""
    from kit.hub.config import HubState, admin_options

    opts: dict[str, Any] = {}
    if hub_dir is not None:
        state = HubState.load(hub_dir)
        url = url or ",".join(state.client_urls())
        opts = admin_options(state)
        if url and "@" in url:  # a URL with its own user wins over hub.json's admin
            opts.pop("user", None)
            opts.pop("password", None)
    if tls_ca:
        opts["tls"] = ssl.create_default_context(cafile=str(tls_ca))
    if not url:
        raise ConfigError("give --url of the hub or --dir of a hub directory")
    return url, opts


def hub_unreachable(url: str, reason: BaseException | None, auth_required: bool) -> str:
    """Why the hub could not be reached, in words (for :func:`kit.busconnect.connect_bounded`)."""
    from kit.busconnect import redact_url

    if reason is None or isinstance(reason, TimeoutError):
        what = "no answer (timed out)"
    else:
        what = str(reason).strip() or type(reason).__name__
    return f"cannot reach the hub at {redact_url(url)}: {what}"


@asynccontextmanager
async def hub_connection(url: str, opts: dict[str, Any]) -> AsyncIterator[Any]:
    """An admin connection to the hub whose replies may come back over sites' leaf links."""
    from kit.busconnect import connect_bounded
    from kit.hub.status import REPLY_PREFIX

    nc = await connect_bounded(
        [u.strip() for u in url.split(",")],
        url=url,
        inbox_prefix=REPLY_PREFIX,
        connect_timeout=5,
        describe=hub_unreachable,
        **opts,
    )
    try:
        yield nc
    finally:
        await nc.close()


class _BundleFirst(click.Group):
    """``kit fleet rollout BUNDLE …`` starts a rollout; ``kit fleet rollout status`` shows one."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["start", *args]
        return super().parse_args(ctx, args)


@click.group("rollout", cls=_BundleFirst)
def rollout() -> None:
    """Offer a signed bundle to chosen sites (`kit fleet rollout BUNDLE --sites a,b`), or
    show a rollout's per-site status (`kit fleet rollout status`)."""


@rollout.command("start")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sites", required=True, help="Sites to offer it to, comma-separated.")
@click.option(
    "--values-dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory of per-site values files SITE.yaml ({deployment: {parameter: value}}).",
)
@hub_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def rollout_start(
    bundle: Path,
    sites: str,
    values_dir: Path | None,
    url: str | None,
    hub_dir: Path | None,
    tls_ca: Path | None,
    as_json: bool,
) -> None:
    """Publish BUNDLE on the hub and offer it to --sites; each site verifies, installs, reports."""
    from kit.hub.config import check_site_id
    from kit.hub.rollout import start_rollout

    chosen = [check_site_id(s.strip()) for s in sites.split(",") if s.strip()]
    if not chosen:
        raise ConfigError("--sites: name at least one site")
    target, opts = hub_target(url, hub_dir, tls_ca)

    async def _go() -> Any:
        async with hub_connection(target, opts) as nc:
            return await start_rollout(nc, bundle.read_bytes(), chosen, values_dir, bundle.name)

    rid, answers = run(_go())
    if as_json:
        click.echo(json.dumps({"rollout": rid, "sites": [a.__dict__ for a in answers]}, indent=2))
        return
    click.echo(f"rollout {rid}: {bundle.name} offered to {len(chosen)} site(s)")
    for a in answers:
        click.echo(f"  {a.site:<16} {a.state:<14} {a.reason}")
    click.echo(f"follow it with `kit fleet rollout status {rid}`")


@rollout.command("status")
@click.argument("rollout_id", required=False)
@hub_options
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def rollout_status_cmd(
    rollout_id: str | None,
    url: str | None,
    hub_dir: Path | None,
    tls_ca: Path | None,
    as_json: bool,
) -> None:
    """Per site: offered, installed, rolled_back or refused (with the reason) [newest rollout].

    Exit code 1 while any site is not installed (for scripts)."""
    from kit.hub.rollout import counts, rollout_status

    target, opts = hub_target(url, hub_dir, tls_ca)

    async def _go() -> Any:
        async with hub_connection(target, opts) as nc:
            return await rollout_status(nc, rollout_id)

    st = run(_go())
    rows = st["sites"]
    if as_json:
        click.echo(json.dumps({**st, "sites": [r.__dict__ for r in rows]}, indent=2))
    else:
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts(rows).items()))
        click.echo(
            f"rollout {st['rollout']}: {st['name']} (sha256 {st['sha256'][:12]}…): {summary}"
        )
        for r in rows:
            click.echo(f"  {r.site:<16} {r.state:<14} {r.reason}")
    if any(r.state != "installed" for r in rows):
        raise SystemExit(1)


def register(fleet: click.Group) -> None:
    """Add ``rollout`` to ``kit fleet``."""
    fleet.add_command(rollout)

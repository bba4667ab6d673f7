"""``kit bundle export|show|diff|install`` — lighthouse bundles through the control API."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from kit.api import deployments as dep_api
from kit.cli.common import control_call, run, settings_from
from kit.errors import ConfigError, KitError
from kit.recipes import bundle as bundles


def _call(
    ctx: click.Context, endpoint: Any, body: Any, url: str | None, timeout: float = 60.0
) -> Any:
    return run(control_call(settings_from(ctx), endpoint, body, url=url, timeout=timeout))


def _inspect(ctx: click.Context, file: str, url: str | None) -> dep_api.InspectReply:
    data = Path(file).read_bytes()
    body = dep_api.InspectRequest(bundle=bundles.encode(data), name=file)
    reply: dep_api.InspectReply = _call(ctx, dep_api.INSPECT, body, url)
    return reply


def _show(info: dep_api.InspectReply) -> None:
    m = info.manifest
    click.echo(
        f"bundle from site {m['site']} (kit {m['kit_version']}, {m['created']}), signature: {info.signature}"
    )
    for d in info.deployments:
        blank = {b["name"] for b in d["blanked"]}
        vals = ", ".join(
            f"{k}={'<site-specific>' if k in blank else v}" for k, v in d["params"].items()
        )
        click.echo(f"  deployment {d['id']}: {d['recipe']} {d['version']}  {vals}")
    for p in info.plugins:
        click.echo(
            f"  plugin     {p['distribution']} {p['version']} ({', '.join(p['types'])}): {p['state']}"
        )
    for p in info.profiles:
        click.echo(f"  profile    {p['id']}: {p['state']}")


@click.group("bundle")
def bundle_group() -> None:
    """Export deployments to one file, and install such a file at another site."""


@bundle_group.command("export")
@click.argument("deployments", nargs=-1, required=True)
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="Bundle file to write."
)
@click.option("--url", help="NATS URL of the runtime's bus.")
@click.option(
    "--evidence",
    "evidence",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Attach a pilot's evidence pack (`kit pilot pack`); only evidence that meets its goal.",
)
@click.pass_context
def bundle_export(
    ctx: click.Context,
    deployments: tuple[str, ...],
    output: str,
    url: str | None,
    evidence: tuple[str, ...] = (),
) -> None:
    """Write DEPLOYMENTS (recipes, profiles, values, plugin versions, reports) to one file."""
    res = _call(ctx, dep_api.EXPORT, dep_api.ExportRequest(deployments=list(deployments)), url)
    data = bundles.decode(res.bundle)
    if evidence:
        from kit.recipes.bundle_evidence import attach_all

        data = attach_all(data, [Path(e) for e in evidence], settings_from(ctx).data_dir)
    Path(output).write_bytes(data)
    click.echo(
        f"wrote {output} ({len(data)} bytes, {len(deployments)} deployment(s)); "
        "site-specific values are blanked"
    )


@bundle_group.command("show")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--url", help="NATS URL of the runtime's bus.")
@click.pass_context
def bundle_show(ctx: click.Context, file: str, url: str | None) -> None:
    """Show what a bundle contains and what this site lacks."""
    info = _inspect(ctx, file, url)
    _show(info)
    for m in info.missing:
        click.echo(f"  MISSING    {m}")
    from kit.recipes.bundle_evidence import evidence_lines

    for line in evidence_lines(Path(file).read_bytes(), settings_from(ctx).data_dir):
        click.echo(line)


@bundle_group.command("diff")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--url", help="NATS URL of the runtime's bus.")
@click.pass_context
def bundle_diff(ctx: click.Context, file: str, url: str | None) -> None:
    """Compare a bundle with what this site runs (exit code 1 if anything differs).

    Compares recipes, plugin versions and the values that are not site-specific: the same
    bundle installed at another site with its own hosts, ports and names is "same"."""
    info = _inspect(ctx, file, url)
    differs = False
    for d in info.diff:
        click.echo(f"{d['deployment']}: {d['state']}")
        for c in d.get("changes", []):
            click.echo(f"  {c}")
        differs |= d["state"] != "same"
    for p in info.plugins:
        # Versions are compared; files of the same version differ between installs (an
        # editable install, a rebuilt wheel) and say nothing about what the site runs.
        if p["state"] == "missing" or p["state"].startswith("version"):
            differs = True
            click.echo(f"plugin {p['distribution']}: bundle has {p['version']}, here: {p['state']}")
    for m in info.missing:
        click.echo(f"missing here: {m}")
    sys.exit(1 if differs or info.missing else 0)


@bundle_group.command("sign")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--key",
    "key_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Private key (.key) from `kit keys new`.",
)
@click.option("--signer", default="", help="Who signs (shown to the receiving site).")
def bundle_sign(file: str, key_file: str, signer: str) -> None:
    """Sign FILE in place (Ed25519 over its manifest, which lists every file's SHA-256).

    The receiving site checks the signature against its trust store (`kit keys trust`)
    and refuses a bundle whose signature does not verify.
    """
    from kit.trust.signing import key_id, load_private_key

    key = load_private_key(key_file)
    Path(file).write_bytes(bundles.sign_bundle(Path(file).read_bytes(), key, signer))
    click.echo(f"{file}: signed with key {key_id(key.public_key())}")


@bundle_group.command("install")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="DEPLOYMENT.KEY=VALUE",
    help="A blanked value (repeatable); missing ones are asked for.",
)
@click.option(
    "--values",
    "values_file",
    type=click.Path(exists=True, dir_okay=False),
    help="YAML file of this site's values: {deployment: {parameter: value}} (--set wins).",
)
@click.option(
    "--yes",
    is_flag=True,
    help="Do not ask (blanked values without a recipe default must be given).",
)
@click.option(
    "--check-duration", type=click.FloatRange(min=0.1), help="Seconds of live data for the checks."
)
@click.option("--url", help="NATS URL of the runtime's bus.")
@click.pass_context
def bundle_install(
    ctx: click.Context,
    file: str,
    sets: tuple[str, ...],
    values_file: str | None,
    yes: bool,
    check_duration: float | None,
    url: str | None,
) -> None:
    """Install a bundle: shows its contents, asks only for the blanked values."""
    info = _inspect(ctx, file, url)
    _show(info)
    if info.missing:
        raise KitError(
            "this site lacks what the bundle needs; nothing was installed:\n"
            + "\n".join(f"  {m}" for m in info.missing)
        )
    values: dict[str, dict[str, Any]] = {}
    if values_file:
        from kit.recipes.bundle_site import load_values

        values = load_values(values_file)
    for pair in sets:
        key, _, value = pair.partition("=")
        dep, _, name = key.partition(".")
        if not _ or not name:
            raise ConfigError(f"--set {pair!r}: write DEPLOYMENT.KEY=VALUE")
        values.setdefault(dep, {})[name] = value
    interactive = not yes and sys.stdin.isatty()
    for d in info.deployments:
        for b in d["blanked"]:
            if b["name"] in values.get(d["id"], {}):
                continue
            default = b.get("default")
            if not interactive:
                if default is not None:
                    continue  # the recipe's default, never the exporting site's value
                raise ConfigError(
                    f"{d['id']}: value for {b['name']} ({b['prompt']}) is site-specific; "
                    f"give it with --set {d['id']}.{b['name']}=… or --values FILE"
                )
            values.setdefault(d["id"], {})[b["name"]] = click.prompt(
                f"{d['id']}: {b['prompt']}", default=default, hide_input=b["type"] == "secret"
            )
    if interactive and not click.confirm("Install?", default=True):
        raise KitError("cancelled; nothing was installed")
    data = Path(file).read_bytes()
    request = dep_api.BundleInstallRequest(
        bundle=bundles.encode(data),
        name=file,
        values=values,
        wait_report=True,
        check_duration_s=check_duration,
    )
    timeout = (check_duration or 3600) * max(1, len(info.deployments)) + 60
    res = run(_install_with_progress(settings_from(ctx), request, url, timeout))
    for r in res.installed:
        state = "installed" if r.changed else "already installed"
        rep = r.report
        click.echo(
            f"{r.deployment}: {state}" + (f", checks {(rep.result or '?').upper()}" if rep else "")
        )


async def _install_with_progress(
    settings: Any, request: dep_api.BundleInstallRequest, url: str | None, timeout: float
) -> dep_api.BundleInstallReply:
    """Install through the control API, printing the runtime's progress lines as they come
    (per deployment, per check): a long install is never silent."""
    from kit.cli.common import connected
    from kit.control import ControlClient

    async with connected(settings, url) as bus:
        inbox = bus.nc.new_inbox()

        async def show(msg: Any) -> None:
            click.echo(f"  {msg.data.decode(errors='replace')}")

        sub = await bus.nc.subscribe(inbox, cb=show)
        await bus.nc.flush()
        request.progress = inbox
        try:
            reply: dep_api.BundleInstallReply = await ControlClient(bus, timeout).call(
                dep_api.INSTALL, request
            )
            await bus.nc.flush()  # progress sent before the reply is shown first
        finally:
            await sub.unsubscribe()
        return reply

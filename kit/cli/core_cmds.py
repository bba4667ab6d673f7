"""``kit up``, ``kit status``, ``kit plugins``, ``kit version``."""

from __future__ import annotations

import json
from typing import Any

import click

from kit import API_VERSION, __version__
from kit.cli.common import control_call, host_from, run, settings_from


@click.command()
@click.pass_context
def up(ctx: click.Context) -> None:
    """Run the runtime in the foreground until Ctrl-C (or SIGTERM)."""
    from kit.lean import limit_malloc_arenas

    limit_malloc_arenas()  # before any thread: docs/sizing.md
    from kit.runtime import Runtime

    settings = settings_from(ctx)
    runtime = Runtime(settings)

    def _started() -> None:
        click.echo(
            f"kit runtime up — site {settings.site}, bus {runtime.url}, "
            f"{len(runtime.supervisor.instances)} component(s). Ctrl-C to stop."
        )

    run(runtime.run_forever(on_started=_started))
    click.echo("stopped")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--url", help="NATS URL of the runtime's bus (default: the local runtime).")
@click.pass_context
def status(ctx: click.Context, as_json: bool, url: str | None) -> None:
    """Show the running runtime: bus, components and their health."""
    from kit.api import core

    st = run(control_call(settings_from(ctx), core.STATUS, url=url))
    if as_json:
        click.echo(json.dumps(st.model_dump(mode="json", by_alias=True), indent=2))
        return
    bus = st.bus
    click.echo(f"runtime  {st.version}  site {st.site}  pid {st.pid}  since {st.started}")
    click.echo(
        f"bus      {bus.url} ({'embedded' if bus.embedded else 'external'}, "
        f"{'connected' if bus.connected else 'DISCONNECTED'}, server {bus.server})"
        + (f", MQTT on port {bus.mqtt_port}" if bus.mqtt_port else "")
    )
    prev = st.previous_run_unclean
    if prev:
        click.echo(
            f"previous runtime (pid {prev.get('pid')}) ended without stopping (killed or crashed)"
        )
    if bus.server_restarts:
        click.echo(f"bus server restarted {bus.server_restarts}× — last: {bus.server_last_exit}")
    if bus.storage_error:
        click.echo(
            f"STORAGE ERROR: {bus.storage_error} — free disk space in the data directory; "
            f"the server's log is {bus.server_log}"
        )
    if bus.malformed:
        click.echo(f"malformed messages skipped: {sum(bus.malformed.values())}")
    comps = st.components
    click.echo(f"components ({len(comps)}):")
    for c in comps:
        extra = f"  last error: {c.last_error}" if c.last_error and c.status != "running" else ""
        click.echo(f"  {c.name:<24} {c.type:<12} {c.status:<9} restarts {c.restarts}{extra}")
        line = plausibility_line(c.model_dump())
        if line:
            click.echo(f"  {'':<24} {line}")
    for b in st.broken_plugins:
        click.echo(f"broken plugin skipped: {b.name} ({b.distribution}): {b.error}")
    from kit.retention import status_lines

    for line in status_lines(st.storage):
        click.echo(line)


def plausibility_line(component: dict[str, Any]) -> str | None:
    """``plausibility: 3 violation(s) in 12 check(s); violated now: …`` for a component whose
    metrics count relation violations (kit/relations.py), else None."""
    plaus = (component.get("metrics") or {}).get("plausibility") or {}
    if not plaus.get("violations"):
        return None
    now = ", ".join(plaus.get("violated_now") or []) or "none"
    return (
        f"plausibility: {plaus['violations']} violation(s) in {plaus['evaluations']} check(s); "
        f"violated now: {now}"
    )


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List installed plugins (name, distribution, version, hooks, component types)."""
    host = host_from(ctx)
    infos = host.info()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "plugins": [i.__dict__ for i in infos],
                    "broken": [b.__dict__ for b in host.broken],
                },
                indent=2,
            )
        )
        return
    for i in infos:
        comps = f"  components: {', '.join(i.components)}" if i.components else ""
        click.echo(f"{i.name:<18} {i.distribution} {i.version}  hooks: {', '.join(i.hooks)}{comps}")
    for b in host.broken:
        click.echo(f"{b.name:<18} BROKEN ({b.distribution}): {b.error}")


@click.command()
def version() -> None:
    """Print the kit version and its plugin API version."""
    click.echo(f"kit {__version__} (plugin API {API_VERSION})")


def register(cli: click.Group) -> None:
    """Add these commands to the top-level group."""
    for cmd in (up, status, plugins, version):
        cli.add_command(cmd)

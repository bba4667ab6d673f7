"""``kit scan``: find the devices on a network, then what to start with and how ready the
site is.

``kit scan TARGETS`` (the same as ``kit scan run TARGETS``) sweeps the network: the sweep is
protocol-neutral (:mod:`kit.scan.sweep`); each installed adapter component class with a
``scan_endpoint`` classmethod scans the ports of its protocol (``scan_ports`` are its
defaults). The result is printed (table or ``--json``) and saved as the site's inventory
(``<data dir>/inventory.json``) unless ``--no-save``. Exit codes: 0 the scan finished; 130
stopped by Ctrl-C (what was found so far is saved, ``complete: false``); 2 bad arguments.

The other subcommands read that inventory and the site's answers and only print or write
files (the logic is in :mod:`kit.scan.opportunities`, :mod:`kit.scan.questionnaire`,
:mod:`kit.scan.readiness` and :mod:`kit.scan.report`): ``opportunities``, ``questions``,
``readiness``, ``report``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

import click

from kit.api.scan import DEFAULT_PORTS, DEFAULT_UNITS, StartRequest
from kit.scan.service import limits_text, new_inventory, scan_options, scanners

#: The pacing options: flag, the field of the scan endpoint's request that gives the range and
#: the default (so `kit scan` and the TUI's scan take the same limits), help.
_PACING = (
    (
        "--concurrency",
        "concurrency",
        "Hosts worked on at once (one connection, one request in flight per device).",
    ),
    ("--rate", "rate", "Requests per second for the whole scan."),
    ("--host-rate", "host_rate", "Requests per second to any one host."),
    ("--timeout", "timeout_s", "Seconds to wait for a connect or an answer."),
)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class _Display:
    """Progress on stderr: one line rewritten on a terminal, a line every few seconds
    otherwise; each device found gets its own line."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._last = 0.0

    def line(self, p: Any) -> str:
        return (
            f"hosts {p.hosts_done}/{p.hosts_total}, open ports {p.open_ports}, "
            f"devices {p.devices} ({p.identified} identified), requests {p.requests}"
        )

    def event(self, kind: str, payload: Any, p: Any) -> None:
        if self.quiet:
            return
        if kind == "endpoint":
            for d in payload.devices:
                what = (
                    f"{d.profile} (confidence {d.confidence:.2f})"
                    if d.status == "identified"
                    else d.status
                )
                unit = f" unit {d.unit_id}" if d.unit_id is not None else ""
                self._clear()
                click.echo(f"found {payload.host}:{payload.port}{unit}: {what}", err=True)
        now = time.monotonic()
        if self.tty:
            click.echo("\r" + self.line(p) + "\x1b[K", err=True, nl=False)
        elif now - self._last >= 5.0 or kind == "endpoint":
            click.echo(self.line(p), err=True)
        self._last = now

    def _clear(self) -> None:
        if self.tty:
            click.echo("\r\x1b[K", err=True, nl=False)

    def done(self, p: Any) -> None:
        if not self.quiet:
            self._clear()
            click.echo(self.line(p), err=True)


def table(inv: Any) -> str:
    """The inventory as a text table (one row per device; open ports without one too)."""
    from kit.scan.tables import DEVICE_HEADER, device_rows, text_table

    return text_table([DEVICE_HEADER, *device_rows(inv)])


class _ScanGroup(click.Group):
    """``kit scan TARGETS …`` runs ``kit scan run TARGETS …``: anything that is not a
    subcommand's name goes to ``run`` (targets are addresses, never these words)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _pacing_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """Add the ``_PACING`` options to a command, in that order, each with the range (``ge``,
    ``le``) and default of its :class:`kit.api.scan.StartRequest` field."""
    for flag, name, help_ in reversed(_PACING):
        info = StartRequest.model_fields[name]
        bounds = {
            k: getattr(m, k)
            for m in info.metadata
            for k in ("ge", "le")
            if getattr(m, k, None) is not None
        }
        kind = click.IntRange if info.annotation is int else click.FloatRange
        f = click.option(
            flag,
            name,
            type=kind(bounds["ge"], bounds["le"]),
            default=info.default,
            show_default=True,
            help=help_,
        )(f)
    return f


@click.group("scan", cls=_ScanGroup, no_args_is_help=True)
def scan() -> None:
    """Find devices on the network (`kit scan TARGETS`), then what to start with.

    `kit scan TARGETS` is `kit scan run TARGETS`. Then: `kit scan questions` (site figures
    and readiness answers), `kit scan opportunities`, `kit scan readiness` and
    `kit scan report` (Markdown, HTML, JSON) read the saved inventory.
    """


@scan.command("run")
@click.argument("targets", nargs=-1, required=True)
@click.option(
    "--ports",
    default=DEFAULT_PORTS,
    show_default=True,
    help="Ports to check; a port that is not a protocol's default names it: 5020/modbus.",
)
@click.option(
    "--units",
    default=DEFAULT_UNITS,
    show_default=True,
    help="Modbus unit ids tried behind each port (gateways); e.g. 1-247.",
)
@_pacing_options
@click.option("--json", "as_json", is_flag=True, help="Print the inventory as JSON.")
@click.option("--no-save", is_flag=True, help="Do not write <data dir>/inventory.json.")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
@click.pass_context
def run(
    ctx: click.Context,
    targets: tuple[str, ...],
    ports: str,
    units: str,
    concurrency: int,
    rate: float,
    host_rate: float,
    timeout_s: float,
    as_json: bool,
    no_save: bool,
    quiet: bool,
) -> None:
    """Find devices on TARGETS (networks, addresses, ranges) and match them to profiles.

    Reads only; paced (--rate, --host-rate); one request in flight per device. Ctrl-C stops
    and keeps what was found (exit code 130). The result is saved as the site's inventory,
    which `kit install RECIPE --device N` uses.
    """
    from kit.cli.common import host_from, library_from, settings_from
    from kit.scan.inventory import inventory_path, save_inventory
    from kit.scan.sweep import run_scan

    host = host_from(ctx)
    found = scanners(host)
    opts = scan_options(
        found,
        list(targets),
        ports,
        units,
        concurrency=concurrency,
        rate=rate,
        host_rate=host_rate,
        timeout_s=timeout_s,
    )
    lib = library_from(ctx).profiles()
    profiles = {proto: lib.by_protocol(proto) for proto in found}
    inv = new_inventory(opts, list(targets))
    display = _Display(quiet)
    if not quiet:
        click.echo(
            f"scanning {limits_text(opts)} (Ctrl-C stops and keeps what was found)", err=True
        )
    interrupted = False

    async def _main() -> None:
        nonlocal interrupted
        task = asyncio.ensure_future(run_scan(opts, found, profiles, inv, display.event))

        def _stop() -> None:
            nonlocal interrupted
            interrupted = True
            task.cancel()

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, _stop)
            except (NotImplementedError, RuntimeError):  # no signal handlers on this platform
                pass
        try:
            await task
        except asyncio.CancelledError:
            if not interrupted:
                raise

    asyncio.run(_main())
    inv.finished_at = _now()
    path = None
    if not no_save:
        path = inventory_path(settings_from(ctx).data_dir)
        save_inventory(inv, path)
    display.done(_Progress(inv))
    if as_json:
        click.echo(inv.model_dump_json(indent=2))
    else:
        click.echo(table(inv))
        devs = inv.devices()
        click.echo(
            f"\n{inv.hosts_done} of {inv.hosts_total} hosts scanned in {inv.seconds:.1f} s, "
            f"{inv.open_ports} open port(s), {len(devs)} device(s), "
            f"{sum(d.status == 'identified' for _, d in devs)} identified, "
            f"{inv.requests} requests" + ("" if no_save else f"; inventory saved to {path}")
        )
    if interrupted:
        click.echo("scan stopped (Ctrl-C): the inventory holds what was found so far", err=True)
        sys.exit(130)


class _Progress:
    def __init__(self, inv: Any) -> None:
        self.hosts_done, self.hosts_total = inv.hosts_done, inv.hosts_total
        self.open_ports, self.requests = inv.open_ports, inv.requests
        devs = inv.devices()
        self.devices = len(devs)
        self.identified = sum(d.status == "identified" for _, d in devs)


def register(cli: click.Group) -> None:
    """Add the ``scan`` command group."""
    from kit.cli import scan_site_cmds

    scan_site_cmds.register(scan)
    cli.add_command(scan)

"""``kit profiles``, ``kit profile show ID``, ``kit profile validate FILE…``.

Profiles are validated with the model of the adapter that speaks their protocol (found
through the plugin host), so these commands work for any installed protocol. They read the
site library (:mod:`kit.library`): the site's own profiles under ``<data dir>/profiles``
first, then the shipped and plugin ones. ``kit profile add`` lives in
:mod:`kit.cli.library_cmds`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from kit.errors import ConfigError


def _library(ctx: click.Context) -> Any:
    from kit.cli.common import library_from

    return library_from(ctx).profiles()


def _summary(prof: Any, path: Any, origin: str = "plugin", shadows: Any = ()) -> dict[str, Any]:
    points = getattr(prof, "points", [])
    return {
        "id": prof.id,
        "vendor": prof.vendor,
        "model": prof.model,
        "protocol": prof.protocol,
        "category": prof.category,
        "verified": prof.verified,
        "points": len(points),
        "unverified_points": sum(1 for p in points if getattr(p, "unverified", False)),
        "parameters": sorted(getattr(prof, "parameters", {}) or {}),
        "file": str(path),
        "source": prof.source.title,
        "origin": origin,
        "shadows": [str(p) for p in shadows],
    }


@click.command("profiles")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def profiles_cmd(ctx: click.Context, as_json: bool) -> None:
    """List the hardware profiles: the site's own, shipped and from plugins (FROM column;
    a site file that shadows a shipped or plugin id is flagged; invalid files are reported)."""
    lib = _library(ctx)
    rows = [
        _summary(p, lib.files[pid], lib.origins[pid], lib.shadowed.get(pid, ()))
        for pid, p in sorted(lib.profiles.items())
    ]
    if as_json:
        click.echo(json.dumps({"profiles": rows, "problems": lib.problems}, indent=2))
        return
    click.echo(
        f"{'ID':<26} {'FROM':<8} {'CATEGORY':<13} {'PROTO':<7} {'PTS':>4}  {'STATUS':<11} "
        "VENDOR / MODEL"
    )
    for r in rows:
        status = "verified" if r["verified"] else "unverified"
        params = f"  [parameters: {', '.join(r['parameters'])}]" if r["parameters"] else ""
        click.echo(
            f"{r['id']:<26} {r['origin']:<8} {r['category']:<13} {r['protocol']:<7} "
            f"{r['points']:>4}  {status:<11} {r['vendor']} {r['model']}{params}"
        )
        for hidden in r["shadows"]:
            click.echo(f"  ! site file {r['file']} shadows {hidden}")
    for prob in lib.problems:
        click.echo(f"invalid profile skipped: {prob}", err=True)


@click.group("profile")
def profile_group() -> None:
    """Inspect and validate hardware profiles."""


def _parse_params(items: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--param")
        out[key.strip()] = value.strip()
    return out


@profile_group.command("show")
@click.argument("profile_id")
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Value for a parameterised profile (repeatable), e.g. start_address=40011.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable output (normalised points)."
)
@click.pass_context
def show_cmd(ctx: click.Context, profile_id: str, params: tuple[str, ...], as_json: bool) -> None:
    """Show one profile: source, connection defaults and every point with its wire address."""
    lib = _library(ctx)
    prof = lib.get(profile_id)
    if params or getattr(prof, "parameters", None):
        resolve = getattr(prof, "resolve", None)
        if resolve is not None:
            prof = resolve(_parse_params(params))
    if as_json:
        data = prof.model_dump(mode="json", exclude={"points"})
        data["points"] = [
            p.normalised() if hasattr(p, "normalised") else p.model_dump(mode="json")
            for p in prof.points
        ]
        data["file"] = str(lib.files[profile_id])
        data["origin"] = lib.origins[profile_id]
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    _print_profile(prof, lib.files[profile_id], lib.origins[profile_id])


def _print_profile(prof: Any, path: Any, origin: str = "plugin") -> None:
    click.echo(f"{prof.id}: {prof.vendor} {prof.model}  ({prof.category}, {prof.protocol})")
    click.echo(f"file:     {path}  ({origin})")
    src = prof.source
    click.echo(f"source:   {src.title}" + (f" — {src.section}" if src.section else ""))
    click.echo(
        "status:   "
        + (
            "verified on a real device"
            if prof.verified
            else "NOT verified on a real device (check values with `kit probe`)"
        )
    )
    if prof.description:
        click.echo(f"about:    {prof.description.strip()}")
    conn = getattr(prof, "connection", None)
    if conn is not None:
        line = (
            f"{conn.transport}, port {conn.port}, unit id {conn.unit_id}, byte order {conn.byte_order}, "
            f"addresses as {conn.addressing}, max {conn.max_registers_per_read} registers/read"
        )
        if conn.serial is not None:
            s = conn.serial
            line += f"; serial {s.baudrate} {s.bytesize}{s.parity}{s.stopbits}" + (
                " (UNVERIFIED)" if s.unverified else ""
            )
        click.echo(f"connect:  {line}")
        if conn.serial is not None and conn.serial.note:
            click.echo(f"          {conn.serial.note}")
    for name, spec in (getattr(prof, "parameters", None) or {}).items():
        value = prof.resolved_params.get(name)
        click.echo(f"param:    {name} = {value}  ({spec.prompt}; {spec.min}…{spec.max})")
    render = getattr(prof, "render_points", None)
    if render is not None:  # other protocols (OPC UA) describe their own points
        for line in render():
            click.echo(line)
        return
    points = prof.points
    click.echo(f"points ({len(points)}):")
    click.echo(
        f"  {'SEMANTIC':<36} {'TABLE':<8} {'PDU':>6} {'N':>2} {'TYPE':<8} {'ORDER':<5} {'SCALE':>8} "
        f"{'UNIT':<6} {'RANGE':<22} POLL"
    )
    for p in points:
        rng = f"{_num(p.range[0])}…{_num(p.range[1])}" if p.range else "-"
        typ = f"{p.type}.{p.bit}" if p.type == "bit" else p.type
        flag = "  UNVERIFIED" if p.unverified else ""
        rw = " rw" if p.access == "rw" else ""
        click.echo(
            f"  {p.semantic:<36} {p.table:<8} {p.pdu_address:>6} {p.count:>2} {typ:<8} "
            f"{p.byte_order or '-':<5} {p.scale:>8g} {p.unit or '-':<6} {rng:<22} {p.poll}{rw}{flag}"
        )


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


@profile_group.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate_cmd(files: tuple[str, ...]) -> None:
    """Check profile files; print every problem as file:line: field: message (exit code 2)."""
    from kit.plugins import get_plugin_manager
    from kit.profiles import load_profile

    host = get_plugin_manager()
    failed = 0
    for f in files:
        try:
            prof = load_profile(f, host)
        except ConfigError as exc:
            failed += 1
            for prob in exc.problems or [str(exc)]:
                click.echo(prob)
            continue
        n = len(getattr(prof, "points", []))
        click.echo(f"{f}: ok — {prof.id} ({prof.protocol}, {n} points)")
    if failed:
        click.echo(f"{failed} of {len(files)} file(s) have problems", err=True)
        sys.exit(2)


def register(cli: click.Group) -> None:
    """Add these commands to the top-level group."""
    cli.add_command(profiles_cmd)
    cli.add_command(profile_group)

"""``kit bus tail``: watch any subject of the bus, decoded and readable."""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING

import click

from kit.cli.common import connected, run, settings_from
from kit.display import format_computed, format_value

if TYPE_CHECKING:
    from nats.aio.msg import Msg


def format_message(subject: str, data: bytes) -> str:
    """One readable line for a bus message (falls back to raw text for unknown payloads)."""
    try:
        obj = json.loads(data)
    except ValueError:
        return f"{subject}: <{len(data)} bytes, not JSON>"
    schema = obj.get("schema", "") if isinstance(obj, dict) else ""
    if schema.startswith("kit.samples/"):
        pts = ", ".join(
            f"{p['name']}={format_value(p.get('value'), unit=p.get('unit'))}"
            + ("" if p.get("quality", "good") == "good" else f" [{p['quality']}:{p.get('reason')}]")
            for p in obj.get("points", [])[:12]
        )
        more = len(obj.get("points", [])) - 12
        return (
            f"{obj.get('asset')} #{obj.get('seq')}: {pts}{f' (+{more} more)' if more > 0 else ''}"
        )
    if schema.startswith("kit.kpi/"):
        value = format_computed(obj.get("value"), unit=obj.get("unit"))
        return f"{obj.get('asset')} {obj.get('kpi')} = {value} ({obj.get('window') or ''})"
    if schema.startswith("kit.health/"):
        return f"health {obj.get('component')}: {obj.get('status')} {obj.get('detail') or ''}"
    if schema.startswith("kit.event/"):
        return f"event {obj.get('kind')}/{obj.get('type')} {obj.get('asset')} [{obj.get('severity')}] {obj.get('message')}"
    return f"{subject}: {data.decode(errors='replace')[:200]}"


@click.group()
def bus() -> None:
    """Look at the bus."""


@bus.command()
@click.argument("subject", default="kit.>")
@click.option(
    "--json", "as_json", is_flag=True, help="Print each message as one JSON line {subject, data}."
)
@click.option("--count", type=click.IntRange(min=1), help="Exit after this many messages.")
@click.option("--url", help="NATS URL (default: the local runtime's bus).")
@click.pass_context
def tail(
    ctx: click.Context, subject: str, as_json: bool, count: int | None, url: str | None
) -> None:
    """Print messages on SUBJECT as they arrive (wildcards allowed, e.g. 'kit.data.>')."""
    settings = settings_from(ctx)

    async def _tail() -> None:
        async with connected(settings, url) as b:
            done = asyncio.Event()
            seen = 0

            async def on_msg(msg: Msg) -> None:
                nonlocal seen
                if done.is_set():
                    return
                seen += 1
                if as_json:
                    try:
                        data = json.loads(msg.data)
                    except ValueError:
                        data = msg.data.decode(errors="replace")
                    click.echo(json.dumps({"subject": msg.subject, "data": data}))
                else:
                    click.echo(format_message(msg.subject, msg.data))
                if count is not None and seen >= count:
                    done.set()

            await b.nc.subscribe(subject, cb=on_msg)
            await done.wait()

    run(_tail())


def register(cli: click.Group) -> None:
    """Add the ``bus`` group."""
    cli.add_command(bus)

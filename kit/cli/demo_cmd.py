"""``kit demo``: an embedded bus, simulated machines, live values — nothing to configure."""

from __future__ import annotations

import asyncio
import json

import click

from kit.cli.common import run, settings_from
from kit.settings import ComponentSpec


def demo_components(site: str) -> list[ComponentSpec]:
    """The demo's component instances (synthetic machines until device simulators exist)."""
    return [
        ComponentSpec(name="press-1", type="synthetic", asset=f"{site}/assembly/line1/press1",
                      config={"interval_s": 1.0, "seed": 1, "speedup": 30, "fault_onset_s": 300}),
        ComponentSpec(name="cnc-2", type="synthetic", asset=f"{site}/machining/line2/cnc2",
                      config={"interval_s": 1.0, "seed": 2, "speedup": 30, "ideal_cycle_s": 20}),
    ]


@click.command()
@click.option("--headless", is_flag=True, help="Print live values instead of opening the terminal UI.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True), help="Stop after this many seconds.")
@click.pass_context
def demo(ctx: click.Context, headless: bool, duration: float | None) -> None:
    """Run the demo: embedded NATS, simulated machines, live values.

    Uses its own data directory (<data_dir>/demo) and a free port, so it never disturbs a
    real installation on the same machine.
    """
    from kit.runtime import Runtime

    settings = settings_from(ctx)
    settings = settings.model_copy(update={
        "site": "demo", "data_dir": settings.data_dir / "demo",
        "nats": settings.nats.model_copy(update={"port": 0, "mqtt_port": None}),
        "components": demo_components("demo"),
    })
    runtime = Runtime(settings)

    async def _show() -> None:
        assert runtime.bus is not None
        click.echo(f"demo running — bus {runtime.url} (try: kit bus tail 'kit.data.>' --url {runtime.url})")
        lines = 0

        async def on_batch(msg) -> None:
            nonlocal lines
            b = json.loads(msg.data)
            vals = {p["name"]: p.get("value") for p in b["points"]}
            click.echo(f"{b['ts'][11:19]} {b['asset']:<32} "
                       f"{'RUN ' if vals.get('machine_running') else 'STOP'} "
                       f"good {vals.get('count_good'):>5}  reject {vals.get('count_reject'):>3}  "
                       f"power {vals.get('power_active_total_w', 0) / 1000:6.2f} kW  "
                       f"energy {vals.get('energy_active_import_total_kwh', 0):8.3f} kWh  "
                       f"vib {vals.get('vibration_velocity_rms_mm_s'):5.2f} mm/s  "
                       f"temp {vals.get('temperature_c'):5.1f} °C")
            lines += 1

        await runtime.bus.nc.subscribe("kit.data.>", cb=on_batch)
        if duration is not None:
            asyncio.get_running_loop().call_later(duration, runtime.request_stop)

    if not headless:
        click.echo("(the terminal UI is not installed yet; showing live values — use --headless to silence this)",
                   err=True)
    run(runtime.run_forever(on_started=_show))
    click.echo("demo stopped")


def register(cli: click.Group) -> None:
    """Add the ``demo`` command."""
    cli.add_command(demo)

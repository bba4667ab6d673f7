"""``kit demo``: embedded bus, simulated devices over real Modbus TCP, recipes, live KPIs.

Nothing to configure: three device simulators start on free loopback ports (a machine PLC
with an S7 MB_SERVER block, an Eastron SDM630 energy meter, a Banner QM30VT2 vibration and
temperature sensor), then three shipped recipes are installed against them exactly as a
technician would (OEE of the machine, energy per shift of the meter, condition monitoring
of the motor). The terminal UI opens; ``--headless`` prints live values and KPIs instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kit.cli.common import run, settings_from
from kit.display import format_computed, format_value

if TYPE_CHECKING:
    from nats.aio.msg import Msg

#: (simulator profile, recipe, recipe parameters without host/port) of the demo.
DEMO_DEVICES: list[tuple[str, str, dict[str, Any]]] = [
    (
        "siemens-s7-mb-server",
        "oee-machine",
        {
            "area": "assembly",
            "line": "line1",
            "machine": "press1",
            "machine_profile": "siemens-s7-mb-server",
            "ideal_cycle_s": 2.0,
            "update_every_s": 5,
        },
    ),
    (
        "eastron-sdm630",
        "energy-per-shift",
        {
            "area": "assembly",
            "line": "line1",
            "meter": "press1 feed",
            "meter_profile": "eastron-sdm630",
        },
    ),
    (
        "banner-qm30vt2",
        "condition-motor",
        {
            "area": "utilities",
            "line": "cooling",
            "motor": "pump2",
            "sensor_profile": "banner-qm30vt2",
            "baseline": 3600,
        },
    ),
]
_HOST_PARAM = {
    "oee-machine": ("machine_host", "machine_port"),
    "energy-per-shift": ("meter_host", "meter_port"),
    "condition-motor": ("sensor_host", "sensor_port"),
}


async def start_demo_devices(runtime: Any, echo: Any = click.echo) -> list[Any]:
    """Start the simulators and install the demo recipes; returns the simulators (to stop)."""
    from kit.cli.sim_cmd import start_simulator

    sims = []
    for profile, recipe, params in DEMO_DEVICES:
        sim = await start_simulator(profile, host="127.0.0.1", port=0)
        sims.append(sim)
        host_key, port_key = _HOST_PARAM[recipe]
        result = await runtime.recipe_engine.install(
            recipe, {**params, host_key: "127.0.0.1", port_key: sim.port}, check_duration_s=20
        )
        echo(f"simulated {profile} on {sim.url} — installed {recipe} as {result['deployment']}")
    return sims


def kpi_line(obj: dict[str, Any]) -> str:
    """One headless line for a KPI message (value without float noise, ratios as %)."""
    value, unit = obj.get("value"), obj.get("unit")
    if unit in (None, "", "1") and isinstance(value, float) and obj.get("kpi") in _RATIO_KPIS:
        text = f"{value * 100:.1f} %"  # OEE factors read as percentages on the shop floor
    else:
        text = format_computed(value, unit=unit)
    line = f"{obj['ts'][11:19]} KPI   {obj['asset']:<38} {obj['kpi']:<26} {text} ({obj.get('window') or ''})"
    quality = obj.get("quality", "good")
    if quality != "good":  # a doubtful figure never reads like a plain one
        why = (obj.get("attrs") or {}).get("implausible")
        line += f" {quality.upper()}" + (f": {why}" if why else "")
    return line


def data_line(batch: dict[str, Any], limit: int = 4) -> str:
    """One headless line for a sample batch: its first ``limit`` points, readable."""
    pts = ", ".join(
        f"{p['name']}={format_value(p.get('value'), unit=p.get('unit'))}"
        for p in batch["points"][:limit]
    )
    return f"{batch['ts'][11:19]} DATA  {batch['asset']:<38} {pts}"


#: KPIs that are ratios 0…1 (shown as %).
_RATIO_KPIS = frozenset({"oee", "availability", "effectiveness", "performance", "quality"})


def _print_kpi(obj: dict[str, Any]) -> None:
    click.echo(kpi_line(obj))


@click.command()
@click.option(
    "--headless",
    is_flag=True,
    help="Print live values and KPIs instead of opening the terminal UI.",
)
@click.option(
    "--duration", type=click.FloatRange(min=0, min_open=True), help="Stop after this many seconds."
)
@click.pass_context
def demo(ctx: click.Context, headless: bool, duration: float | None) -> None:
    """Run the demo: embedded NATS, simulated devices over Modbus TCP, recipes, live KPIs.

    Uses its own data directory (<data_dir>/demo, wiped at start) and free ports, so it never
    disturbs a real installation on the same machine. A second demo running beside the
    first gets <data_dir>/demo-2 (and so on); `kit status` finds a running demo by itself,
    or with KIT_DATA_DIR set to the directory the demo prints.
    """
    from kit.runtime import Runtime

    settings = settings_from(ctx)
    demo_dir, lock = claim_demo_dir(settings.data_dir)
    settings = settings.model_copy(
        update={
            "site": "demo",
            "data_dir": demo_dir,
            "nats": settings.nats.model_copy(update={"port": 0, "mqtt_port": None}),
            "nats_url": None,
            "components": [],
        }
    )
    runtime = Runtime(settings, lock=lock)
    ui: Callable[[str], Awaitable[None]] | None = None
    if not headless:
        try:
            from kit_tui.app import run_app_async  # optional distribution; kit never needs it
        except ImportError:
            click.echo(
                "(the terminal UI, kit-tui, is not installed: showing live values instead)",
                err=True,
            )
            headless = True
        else:
            ui = run_app_async
    sims: list[Any] = []

    async def _started() -> None:
        nonlocal sims
        assert runtime.bus is not None
        echo = click.echo if headless else (lambda *_a, **_k: None)
        sims = await start_demo_devices(runtime, echo)
        if duration is not None:
            asyncio.get_running_loop().call_later(duration, runtime.request_stop)
        if headless:
            click.echo(
                f"demo running — bus {runtime.url}, data directory {demo_dir} "
                f"(try: KIT_DATA_DIR={demo_dir} kit status)"
            )

            async def on_kpi(msg: Msg) -> None:
                _print_kpi(json.loads(msg.data))

            await runtime.bus.nc.subscribe("kit.kpi.>", cb=on_kpi)

            async def on_batch(msg: Msg) -> None:
                click.echo(data_line(json.loads(msg.data)))

            await runtime.bus.nc.subscribe("kit.data.>", cb=on_batch)
        else:
            assert ui is not None and runtime.url is not None  # not headless: set above
            run_ui, url = ui, runtime.url

            async def _ui() -> None:
                try:
                    await run_ui(url)
                finally:
                    runtime.request_stop()

            asyncio.get_running_loop().create_task(_ui())

    run(_with_cleanup(runtime, _started, lambda: sims))
    click.echo("demo stopped")


#: How many demos may run side by side under one data directory.
MAX_DEMOS = 9


def claim_demo_dir(data_dir: Path) -> tuple[Path, Any]:
    """A fresh demo data directory under ``data_dir``, locked for this run.

    ``demo`` if no demo runs there, else ``demo-2`` … : a running demo's directory (its
    store, its credentials) is never wiped. The lock is taken *before* the wipe.

    Raises:
        DataDirInUse: ``MAX_DEMOS`` demos already run.
    """
    from kit.datadir import LOCK_FILE, DataDirInUse, DataDirLock

    for n in range(1, MAX_DEMOS + 1):
        d = Path(data_dir) / ("demo" if n == 1 else f"demo-{n}")
        lock = DataDirLock(d)
        if not lock.try_acquire():
            continue
        for child in d.iterdir():  # a fresh demo every time, not last run's deployments
            if child.name == LOCK_FILE:
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
        return d, lock
    raise DataDirInUse(
        f"{MAX_DEMOS} demos are already running under {data_dir} (demo … demo-{MAX_DEMOS}); "
        "stop one first"
    )


async def _with_cleanup(runtime: Any, started: Any, sims: Any) -> None:
    try:
        await runtime.run_forever(on_started=started)
    finally:
        for sim in sims():
            with contextlib.suppress(Exception):
                await sim.stop()


def register(cli: click.Group) -> None:
    """Add the ``demo`` command."""
    cli.add_command(demo)

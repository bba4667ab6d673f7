"""``kit sim PROFILE``: serve a hardware profile from a device simulator (no hardware needed).

Protocol-neutral: the profile's ``protocol`` picks the adapter component class that speaks it,
and that class's ``simulator(profile, host, port, **options)`` classmethod builds the
simulator (the adapters contract in docs/plugin_hooks.md). :func:`start_simulator` is the
same thing as an API, for ``kit demo`` and tests.
"""

from __future__ import annotations

import asyncio
from typing import Any

import click

from kit.errors import ConfigError, PluginError


def load_any_profile(
    ref: str,
    params: dict[str, Any] | None = None,
    host: Any = None,
    library: Any = None,
    variant: str | None = None,
) -> Any:
    """The profile ``ref`` (site library id or YAML path), its model/firmware ``variant`` applied
    (profiles that have variants), resolved with ``params`` when parameterised.

    Args:
        library: the site's :class:`kit.library.Library` (``kit sim`` passes the one of its
            ``--config``); default: ``host``'s plugins (or the installed ones) plus the
            environment's site directory.

    Raises:
        ConfigError: unknown id or invalid file/parameters.
    """
    if library is None:
        from kit.library import Library, default_library

        library = Library(host, default_library().data_dir) if host else default_library()
    prof = library.profile(ref)
    if variant is not None:
        with_variant = getattr(prof, "with_variant", None)
        if with_variant is None:
            raise ConfigError(f"profile {prof.id!r} has no variants")
        prof = with_variant(variant)
    resolve = getattr(prof, "resolve", None)
    if resolve is not None and (params or getattr(prof, "is_parameterised", False)):
        prof = resolve(params or {})
    elif params:
        raise ConfigError(f"profile {prof.id!r} takes no parameters")
    return prof


def adapter_for(protocol: str, host: Any = None) -> Any:
    """The adapter component class whose ``protocol`` is ``protocol``.

    Raises:
        PluginError: no installed adapter speaks it, or it has no simulator.
    """
    from kit.plugins import get_plugin_manager

    host = host or get_plugin_manager()
    for reg in host.components.items.values():
        if getattr(reg.cls, "protocol", None) == protocol:
            if not hasattr(reg.cls, "simulator"):
                raise PluginError(f"the {protocol} adapter ({reg.cls.__name__}) has no simulator")
            return reg.cls
    raise PluginError(
        f"no installed adapter speaks {protocol!r}; `kit plugins` lists what is installed"
    )


async def start_simulator(
    profile: str | Any,
    host: str = "127.0.0.1",
    port: int = 0,
    params: dict[str, Any] | None = None,
    variant: str | None = None,
    **options: Any,
) -> Any:
    """Start a simulator for ``profile`` (id, path or profile object); returns it started.

    The object has ``host``, ``port``, ``url``, ``stop()`` and fault-injection methods. Used by
    ``kit sim`` and ``kit demo`` (e.g. a simulated meter and machine PLC polled over Modbus TCP).
    """
    library = options.pop("library", None)
    prof = (
        load_any_profile(profile, params, library=library, variant=variant)
        if isinstance(profile, str)
        else profile
    )
    sim = adapter_for(prof.protocol).simulator(prof, host=host, port=port, **options)
    await sim.start()
    return sim


def _params(items: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--param {item!r}: write NAME=VALUE, e.g. --param start_address=100")
        out[key.strip()] = value.strip()
    return out


@click.command("sim")
@click.argument("profile")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    help="Port to listen on (default: a free port, printed at start).",
)
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Parameter of a parameterised profile (repeatable).",
)
@click.option("--variant", help="Model/firmware variant of the profile to simulate.")
@click.option(
    "--duration", type=click.FloatRange(min=0, min_open=True), help="Stop after this many seconds."
)
@click.pass_context
def sim(
    ctx: click.Context,
    profile: str,
    host: str,
    port: int,
    params: tuple[str, ...],
    variant: str | None,
    duration: float | None,
) -> None:
    """Serve PROFILE (id or YAML file) from a simulated device until Ctrl-C."""
    from kit.cli.common import library_from

    library = library_from(ctx)

    async def _run() -> None:
        s = await start_simulator(
            profile, host, port, _params(params), variant=variant, library=library
        )
        click.echo(f"simulating {profile} at {s.url} (Ctrl-C to stop)")
        try:
            if duration is None:
                await asyncio.Event().wait()
            else:
                await asyncio.sleep(duration)
        finally:
            await s.stop()

    try:
        asyncio.run(_run())
    except KeyboardInterrupt:
        pass
    click.echo("simulator stopped")


def register(cli: click.Group) -> None:
    """Add the ``sim`` command."""
    cli.add_command(sim)

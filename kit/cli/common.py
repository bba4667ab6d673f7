"""Shared CLI plumbing: error handling, running coroutines, finding the runtime's bus."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import click

from kit.bus import Bus
from kit.control import ControlClient
from kit.errors import KitError, RuntimeNotRunning
from kit.settings import Settings, load_settings

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


_CONFIG_META = "kit.config"


def _remember_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    # ctx.meta is shared by the whole context chain, so the group's settings lookup sees it.
    if value:
        ctx.meta[_CONFIG_META] = value


def _config_option() -> click.Option:
    return click.Option(
        ["--config"],
        type=click.Path(dir_okay=False),
        expose_value=False,
        is_eager=True,
        callback=_remember_config,
        help="Site settings file (YAML); same as `kit --config FILE` or KIT_CONFIG.",
    )


def add_config_option(cmd: click.Command) -> None:
    """Give ``cmd`` (and every command under it) its own ``--config FILE`` option.

    ``kit up --config FILE`` is how the docs and the systemd unit start a site; the group's
    ``kit --config FILE up`` keeps working. A command that already has ``--config`` is left
    as it is.
    """
    if isinstance(cmd, click.Group):
        for sub in cmd.commands.values():
            add_config_option(sub)
        return
    if not any("--config" in getattr(p, "opts", ()) for p in cmd.params):
        cmd.params.append(_config_option())


def option_group(*opts: Callable[[Any], Any]) -> Callable[[F], F]:
    """One decorator that adds ``opts`` (``click.option(...)``) in the order given, as if
    each were written above the command: for options several commands share."""

    def add(f: F) -> F:
        for opt in reversed(opts):
            f = opt(f)
        return f

    return add


class KitGroup(click.Group):
    """Click group that turns KitError into a clean message and its exit code, and lets
    plugins add commands (``register_commands`` hook) the first time commands are listed.
    Every command added gets a ``--config`` option (:func:`add_config_option`)."""

    _plugins_loaded = False

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        add_config_option(cmd)
        super().add_command(cmd, name)

    def _load_plugin_commands(self) -> None:
        if KitGroup._plugins_loaded:
            return
        KitGroup._plugins_loaded = True
        from kit.plugins import get_plugin_manager

        get_plugin_manager().register_commands(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        cmd = super().get_command(ctx, name)
        if cmd is None:
            self._load_plugin_commands()
            cmd = super().get_command(ctx, name)
        return cmd

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KitError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from a click command."""
    return asyncio.run(coro)


def config_path(ctx: click.Context) -> str | None:
    """The settings file of this invocation: ``kit CMD --config``, ``kit --config``, KIT_CONFIG."""
    return ctx.meta.get(_CONFIG_META) or (ctx.find_root().obj or {}).get("config")


def settings_from(ctx: click.Context) -> Settings:
    """Site settings for this invocation (``--config`` / ``KIT_CONFIG`` / environment)."""
    return load_settings(config_path(ctx))


def host_from(ctx: click.Context) -> Any:
    """The plugin host for this invocation, verifying plugins against its site's trust store
    and ``plugin_policy`` (the settings of ``--config``, not only the environment's)."""
    from kit.plugins import get_plugin_manager
    from kit.trust.verify import make_verifier

    settings = settings_from(ctx)
    return get_plugin_manager(verify=make_verifier(settings.data_dir, settings.plugin_policy))


def library_from(ctx: click.Context) -> Any:
    """The site library of this invocation (:class:`kit.library.Library`): shipped, plugin
    and the site's own profiles and recipes under its data directory."""
    from kit.library import Library

    return Library(host_from(ctx), settings_from(ctx).data_dir)


def find_runtime(settings: Settings, url: str | None = None) -> tuple[str, Settings]:
    """The bus to talk to and the settings whose credentials fit it.

    Explicit ``url`` first, then ``nats_url`` from the settings, then the runtime advertised
    in the data directory (``runtime.json``), then a ``kit demo`` running under it (one:
    used; several: the error lists them).

    Raises:
        RuntimeNotRunning: nothing configured and no runtime advertised in the data dir.
    """
    if url:
        return url, settings
    if settings.nats_url:
        return settings.nats_url, settings
    from kit.datadir import read_runtime_file, running_runtimes

    info = read_runtime_file(settings.data_dir)
    if info is not None:
        return info["url"], settings
    demos = [(d, i) for d, i in running_runtimes(settings.data_dir) if d != settings.data_dir]
    if len(demos) == 1:
        d, info = demos[0]
        return info["url"], settings.model_copy(update={"data_dir": d})
    if demos:
        listing = "; ".join(f"KIT_DATA_DIR={d} (bus {i['url']})" for d, i in demos)
        raise RuntimeNotRunning(
            f"no kit runtime is running for data directory {settings.data_dir}, but "
            f"{len(demos)} demos are: {listing}. Choose one with KIT_DATA_DIR or --url"
        )
    raise RuntimeNotRunning(
        f"no kit runtime is running for data directory {settings.data_dir}; "
        "start one with `kit up` (or pass --url)"
    )


def bus_url(settings: Settings, url: str | None = None) -> str:
    """URL of the bus to talk to: explicit, configured, or the local runtime's
    (see :func:`find_runtime`).

    Raises:
        RuntimeNotRunning: nothing configured and no runtime advertised in the data dir.
    """
    return find_runtime(settings, url)[0]


@asynccontextmanager
async def connected(settings: Settings, url: str | None = None) -> AsyncIterator[Bus]:
    """A bus connection for the duration of a CLI command."""
    from kit.trust.natsclient import cli_options  # generated credentials / TLS (least privilege)

    target, settings = find_runtime(settings, url)
    bus = await Bus.connect(
        target, name="kit-cli", connect_timeout=3, **cli_options(settings, target)
    )
    try:
        yield bus
    finally:
        await bus.close()


async def control_call(
    settings: Settings,
    endpoint: Any,
    body: Any = None,
    url: str | None = None,
    timeout: float = 10.0,
) -> Any:
    """Call one control API endpoint of the runtime.

    ``endpoint`` is a :class:`kit.api.Endpoint` spec (the result is then its reply model) or
    an endpoint name (the result is plain JSON).
    """
    async with connected(settings, url) as bus:
        return await ControlClient(bus, timeout).call(endpoint, body)

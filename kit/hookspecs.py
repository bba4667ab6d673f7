"""Every hook the kit calls, typed and documented (one heading each in docs/plugin_hooks.md).

Plugins implement these with ``@kit.hookimpl``. Collection hooks receive a registry object
and call its ``add`` method; the host validates, de-duplicates and names conflicts, so a
plugin never returns lists. Lifecycle hooks are named for the moment they fire.

Hooks evolve only by adding arguments (pluggy lets an implementation accept fewer
arguments than the spec), so a plugin written for kit API 1.0 keeps loading.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # imported for annotations only, so loading hookspecs stays cheap
    import click

    from kit.control import ControlAPI
    from kit.registry import ComponentRegistry, ResourceRegistry
    from kit.runtime import Runtime

PROJECT = "kit"
_hookspec = pluggy.HookspecMarker(PROJECT)


@_hookspec
def register_components(register: ComponentRegistry) -> None:
    """Contribute component classes (adapters, analytics, sinks, sources).

    Called once while the plugin manager is built. Call ``register.add(cls)`` for each
    :class:`kit.components.Component` subclass the plugin provides. The class's ``name``
    must be unique across installed plugins; a clash is reported naming both plugins.

    Args:
        register: the component registry of this plugin manager.

    Returns:
        Nothing.

    .. versionadded:: 0.1
    """


@_hookspec
def register_resources(register: ResourceRegistry) -> None:
    """Contribute directories of hardware profiles and recipes shipped by the plugin.

    Called once while the plugin manager is built. Call ``register.profiles(path)`` and
    ``register.recipes(path)`` with directories holding ``*.yaml`` files.

    Args:
        register: the resource registry of this plugin manager.

    Returns:
        Nothing.

    .. versionadded:: 0.1
    """


@_hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands or groups to the ``kit`` command line.

    Called once when the CLI starts. Use ``cli.add_command(cmd)``. Commands must raise
    :class:`kit.errors.KitError` subclasses (or ``click.ClickException``) for user errors so
    no traceback is shown.

    Args:
        cli: the top-level ``kit`` click group.

    Returns:
        Nothing.

    .. versionadded:: 0.1
    """


@_hookspec
def register_endpoints(api: ControlAPI, runtime: Runtime) -> None:
    """Add control API endpoints (``kit.control.<name>``) served by the runtime.

    Called once per ``kit up``, before the control service starts. Describe each endpoint
    with ``kit.api.endpoint(name, RequestModel, ReplyModel, summary)`` and call
    ``api.add(spec, handler)`` where ``handler`` is ``async (request) -> result``: it gets the
    validated request model (a bad body is refused before it runs) and returns the reply
    model or a dict that fits it (docs/bus.md, "Control API"). ``api.add(name, handler)``
    without models still works; the handler then gets the parsed JSON body. Raise
    :class:`kit.errors.KitError` for user errors. Use
    ``runtime.supervisor.instances`` to reach running component instances (e.g. an alarm
    component serving ``alarms.ack``). Names are dotted, lower case, prefixed by the
    plugin's area (``alarms.ack``, ``opcua.certs.trust``).

    Args:
        api: the control API being built.
        runtime: the starting runtime.

    Returns:
        Nothing.

    .. versionadded:: 0.1
    """


@_hookspec
def runtime_started(runtime: Runtime) -> None:
    """The runtime is connected to the bus and its streams exist; components are starting.

    Called once per ``kit up``. Must return quickly: start background work as components,
    not here.

    Args:
        runtime: the running :class:`kit.runtime.Runtime` (read its ``settings``, ``bus``).

    Returns:
        Nothing.

    .. versionadded:: 0.1
    """


@_hookspec
def runtime_stopping(runtime: Runtime) -> None:
    """The runtime is shutting down; components have been asked to stop.

    Called once, before the bus connection closes. Must return quickly (shutdown is bounded).

    Args:
        runtime: the stopping :class:`kit.runtime.Runtime`.

    Returns:
        Nothing.

    .. versionadded:: 0.1
    """

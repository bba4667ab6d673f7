"""Building the plugin manager: entry points, operator switches, broken-plugin reporting.

``get_plugin_manager()`` is a function (never an import-time global) so tests build their
own. Every plugin — the kit's own adapters and analytics included — arrives through the
``kit`` entry-point group. Operator switches:

* ``KIT_LOAD_PLUGINS=a,b`` — load only these entry-point names.
* ``KIT_DISABLE_PLUGINS=a,b`` — block these names.
* ``KIT_TRACE_PLUGINS=1`` — log every hook call (hook, plugin, arguments, outcome) at INFO.

A third-party plugin that fails to import, or implements a hook that does not exist, is
reported (name, distribution, error) and skipped; the rest keep working.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from kit import hookspecs
from kit.errors import PluginError
from kit.registry import ComponentRegistry, RegisteredComponent, ResourceRegistry

log = logging.getLogger(__name__)
GROUP = "kit"


@dataclass
class PluginInfo:
    """What ``kit plugins`` shows about one loaded plugin."""

    name: str
    distribution: str
    version: str
    hooks: list[str]
    components: list[str] = field(default_factory=list)
    trust: dict[str, Any] = field(default_factory=dict)
    """Signature status (kit.trust.verify.TrustStatus as a dict; empty if not verified)."""


@dataclass
class BrokenPlugin:
    """A plugin that could not be loaded, and why."""

    name: str
    distribution: str
    error: str


def _csv_env(var: str) -> set[str]:
    return {p.strip() for p in os.environ.get(var, "").split(",") if p.strip()}


class PluginHost:
    """Typed facade over the pluggy manager (tox's ``Plugin`` manager is the model).

    Core code calls one typed method per hook (``host.register_components()``,
    ``host.register_endpoints(api, runtime)``, …) and never touches ``pm.hook.*``. Every
    method calls the hook through pluggy *by keyword*, so an implementation may take fewer
    arguments than the spec (pluggy's opt-in arguments, promised by ``kit.hookspecs``) and
    ``KIT_TRACE_PLUGINS`` sees each call. Each plugin's implementation is called on its own
    (a one-plugin subset of the hook caller), so one broken vendor plugin is reported,
    unregistered and skipped while the others keep working.
    """

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.broken: list[BrokenPlugin] = []
        self.dists: dict[str, tuple[str, str]] = {}
        self.trust: dict[str, Any] = {}
        self.components = ComponentRegistry()
        self.resources = ResourceRegistry()

    def loaded(self) -> list[tuple[str, Any]]:
        """``(name, plugin)`` of every registered plugin (blocked names excluded)."""
        return [(n, p) for n, p in self.pm.list_name_plugin() if p is not None]

    # -- calling hooks --------------------------------------------------------------------
    def _call_each(
        self, hook: str, before: Callable[[str], None] | None = None, **kwargs: Any
    ) -> list[Any]:
        """Call ``hook`` through pluggy once per implementing plugin, isolating failures.

        Plugins are called in registration order (entry points sorted by name, then
        in-process plugins), so a name clash blames the later plugin.

        Args:
            hook: the hook's name in :mod:`kit.hookspecs`.
            before: called with the plugin's name before its implementation runs.
            **kwargs: the hook's arguments, all of them, by name.

        Returns:
            The non-None results of the implementations that succeeded.
        """
        caller = getattr(self.pm.hook, hook)
        results: list[Any] = []
        for impl in list(caller.get_hookimpls()):
            if not self.pm.is_registered(impl.plugin):  # marked broken by an earlier hook
                continue
            others = [i.plugin for i in caller.get_hookimpls() if i.plugin is not impl.plugin]
            only = self.pm.subset_hook_caller(hook, others)
            if before is not None:
                before(impl.plugin_name)
            try:
                results.extend(only(**kwargs))
            except Exception as exc:  # a vendor's bug must not take the kit down
                self._mark_broken(impl.plugin_name, exc, hook)
        return results

    def _mark_broken(self, name: str, exc: Exception, hook: str = "") -> None:
        dist = self.dists.get(name, ("?", "?"))[0]
        where = f" in {hook}" if hook else ""
        self.broken.append(BrokenPlugin(name, dist, f"{type(exc).__name__}{where}: {exc}"))
        print(
            f"kit: plugin {name!r} (distribution {dist}) is broken and was skipped: {exc}",
            file=sys.stderr,
        )
        # Drop whatever it managed to register before failing.
        self.components.items = {k: v for k, v in self.components.items.items() if v.plugin != name}
        self.resources.drop(name)
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)

    # -- the typed facade: one method per hook --------------------------------------------
    def register_components(self) -> None:
        """Call ``register_components`` so plugins fill :attr:`components`."""

        def _owner(name: str) -> None:
            self.components.current_plugin = name

        self._call_each("register_components", before=_owner, register=self.components)

    def register_resources(self) -> None:
        """Call ``register_resources`` so plugins fill :attr:`resources`."""

        def _owner(name: str) -> None:
            self.resources.current_plugin = name

        self._call_each("register_resources", before=_owner, register=self.resources)

    def collect(self) -> None:
        """Run the collection hooks (components, then resources)."""
        self.register_components()
        self.register_resources()

    def component(self, type_name: str) -> RegisteredComponent:
        """The registered component type (PluginError with suggestions if unknown)."""
        return self.components.get(type_name)

    def register_commands(self, cli: Any) -> None:
        """Let plugins add CLI commands; a failing plugin is reported, not fatal."""
        self._call_each("register_commands", cli=cli)

    def register_endpoints(self, api: Any, runtime: Any) -> None:
        """Let plugins add control API endpoints; a failing plugin is reported, not fatal."""
        self._call_each("register_endpoints", api=api, runtime=runtime)

    def runtime_started(self, runtime: Any) -> None:
        """Call the ``runtime_started`` hook; a failing plugin is reported, not fatal."""
        self._call_each("runtime_started", runtime=runtime)

    def runtime_stopping(self, runtime: Any) -> None:
        """Call the ``runtime_stopping`` hook; a failing plugin is reported, not fatal."""
        self._call_each("runtime_stopping", runtime=runtime)

    # -- what is loaded -------------------------------------------------------------------
    def info(self) -> list[PluginInfo]:
        """Name, distribution, version, hooks and component types of each loaded plugin."""
        out = []
        for name, plugin in self.loaded():
            dist, version = self.dists.get(name, ("(registered in-process)", ""))
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            comps = sorted(c.name for c in self.components.items.values() if c.plugin == name)
            st = self.trust.get(name)
            out.append(
                PluginInfo(
                    name, dist, version, hooks, comps, st.as_dict() if st is not None else {}
                )
            )
        return sorted(out, key=lambda p: p.name)

    def profile_dirs(self) -> list[Path]:
        """Directories of hardware profiles contributed by plugins."""
        return list(self.resources.profile_dirs)

    def recipe_dirs(self) -> list[Path]:
        """Directories of recipes contributed by plugins."""
        return list(self.resources.recipe_dirs)


def _trace_hook_calls(pm: pluggy.PluginManager) -> None:
    """Log every hook call through the manager: hook, plugin(s), arguments, outcome."""

    def before(hook: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]) -> None:
        names = ", ".join(i.plugin_name for i in impls) or "(none)"
        args = ", ".join(f"{k}={type(v).__name__}" for k, v in kwargs.items())
        log.info("hook: %s(%s) -> %s", hook, args, names)

    def after(
        outcome: pluggy.Result[Any],
        hook: str,
        impls: Sequence[pluggy.HookImpl],
        kwargs: Mapping[str, Any],
    ) -> None:
        names = ", ".join(i.plugin_name for i in impls) or "(none)"
        if outcome.exception is not None:
            log.info("hook: %s -> %s raised %r", hook, names, outcome.exception)
        else:
            log.info("hook: %s -> %s returned %r", hook, names, outcome.get_result())

    pm.add_hookcall_monitoring(before, after)


def get_plugin_manager(
    load_entrypoints: bool = True,
    extra: Sequence[tuple[str, ModuleType | object]] | None = None,
    verify: Any = None,
) -> PluginHost:
    """Build a plugin host: hookspecs, entry points of group ``kit``, extra plugins.

    Args:
        load_entrypoints: load installed plugins (tests may build an empty host).
        extra: ``(name, plugin)`` pairs registered in-process (tests, embedding).
        verify: ``verify(entry_point) -> (load, status, message)`` called before each entry
            point is imported (signature check and site policy, ``kit.trust.verify``); default:
            the verifier of the environment's site settings.

    Returns:
        A :class:`PluginHost` whose registries are filled.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    host = PluginHost(pm)
    allow, block = _csv_env("KIT_LOAD_PLUGINS"), _csv_env("KIT_DISABLE_PLUGINS")
    for name in block:
        pm.set_blocked(name)
    if load_entrypoints and verify is None:
        from kit.trust.verify import default_verifier

        verify = default_verifier()
    if load_entrypoints:
        for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: e.name):
            if (allow and ep.name not in allow) or ep.name in block or pm.has_plugin(ep.name):
                continue
            dist = ep.dist.name if ep.dist else "?"
            version = ep.dist.version if ep.dist else "?"
            host.dists[ep.name] = (dist, version)
            if verify is not None:  # at every load: signature status + plugin_policy
                ok, status, msg = verify(ep)
                host.trust[ep.name] = status
                if msg and ok:
                    log.info("plugin %r (distribution %s %s): %s", ep.name, dist, version, msg)
                if not ok:
                    print(
                        f"kit: plugin {ep.name!r} (distribution {dist} {version}): {msg}",
                        file=sys.stderr,
                    )
                    host.broken.append(BrokenPlugin(ep.name, dist, msg))
                    continue
            try:
                plugin = ep.load()
                pm.register(plugin, name=ep.name)
                pm.check_pending()
            except Exception as exc:  # a vendor's broken package must not take the kit down
                if pm.has_plugin(ep.name):
                    pm.unregister(name=ep.name)
                host.broken.append(BrokenPlugin(ep.name, dist, f"{type(exc).__name__}: {exc}"))
                print(
                    f"kit: plugin {ep.name!r} (distribution {dist} {version}) is broken and was skipped: {exc}",
                    file=sys.stderr,
                )
    for name, plugin in extra or []:
        try:
            pm.register(plugin, name=name)
            pm.check_pending()
        except Exception as exc:
            if pm.has_plugin(name):
                pm.unregister(name=name)
            raise PluginError(f"plugin {name!r}: {exc}") from None
    if os.environ.get("KIT_TRACE_PLUGINS"):
        _trace_hook_calls(pm)
    host.collect()
    return host

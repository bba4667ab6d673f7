"""Registries that collection hooks fill (``register_components``, ``register_resources``).

The host — not the plugin — validates what is registered and names conflicts, following
the llm/tox pattern; plugins just call ``add``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from kit.components import Component
from kit.errors import PluginError


@dataclass
class RegisteredComponent:
    """A component type and the plugin that registered it."""

    cls: type[Component]
    plugin: str

    @property
    def name(self) -> str:
        """The type name used in configs and recipes."""
        return self.cls.name


@dataclass
class ComponentRegistry:
    """Component types by name. Filled by ``register_components``."""

    items: dict[str, RegisteredComponent] = field(default_factory=dict)
    current_plugin: str = "?"

    def add(self, cls: type[Component]) -> None:
        """Register a component class.

        Raises:
            PluginError: if the class is not a Component with a name, kind and Config
                model, or if another plugin already registered the same name.
        """
        if not (isinstance(cls, type) and issubclass(cls, Component)):
            raise PluginError(
                f"plugin {self.current_plugin}: {cls!r} is not a kit.components.Component subclass"
            )
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginError(f"plugin {self.current_plugin}: {cls.__name__} has no `name`")
        if getattr(cls, "kind", None) not in ("adapter", "analytics", "sink", "source"):
            raise PluginError(f"plugin {self.current_plugin}: {cls.__name__} has no valid `kind`")
        if not (isinstance(cls.Config, type) and issubclass(cls.Config, BaseModel)):
            raise PluginError(
                f"plugin {self.current_plugin}: {cls.__name__}.Config is not a pydantic model"
            )
        if name in self.items and self.items[name].cls is not cls:
            other = self.items[name].plugin
            raise PluginError(
                f"component type {name!r} is registered by both {other} and {self.current_plugin}"
            )
        self.items[name] = RegisteredComponent(cls, self.current_plugin)

    def get(self, name: str) -> RegisteredComponent:
        """The component type ``name``.

        Raises:
            PluginError: naming the installed types and the closest match.
        """
        if name not in self.items:
            from kit.yamlfiles import suggest

            installed = ", ".join(sorted(self.items)) or "none"
            raise PluginError(
                f"unknown component type {name!r}{suggest(name, self.items)}; installed: {installed}"
            )
        return self.items[name]


@dataclass
class ResourceRegistry:
    """Directories of hardware profiles and recipes. Filled by ``register_resources``."""

    profile_dirs: list[Path] = field(default_factory=list)
    recipe_dirs: list[Path] = field(default_factory=list)
    current_plugin: str = "?"
    owners: dict[Path, str] = field(default_factory=dict)
    """Which plugin added each directory (``kit profiles`` shows it; a broken one's go)."""

    def profiles(self, path: Path | str) -> None:
        """Add a directory of hardware-profile YAML files."""
        p = Path(path)
        if p not in self.profile_dirs:
            self.profile_dirs.append(p)
            self.owners.setdefault(p, self.current_plugin)

    def recipes(self, path: Path | str) -> None:
        """Add a directory of recipe YAML files."""
        p = Path(path)
        if p not in self.recipe_dirs:
            self.recipe_dirs.append(p)
            self.owners.setdefault(p, self.current_plugin)

    def drop(self, plugin: str) -> None:
        """Forget every directory ``plugin`` added (it turned out broken)."""
        gone = {p for p, owner in self.owners.items() if owner == plugin}
        self.profile_dirs = [p for p in self.profile_dirs if p not in gone]
        self.recipe_dirs = [p for p in self.recipe_dirs if p not in gone]
        for p in gone:
            del self.owners[p]

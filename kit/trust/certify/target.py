"""What ``kit certify`` certifies: a project directory or an installed distribution."""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

from kit.errors import PluginError
from kit.trust.certify.deps import licence_of
from kit.trust.sign_plugin import find_package_dir
from kit.trust.verify import package_dir


@dataclass
class Target:
    """A plugin under certification."""

    name: str
    version: str
    pkg_dir: Path
    project_dir: Path | None
    entry_points: list[tuple[str, str]]  # (entry-point name, module)
    requires: list[str] = field(default_factory=list)
    licence: str | None = None

    def load_modules(self) -> list[tuple[str, ModuleType]]:
        """Import the entry-point modules *from* :attr:`pkg_dir`.

        If another copy of the package is importable (an installed older version, or a
        module of the same name imported earlier), the certified directory must win: its
        parent goes first on ``sys.path`` and stale modules are dropped.
        """
        import importlib.util

        spec = importlib.util.find_spec(self.pkg_dir.name)
        here = (
            spec is not None
            and spec.submodule_search_locations
            and Path(list(spec.submodule_search_locations)[0]).resolve() == self.pkg_dir.resolve()
        )
        if not here:
            parent = str(self.pkg_dir.parent)
            if parent in sys.path:
                sys.path.remove(parent)
            sys.path.insert(0, parent)
            for name in [
                m
                for m in sys.modules
                if m == self.pkg_dir.name or m.startswith(self.pkg_dir.name + ".")
            ]:
                del sys.modules[name]
            importlib.invalidate_caches()
        mods = [(n, importlib.import_module(m)) for n, m in self.entry_points]
        for _, mod in mods:
            origin = Path(getattr(mod, "__file__", "") or "").resolve()
            if not origin.is_relative_to(self.pkg_dir.resolve()):
                raise PluginError(
                    f"{mod.__name__} was imported from {origin}, not from {self.pkg_dir}"
                )
        return mods


def _project_of(start: Path) -> Path | None:
    for p in [start, *start.parents][:4]:
        if (p / "pyproject.toml").is_file():
            return p
    return None


def _licence_from_pyproject(proj: dict[str, Any]) -> str | None:
    lic = proj.get("license")
    if isinstance(lic, str):
        return lic
    if isinstance(lic, dict):
        return lic.get("text") or None
    for c in proj.get("classifiers", []):
        if c.startswith("License ::"):
            return licence_of({"Classifier": c}) or c.split("::")[-1].strip()
    return None


def resolve(target: str) -> Target:
    """A project directory (with ``pyproject.toml`` and ``src/<pkg>/kit_manifest.yaml``) or a dist name.

    Raises:
        PluginError: nothing certifiable at ``target``.
    """
    path = Path(target)
    if path.exists():
        pkg = find_package_dir(path)
        proj_dir = _project_of(path if path.is_dir() else path.parent)
        if proj_dir is None:
            raise PluginError(
                f"{target}: no pyproject.toml found (certify a project directory or an installed dist)"
            )
        proj = tomllib.loads((proj_dir / "pyproject.toml").read_text()).get("project", {})
        eps = list((proj.get("entry-points", {}).get("kit") or {}).items())
        if not eps:
            raise PluginError(f"{proj_dir}/pyproject.toml declares no [project.entry-points.kit]")
        return Target(
            proj.get("name", "?"),
            str(proj.get("version", "?")),
            pkg,
            proj_dir,
            [(n, v.split(":")[0]) for n, v in eps],
            list(proj.get("dependencies", [])),
            _licence_from_pyproject(proj),
        )
    try:
        dist = metadata.distribution(target)
    except metadata.PackageNotFoundError:
        raise PluginError(
            f"{target!r} is neither a directory nor an installed distribution"
        ) from None
    eps = [(ep.name, ep.value.split(":")[0]) for ep in dist.entry_points if ep.group == "kit"]
    if not eps:
        raise PluginError(f"distribution {target} has no entry point in group 'kit'")
    pkg_dir = package_dir(eps[0][1])
    if pkg_dir is None:
        raise PluginError(f"cannot locate the package of {eps[0][1]}")
    return Target(
        dist.metadata["Name"],
        dist.version,
        pkg_dir,
        _project_of(pkg_dir.parent),
        eps,
        list(dist.requires or []),
        licence_of(dist.metadata),
    )

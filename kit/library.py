"""The site library: every hardware profile and recipe one site can use, as one object.

Three origins, in this order of precedence:

* ``site`` — the site's own files under its data directory, ``<data_dir>/profiles/`` and
  ``<data_dir>/recipes/`` (``kit profile add`` / ``kit recipe add`` copy files there);
* ``shipped`` — the kit's own library (directories of the ``kit-resources`` plugin);
* ``plugin`` — directories other plugins register (``register_resources``).

A site file whose id a shipped or plugin file also uses *shadows* it: the site's copy is
used and ``kit profiles`` flags it. The runtime keeps one :class:`Library` and hands it to
every component (``ctx.library``); it reloads itself when a file in any of its directories
is added, removed or changed (path, size, mtime), so ``kit profile add`` reaches a running
runtime without a restart. No module-level state: each library belongs to its creator.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from kit.errors import ConfigError
from kit.profiles import Profile, ProfileLibrary, load_profile
from kit.recipes.loader import LoadedRecipe, RecipeLibrary

#: Entry-point name of the kit's own resources plugin (kit/builtin.py): its dirs are "shipped".
SHIPPED_PLUGIN = "kit-resources"
PROFILES_DIR = "profiles"
RECIPES_DIR = "recipes"


def site_profile_dir(data_dir: Path | str) -> Path:
    """Where a site keeps its own hardware profiles: ``<data_dir>/profiles``."""
    return Path(data_dir) / PROFILES_DIR


def site_recipe_dir(data_dir: Path | str) -> Path:
    """Where a site keeps its own recipes: ``<data_dir>/recipes``."""
    return Path(data_dir) / RECIPES_DIR


def write_site_file(target_dir: Path, file_id: str, data: bytes) -> Path:
    """Write ``target_dir/<file_id>.yaml`` atomically (temp file + rename); returns the path.

    A running runtime reloads its library when a file changes, so it must never see half a
    file: the temp name does not end in ``.yaml`` and the rename is atomic.
    """
    target_dir.mkdir(parents=True, exist_ok=True)
    dest = target_dir / f"{file_id}.yaml"
    tmp = target_dir / f".{file_id}.yaml.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, dest)
    return dest


def _fingerprint(dirs: list[Path], pattern: str) -> tuple[str | tuple[str, int, int], ...]:
    out: list[str | tuple[str, int, int]] = []
    for d in dirs:
        out.append(str(d))
        files = Path(d).rglob(pattern) if pattern.startswith("**") else Path(d).glob(pattern)
        for f in sorted(files):
            try:
                st = f.stat()
            except OSError:
                continue
            out.append((str(f), st.st_size, st.st_mtime_ns))
    return tuple(out)


class Library:
    """Profiles and recipes of one site (site dir, shipped, plugins), reloaded on change."""

    def __init__(self, host: Any, data_dir: Path | str | None = None) -> None:
        """
        Args:
            host: the plugin host (its resource directories and adapter profile models).
            data_dir: the site's data directory; None for a library without site files.
        """
        self.host = host
        self.data_dir = Path(data_dir) if data_dir is not None else None
        self._lock = threading.Lock()  # adapters load profiles from worker threads
        self._profiles: tuple[tuple[object, ...], ProfileLibrary] | None = None
        # Per file: (size, mtime) → the validated profile or its error. Validating a profile
        # costs tens of ms, so a changed site file must not re-validate the whole library.
        self._parsed: dict[Path, tuple[tuple[int, int], Profile | ConfigError]] = {}
        self._recipes: tuple[tuple[object, ...], RecipeLibrary] | None = None

    # -- where files come from ------------------------------------------------------------
    def _origin(self, path: Path) -> str:
        owners = getattr(getattr(self.host, "resources", None), "owners", {})
        return "shipped" if owners.get(path) == SHIPPED_PLUGIN else "plugin"

    @property
    def profile_dir(self) -> Path | None:
        """The site's own profile directory (None without a data directory)."""
        return site_profile_dir(self.data_dir) if self.data_dir is not None else None

    @property
    def recipe_dir(self) -> Path | None:
        """The site's own recipe directory (None without a data directory)."""
        return site_recipe_dir(self.data_dir) if self.data_dir is not None else None

    def profile_sources(self) -> list[tuple[Path, str]]:
        """``(directory, origin)`` of every profile directory, highest precedence first."""
        site = [(self.profile_dir, "site")] if self.profile_dir is not None else []
        return site + [(d, self._origin(d)) for d in self.host.profile_dirs()]

    def recipe_sources(self) -> list[tuple[Path, str]]:
        """``(directory, origin)`` of every recipe directory, highest precedence first."""
        site = [(self.recipe_dir, "site")] if self.recipe_dir is not None else []
        return site + [(d, self._origin(d)) for d in self.host.recipe_dirs()]

    # -- the loaded libraries -------------------------------------------------------------
    def profiles(self) -> ProfileLibrary:
        """Every profile, loaded again only when a profile file changed."""
        sources = self.profile_sources()
        fp = _fingerprint([d for d, _ in sources], "**/*.yaml")
        with self._lock:
            if self._profiles is None or self._profiles[0] != fp:
                self._parsed = {f: v for f, v in self._parsed.items() if f.exists()}
                lib = ProfileLibrary(self.host, sources, self._load_profile).load()
                self._profiles = (fp, lib)
            return self._profiles[1]

    def _load_profile(self, path: Path) -> Profile:
        st = path.stat()
        key = (st.st_size, st.st_mtime_ns)
        hit = self._parsed.get(path)
        if hit is None or hit[0] != key:
            try:
                hit = (key, load_profile(path, self.host))
            except ConfigError as exc:
                hit = (key, exc)
            self._parsed[path] = hit
        if isinstance(hit[1], ConfigError):
            raise hit[1]
        return hit[1]

    def recipes(self) -> RecipeLibrary:
        """Every recipe, loaded again only when a recipe file changed."""
        sources = self.recipe_sources()
        fp = _fingerprint([d for d, _ in sources], "*.yaml")
        with self._lock:
            if self._recipes is None or self._recipes[0] != fp:
                self._recipes = (fp, RecipeLibrary(self.host, sources).load())
            return self._recipes[1]

    def profile(self, ref: str | Path) -> Profile:
        """The profile ``ref``: an id from the library, or a YAML file (a ``Path`` is always a file).

        Raises:
            ConfigError: unknown id (with the closest match) or an invalid file.
        """
        text = str(ref)
        if isinstance(ref, Path) or text.endswith((".yaml", ".yml")) or Path(text).is_file():
            return load_profile(Path(text), self.host)
        return self.profiles().get(text)

    def recipe(self, recipe_id: str) -> LoadedRecipe:
        """The recipe ``recipe_id``.

        Raises:
            ConfigError: unknown id, with the closest match.
        """
        return self.recipes().get(recipe_id)


def default_library(config: Path | str | None = None) -> Library:
    """A library for a process without a runtime (CLI commands): installed plugins plus the
    site directory of the settings in ``config`` / the environment."""
    from kit.plugins import get_plugin_manager
    from kit.settings import load_settings

    return Library(get_plugin_manager(), load_settings(config).data_dir)

"""Cached recipe and profile libraries, reloaded only when a file changes.

Parsing YAML with line information is the slowest part of planning an install (a few ms
per file); a runtime plans many installs over its life while the files rarely change. The
cache key is every file's path, size and modification time, so an edited or added file is
picked up on the next call without a restart.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kit.profiles import ProfileLibrary
from kit.recipes.loader import RecipeLibrary

_cache: dict[tuple[str, int], tuple[tuple, Any]] = {}


def _fingerprint(dirs: list[Path], pattern: str) -> tuple:
    out = []
    for d in dirs:
        files = Path(d).rglob(pattern) if pattern.startswith("**") else Path(d).glob(pattern)
        for f in sorted(files):
            try:
                st = f.stat()
            except OSError:
                continue
            out.append((str(f), st.st_size, st.st_mtime_ns))
    return tuple(out)


def _cached(kind: str, host: Any, dirs: list[Path], pattern: str, build: Any) -> Any:
    key = (kind, id(host))
    fp = _fingerprint(dirs, pattern)
    hit = _cache.get(key)
    if hit is not None and hit[0] == fp and hit[1][0] is host:
        return hit[1][1]
    value = build()
    _cache[key] = (fp, (host, value))
    while len(_cache) > 8:  # a runtime has one host; tests build many — keep memory bounded
        _cache.pop(next(iter(_cache)))
    return value


def profiles(host: Any) -> ProfileLibrary:
    """The profile library of ``host`` (loaded once per change of the profile files)."""
    return _cached(
        "profiles", host, host.profile_dirs(), "**/*.yaml", lambda: ProfileLibrary(host).load()
    )


def recipes(host: Any) -> RecipeLibrary:
    """The recipe library of ``host`` (loaded once per change of the recipe files)."""
    return _cached(
        "recipes", host, host.recipe_dirs(), "*.yaml", lambda: RecipeLibrary(host).load()
    )

"""Site-specific values of a bundle: which parameters belong to one site, and scrubbing them.

A lighthouse's deployment is copied to sites with other devices, other addresses and other
names. A parameter is *site-specific* (blanked on export, asked on install) when it is:

- a ``host``, ``port`` or ``secret`` parameter, or marked ``site_specific: true``;
- used in an asset's ``connection`` under a key that addresses a device or logs into it
  (host, port, unit id, endpoint, URL, user, password, certificate …, :data:`SITE_KEYS`);
- used in an asset's ``path`` (area, line and machine names).

Everything else (cycle times, limits, counter widths, profile ids) is the lighthouse's
know-how and travels with the bundle. The bundle's commissioning reports name the
lighthouse's devices and assets; :func:`scrub` replaces the blanked values in them.
"""

from __future__ import annotations

import re
from typing import Any

from kit.recipes.params import is_site_specific, placeholders

#: Connection keys whose values address or log into one site's device.
SITE_KEYS = re.compile(
    r"host|port|unit|slave|endpoint|url|uri|address|user|password|secret|token|cert|key",
    re.IGNORECASE,
)
MASK = "<site-specific>"
#: Values shorter than this are not scrubbed out of report text (a unit id ``1`` would
#: otherwise erase every digit 1); they are blanked in the parameters all the same.
MIN_SCRUB_LEN = 3


def site_parameters(recipe: Any) -> dict[str, str]:
    """Site-specific parameters of a recipe model, each with the reason (see module doc)."""
    out: dict[str, str] = {}
    for name, p in recipe.parameters.items():
        if p.type in ("host", "port", "secret"):
            out[name] = p.type
        elif is_site_specific(p):
            out[name] = "marked site_specific"
    for role, asset in recipe.assets.items():
        for key, value in asset.connection.items():
            if SITE_KEYS.search(key):
                for n in placeholders(value):
                    out.setdefault(n, f"connection {key} of asset {role}")
        for n in placeholders(asset.path):
            out.setdefault(n, f"path of asset {role}")
    out.pop("site", None)  # the built-in: always this site's own id
    return {n: why for n, why in out.items() if n in recipe.parameters}


def blank_entry(recipe: Any, name: str, why: str) -> dict[str, Any]:
    """What a bundle lists for one blanked parameter: its prompt, type and recipe default
    (never the exporting site's value)."""
    p = recipe.parameters[name]
    entry: dict[str, Any] = {"name": name, "type": p.type, "prompt": p.prompt, "why": why}
    default = getattr(p, "default", None)
    if default is not None:
        entry["default"] = default
    return entry


def scrub_values(values: list[Any]) -> list[str]:
    """The texts to scrub out of reports: every blanked value long enough to be unambiguous,
    and the token it becomes in an asset path ("Press 7" is ``press_7`` in the reports)."""
    from kit.subjects import sanitize_token

    texts = {str(v) for v in values if v is not None and not isinstance(v, bool)}
    for t in list(texts):
        try:
            texts.add(sanitize_token(t))
        except ValueError:  # nothing of it can be in a path
            pass
    return sorted((t for t in texts if len(t) >= MIN_SCRUB_LEN), key=len, reverse=True)


def scrub(value: Any, texts: list[str]) -> Any:
    """``value`` (JSON-like) with every occurrence of ``texts`` in its strings replaced by
    :data:`MASK` (whole words only: a host ``10.0.0.5`` is not found inside ``10.0.0.50``)."""
    if not texts:
        return value
    pattern = re.compile(
        "|".join(rf"(?<![\w.-]){re.escape(t)}(?![\w-]|\.\w)" for t in texts),
    )
    return _scrub(value, pattern)


def _scrub(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(MASK, value)
    if isinstance(value, dict):
        return {_scrub(k, pattern): _scrub(v, pattern) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, pattern) for v in value]
    return value


def load_values(path: Any) -> dict[str, dict[str, Any]]:
    """A site values file: ``{deployment: {parameter: value}}`` in YAML.

    Raises:
        ConfigError: missing, not YAML, or not that shape (``file:line: field: message``).
    """
    from pydantic import RootModel

    from kit.yamlfiles import load_model

    class _Values(RootModel[dict[str, dict[str, str | int | float | bool]]]):
        pass

    data = load_model(_Values, path).root
    return {dep: dict(vals) for dep, vals in data.items()}

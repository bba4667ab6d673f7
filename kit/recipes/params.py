"""Parameter values: coercion from text, bounds, and ``${param}`` substitution.

Substitution is deliberately dumb: a string that is exactly ``${name}`` becomes the typed
value (so a port stays an integer); ``${name}`` inside a longer string is replaced by the
value's text. There are no expressions, filters or defaults-in-place — a recipe stays
data a technician can read.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from kit.recipes.model import (
    PLACEHOLDER,
    ChoiceParam,
    DurationParam,
    HostParam,
    IntegerParam,
    NumberParam,
    PortParam,
    ProfileParam,
    Recipe,
    SecretParam,
    TextParam,
)

#: Variables every recipe may use without declaring them.
BUILTINS = ("site",)
_HOST = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d)?\s*$")
_UNIT_S = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


class ParamError(ValueError):
    """A parameter value is not acceptable (message says why, in the technician's terms)."""


def parse_duration(value: Any) -> float:
    """``90`` / ``"90s"`` / ``"15m"`` / ``"8h"`` → seconds."""
    if isinstance(value, bool):
        raise ParamError(f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ParamError(f"{value!r} is not a duration (write e.g. 90, 90s, 15m or 8h)")
    return float(m.group(1)) * _UNIT_S[m.group(2)]


def _bounds(value: float, p: Any) -> None:
    unit = f" {p.unit}" if getattr(p, "unit", None) else ""
    if p.min is not None and value < p.min:
        raise ParamError(f"{value:g}{unit} is below the minimum {p.min:g}{unit}")
    if p.max is not None and value > p.max:
        raise ParamError(f"{value:g}{unit} is above the maximum {p.max:g}{unit}")


def coerce(p: Any, raw: Any) -> Any:
    """Turn ``raw`` (text from ``--set`` or a prompt, or a YAML value) into the parameter's type.

    Raises:
        ParamError: the value does not fit the type, bounds, choices or pattern.
    """
    if isinstance(p, HostParam):
        text = str(raw).strip()
        try:
            ipaddress.ip_address(text)
        except ValueError:
            if not _HOST.match(text):
                raise ParamError(f"{text!r} is not an IP address or host name") from None
        return text
    if isinstance(p, (PortParam, IntegerParam)):
        if isinstance(raw, bool):
            raise ParamError(f"{raw!r} is not a whole number")
        try:
            value = int(str(raw).strip()) if not isinstance(raw, int) else raw
        except ValueError:
            raise ParamError(f"{raw!r} is not a whole number") from None
        if isinstance(p, PortParam):
            if not 1 <= value <= 65535:
                raise ParamError(f"{value} is not a port number (1–65535)")
            return value
        _bounds(value, p)
        return value
    if isinstance(p, NumberParam):
        try:
            number = float(raw) if not isinstance(raw, bool) else None
        except (TypeError, ValueError):
            number = None
        if number is None:
            raise ParamError(f"{raw!r} is not a number")
        _bounds(number, p)
        return number
    if isinstance(p, DurationParam):
        seconds = parse_duration(raw)
        _bounds(seconds, p)
        return seconds
    if isinstance(p, ChoiceParam):
        for c in p.choices:
            if raw == c or str(raw) == str(c):
                return c
        raise ParamError(f"{raw!r} is not one of {', '.join(map(str, p.choices))}")
    if isinstance(p, TextParam):
        text = str(raw)
        if len(text) > p.max_length:
            raise ParamError(f"longer than {p.max_length} characters")
        if p.pattern and not re.fullmatch(p.pattern, text):
            raise ParamError(f"{text!r} does not match the pattern {p.pattern}")
        return text
    if isinstance(p, (SecretParam, ProfileParam)):
        return str(raw)
    raise ParamError(f"unsupported parameter type {type(p).__name__}")


def is_site_specific(p: Any) -> bool:
    """True for values that belong to one site (blanked in bundles): hosts, secrets, marked ones."""
    return isinstance(p, (HostParam, SecretParam)) or bool(getattr(p, "site_specific", False))


def resolve(
    recipe: Recipe, given: dict[str, Any], site: str
) -> tuple[dict[str, Any], dict[str, str]]:
    """Coerce given values, fill defaults, and report missing or invalid ones.

    Returns:
        ``(values, problems)`` — values by name (builtins included) and a message per
        parameter name that is missing, invalid, or not declared by the recipe.
    """
    values: dict[str, Any] = {"site": site}
    problems: dict[str, str] = {}
    for name in given:
        if name not in recipe.parameters and name not in BUILTINS:
            from kit.yamlfiles import suggest

            problems[name] = (
                f"the recipe has no parameter {name!r}{suggest(name, recipe.parameters)}"
            )
    for name, p in recipe.parameters.items():
        if name in given and given[name] not in (None, ""):
            try:
                values[name] = coerce(p, given[name])
            except ParamError as exc:
                problems[name] = str(exc)
        elif (default := getattr(p, "default", None)) is not None:
            values[name] = coerce(p, default)
        else:
            problems[name] = f"missing value ({p.prompt})"
    if "site" in given and given["site"]:
        values["site"] = str(given["site"])
    return values, problems


def placeholders(value: Any) -> list[str]:
    """Every ``${name}`` used anywhere inside ``value`` (strings, lists, dicts)."""
    if isinstance(value, str):
        return [m.strip() for m in PLACEHOLDER.findall(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in placeholders(v)]
    if isinstance(value, list):
        return [n for v in value for n in placeholders(v)]
    return []


def substitute(value: Any, values: dict[str, Any]) -> Any:
    """Replace ``${name}`` in ``value`` (recursively). Unknown names raise KeyError."""
    if isinstance(value, str):
        m = PLACEHOLDER.fullmatch(value)
        if m:
            return values[m.group(1).strip()]
        return PLACEHOLDER.sub(lambda mm: str(values[mm.group(1).strip()]), value)
    if isinstance(value, dict):
        return {k: substitute(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, values) for v in value]
    return value


def sample_values(recipe: Recipe, site: str = "site") -> dict[str, Any]:
    """Values to check a recipe's shape when none are given: defaults, else typical values.

    Used only by ``kit recipe validate`` so sections can be checked against the plugins'
    models before a technician has typed anything; fields filled from a made-up value are
    not blamed for errors (see :mod:`kit.recipes.validate`).
    """
    out: dict[str, Any] = {"site": site}
    for name, p in recipe.parameters.items():
        d = getattr(p, "default", None)
        if d is not None:
            out[name] = coerce(p, d)
        elif isinstance(p, HostParam):
            out[name] = "192.0.2.1"
        elif isinstance(p, PortParam):
            out[name] = 502
        elif isinstance(p, ChoiceParam):
            out[name] = p.choices[0]
        elif isinstance(p, (IntegerParam, NumberParam, DurationParam)):
            lo = p.min if p.min is not None else (p.max if p.max is not None and p.max < 1 else 1)
            out[name] = int(lo) if isinstance(p, IntegerParam) else float(lo)
        else:
            out[name] = name
    return out

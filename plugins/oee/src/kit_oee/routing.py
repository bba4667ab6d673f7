"""Which bound point of which asset feeds which input (shared by the oee and energy components)."""

from __future__ import annotations

from typing import Any

from kit import subjects
from kit.errors import KitError


def route_table(bindings: dict[str, Any], default_asset: str | None) -> dict[str, dict[str, str]]:
    """``{asset tokens: {point name: role}}`` for the bound inputs (what to pick from which batch)."""
    table: dict[str, dict[str, str]] = {}
    for role, b in bindings.items():
        if b is None:
            continue
        r = b.resolve(default_asset)
        if r.asset is None:
            raise KitError(f"input {role!r} names no asset and the component has none")
        table.setdefault(subjects.AssetPath.parse(r.asset).tokens, {})[r.point] = role
    return table

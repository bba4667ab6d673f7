"""``kit recipe match``: which hardware profiles and running assets satisfy a recipe."""

from __future__ import annotations

import json
from typing import Any

from kit.bus import KV_LAST
from kit.recipes.loader import LoadedRecipe

NEAR_MISSING = 2
"""A profile that lacks at most this many of a role's points (and has some) "nearly" fits."""


def missing_points(need: set[str], provided: set[str]) -> list[str] | None:
    """Points of ``need`` that ``provided`` lacks: ``[]`` fits, a short list nearly fits
    (at most :data:`NEAR_MISSING`, sharing at least one point), ``None`` neither."""
    missing = sorted(need - provided)
    if not missing:
        return []
    if need & provided and len(missing) <= NEAR_MISSING:
        return missing
    return None


def needed_points(lr: LoadedRecipe, role: str) -> set[str]:
    """Points the recipe reads from asset ``role``: its ``requires`` plus every bound point."""
    r = lr.recipe
    need = set(r.assets[role].requires)
    for a in r.analytics:
        for ref in a.inputs.values():
            if isinstance(ref, str) and a.asset == role:
                need.add(ref)
            elif not isinstance(ref, str) and ref.asset == role:
                need.add(ref.point)
    for c in r.checks:
        if c.asset == role:
            need |= {p for p in (getattr(c, "point", None), getattr(c, "while_point", None)) if p}
            need |= set(getattr(c, "points", []) or [])
    for al in r.alarms:
        if al.asset == role:
            for rule in al.rules:
                for key in ("input", "point", "suppress_when"):
                    rule_ref = rule.get(key)
                    if isinstance(rule_ref, str) and "${" not in rule_ref:
                        need.add(rule_ref)
                    elif (
                        isinstance(rule_ref, dict)
                        and rule_ref.get("asset", role) == role
                        and "point" in rule_ref
                    ):
                        need.add(rule_ref["point"])
    # A point named by a parameter (``${point}``) is only known once the technician chose it:
    # it cannot rule a profile out (basic-alarms fits any device), and the plan checks it.
    return {p for p in need if "${" not in p}


async def match_recipe(lr: LoadedRecipe, host: Any, runtime: Any | None = None) -> dict[str, Any]:
    """For each asset of the recipe: fitting profiles, and running assets whose last values
    (``KIT_LAST``) include every needed point."""
    from kit.library import Library

    library = getattr(runtime, "library", None) or Library(host)
    lib = library.profiles()
    live: dict[str, set[str]] = {}
    if runtime is not None and runtime.bus is not None:
        kv = await runtime.bus.kv(KV_LAST)
        try:
            keys = await kv.keys()
        except Exception:  # empty bucket
            keys = []
        for k in keys:
            try:
                live[k.replace(".", "/")] = set(json.loads((await kv.get(k)).value))
            except Exception:  # a key deleted meanwhile
                continue
    out: dict[str, Any] = {}
    candidates: list[dict[str, Any]] = []
    for role, spec in lr.recipe.assets.items():
        need = needed_points(lr, role)
        proto = getattr(
            host.components.items.get(spec.adapter, None)
            and host.components.items[spec.adapter].cls,
            "protocol",
            None,
        )
        profiles = [
            {"id": pid, "vendor": p.vendor, "model": p.model, "verified": p.verified}
            for pid, p in sorted(lib.profiles.items())
            if (proto is None or p.protocol == proto) and need <= p.semantic_points()
        ]
        # "Almost": provides some of what is needed and lacks at most two points.
        near = [
            {"id": pid, "missing": miss}
            for pid, p in sorted(lib.profiles.items())
            if (proto is None or p.protocol == proto)
            and (miss := missing_points(need, p.semantic_points()))
        ]
        assets = [path for path, pts in sorted(live.items()) if need <= pts]
        out[role] = {
            "adapter": spec.adapter,
            "needs": sorted(need),
            "profiles": profiles,
            "nearly": near,
            "running_assets": assets,
        }
        candidates += [
            {"role": role, "asset": path, "ok": need <= pts, "missing": sorted(need - pts)}
            for path, pts in sorted(live.items())
            if need & pts
        ]
    satisfied = all(m["profiles"] or m["running_assets"] for m in out.values())
    return {"recipe": lr.recipe.id, "assets": out, "satisfied": satisfied, "candidates": candidates}

"""Which recipes fit the devices a scan found, with the wizard values the inventory fills in.

:func:`suggest_recipes` is the one call the front door (``scan.suggest``, the TUI) makes;
it uses :func:`kit.recipes.match.match_recipe` (a recipe's asset role fits a device when the
device's identified profile is among the role's fitting profiles). Suggestions come in the
order ``kit scan opportunities`` ranks by: the recipe's initial business case
(:mod:`kit.scan.business`, from the site's answers) at its midpoint, at half while a role
has no ticked device yet, enablers (no value model) last — the same key
(:func:`kit.scan.opportunities.rank_key`) — and carry the case's value range.

A recipe with one device role gets one suggestion per fitting device. A recipe with
several roles (``idle-energy``: a machine and a meter) is suggested once with a fitting
ticked device per role; when a role has none, the suggestion is marked not ready and names
the role missing (the wizard still opens, with that role's fields to fill in by hand).
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

from kit.recipes.match import match_recipe
from kit.scan.business import case_for
from kit.scan.inventory import Device, Endpoint, Inventory
from kit.scan.opportunities import expected_value, rank_key
from kit.scan.questionnaire import Answers

_PARAM = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


def role_params(spec: Any, ep: Endpoint, dev: Device) -> dict[str, Any]:
    """Recipe parameter values for one asset role (``spec``) on device ``dev`` at ``ep``.

    Only parameters the role uses whole (``host: "${meter_host}"``, ``profile:
    "${meter_profile}"``) are filled: host, port, unit id and profile.
    """
    out: dict[str, Any] = {}
    values = {"host": ep.host, "port": ep.port, "unit_id": dev.unit_id}
    for key, tmpl in (spec.connection or {}).items():
        m = _PARAM.match(tmpl) if isinstance(tmpl, str) else None
        if m and key in values and values[key] is not None:
            out[m.group(1)] = values[key]
    m = _PARAM.match(spec.profile) if isinstance(spec.profile, str) else None
    if m and dev.profile:
        out[m.group(1)] = dev.profile
    return out


async def suggest_recipes(
    runtime: Any, inv: Inventory, numbers: list[int], answers: Answers | None = None
) -> dict[str, Any]:
    """Recipes of the site library for inventory devices ``numbers`` (1-based).

    Returns a ``scan.suggest`` reply (:class:`kit.api.scan.SuggestReply`): suggestions
    highest expected value first (``answers``: the site questionnaire, defaults when None),
    each with its value range per asset and year; ``unmatched`` lists ticked devices
    nothing fits.
    """
    answers = answers or Answers()
    devices = inv.devices()
    picked = [n for n in dict.fromkeys(numbers) if 1 <= n <= len(devices)]
    bad = [n for n in numbers if not 1 <= n <= len(devices)]
    if bad:
        from kit.errors import ConfigError

        raise ConfigError(
            f"device(s) {', '.join(map(str, bad))}: the inventory has {len(devices)} device(s)"
        )
    # Only the library matters here: no running assets (the devices are not installed yet).
    shim = SimpleNamespace(library=runtime.library, bus=None)
    out: list[dict[str, Any]] = []
    used: set[int] = set()
    for lr in runtime.library.recipes().recipes.values():
        match = await match_recipe(lr, runtime.host, shim)
        roles = lr.recipe.assets
        fits: dict[str, list[int]] = {
            role: [
                n
                for n in picked
                if devices[n - 1][1].profile
                and devices[n - 1][1].profile in {p["id"] for p in m["profiles"]}
            ]
            for role, m in match["assets"].items()
        }
        if not any(fits.values()):
            continue
        if len(roles) == 1:
            role = next(iter(roles))
            assignments = [{role: n} for n in fits[role]]
        else:
            chosen: dict[str, int] = {}
            for role in roles:  # greedy: a device serves one role of the recipe
                free = [n for n in fits.get(role, []) if n not in chosen.values()]
                if free:
                    chosen[role] = free[0]
            assignments = [chosen]
        for assign in assignments:
            params: dict[str, Any] = {}
            for role, n in assign.items():
                ep, dev = devices[n - 1]
                params.update(role_params(roles[role], ep, dev))
            missing = [r for r in roles if r not in assign]
            used |= set(assign.values())
            case = case_for(lr.recipe.id, answers)
            out.append(
                {
                    "recipe": lr.recipe.id,
                    "title": lr.recipe.title,
                    "devices": assign,
                    "params": params,
                    "ready": not missing,
                    "missing": missing,
                    "note": (
                        f"also needs a device for {', '.join(missing)}: tick one, or type it in "
                        "the wizard"
                        if missing
                        else ""
                    ),
                    "expected_value": expected_value(case, not missing),
                    "value_low": case.low if case else None,
                    "value_high": case.high if case else None,
                    "currency": case.currency if case else "",
                }
            )
    # The anchor is the device of the recipe's first role that has one, as in the ranking.
    out.sort(
        key=lambda s: rank_key(
            s["expected_value"], s["ready"], s["recipe"], next(iter(s["devices"].values()))
        )
    )
    return {"suggestions": out, "unmatched": [n for n in picked if n not in used]}

"""Opportunities: which recipes fit which scanned devices now, which need one more signal.

:func:`rank` matches every recipe of the site library against every identified device of
the inventory (the recipe's needed points — :func:`kit.recipes.match.needed_points` — against
the device profile's semantic points, as ``kit recipe match`` does for one recipe) and ranks
the result by expected value: the midpoint of the per-asset business case
(:mod:`kit.scan.business`), counted at half where a signal is still missing (it may never
be wired). Nothing here touches the network or the runtime: the TUI and the report call it.

How a recipe is placed on devices: its first asset role that any device fits (or nearly
fits) is the *anchor*; each such device gets one opportunity. Every other role of the recipe
takes the first device that fits it (else the first that nearly fits); a role no scanned
device provides names what is missing ("machine: machine_running — not found on the
network"). An opportunity lacking more than :data:`MAX_MISSING` signals is not listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from kit.recipes.match import missing_points, needed_points
from kit.scan.business import BusinessCase, case_for
from kit.scan.questionnaire import Answers

if TYPE_CHECKING:
    from kit.library import Library
    from kit.recipes.loader import LoadedRecipe
    from kit.scan.inventory import Inventory

MAX_MISSING: Final = 2
"""Listed only when at most this many signals are missing in all (the issue: "one more")."""
NEEDS_SIGNAL_WEIGHT: Final = 0.5
"""An opportunity that still needs a signal counts at this share of its value in the ranking
(an assumption, stated in the report: wiring one more signal may not happen)."""


class Assignment(BaseModel):
    """One asset role of a recipe and the scanned device for it (or what is missing)."""

    model_config = ConfigDict(extra="forbid")

    role: str
    device: int | None = None
    """1-based number in the inventory (``kit install RECIPE --device N``); None: not found."""
    endpoint: str = ""
    unit_id: int | None = None
    profile: str | None = None
    missing: list[str] = []
    """Semantic points the role needs and this device (or the network) does not provide."""


class Opportunity(BaseModel):
    """A recipe on scanned devices, its status, and its initial business case."""

    model_config = ConfigDict(extra="forbid")

    recipe: str
    title: str
    kpi: str
    moves: str
    status: Literal["fits", "needs_signal"]
    assets: list[Assignment]
    case: BusinessCase | None = None
    """Per asset and year; None for a recipe without a value model."""
    expected_value: float | None = None
    """Ranking key: the case's midpoint, × NEEDS_SIGNAL_WEIGHT while a signal is missing."""

    @property
    def missing(self) -> list[str]:
        """``role: point`` for every missing signal."""
        return [f"{a.role}: {p}" for a in self.assets for p in a.missing]

    @property
    def device(self) -> int | None:
        """The anchor device's inventory number (the first asset's)."""
        return self.assets[0].device if self.assets else None

    def install_hint(self) -> str:
        """The command that installs this opportunity (single-device recipes)."""
        if len(self.assets) == 1 and self.device is not None:
            return f"kit install {self.recipe} --device {self.device}"
        return f"kit install {self.recipe}"


def expected_value(case: BusinessCase | None, fits: bool) -> float | None:
    """Ranking value of a recipe on a device: the case's midpoint, × NEEDS_SIGNAL_WEIGHT
    while something is missing; None for an enabler (no value model)."""
    if case is None:
        return None
    return case.mid * (1.0 if fits else NEEDS_SIGNAL_WEIGHT)


def rank_key(value: float | None, fits: bool, recipe: str, device: int | None) -> tuple[Any, ...]:
    """Sort key of the ranking (also ``scan.suggest``'s, so both lists agree): highest
    expected value first, enablers last; on equal value what fits first, then recipe id and
    anchor device number."""
    return (value is None, -(value or 0.0), not fits, recipe, device or 0)


def _protocol(host: Any, adapter: str) -> str:
    """The protocol a recipe's adapter speaks (its component's ``protocol``; else its name,
    so an adapter that scans nothing — ``synthetic`` — matches no scanned device)."""
    reg = getattr(getattr(host, "components", None), "items", {}).get(adapter)
    return str(getattr(reg.cls, "protocol", None) or adapter) if reg is not None else adapter


def _needs(lr: LoadedRecipe, role: str) -> set[str]:
    # A templated point (``${point}``: the technician picks it at install) is no requirement
    # a profile can be matched on.
    return {p for p in needed_points(lr, role) if "${" not in p}


def rank(
    inventory: Inventory,
    library: Library,
    answers: Answers | None = None,
    *,
    include_enablers: bool = False,
) -> list[Opportunity]:
    """Every recipe × every identified device of ``inventory``, ranked by expected value.

    Args:
        inventory: the scan result (:func:`kit.scan.inventory.load_inventory`).
        library: the site library (:class:`kit.library.Library`): recipes and profiles.
        answers: the site questionnaire (defaults, marked as assumptions, when None).
        include_enablers: also list recipes that need no particular point (record a device,
            basic alarms): they fit every device and have no business case of their own.

    Returns:
        Opportunities, highest expected value first; those without a business case last,
        then by recipe id and device number. ``fits`` before ``needs_signal`` on equal value.
    """
    answers = answers or Answers()
    profiles = library.profiles().profiles
    devices: list[tuple[int, Any, Any, set[str], str]] = []
    for n, (ep, dev) in enumerate(inventory.devices(), start=1):
        prof = profiles.get(dev.profile) if dev.profile else None
        if prof is not None:
            devices.append((n, ep, dev, prof.semantic_points(), prof.protocol))
    out: list[Opportunity] = []
    for rid, lr in sorted(library.recipes().recipes.items()):
        r = lr.recipe
        roles = list(r.assets)
        needs = {role: _needs(lr, role) for role in roles}
        if not include_enablers and not any(needs.values()):
            continue
        fits: dict[str, list[tuple[int, list[str]]]] = {}
        for role in roles:
            proto = _protocol(library.host, r.assets[role].adapter)
            cands = []
            for n, _ep, _dev, points, dproto in devices:
                if dproto != proto:
                    continue
                miss = missing_points(needs[role], points)
                if miss is not None:
                    cands.append((n, miss))
            # Devices that fit come before those that nearly fit, each in inventory order.
            fits[role] = sorted(cands, key=lambda c: (len(c[1]), c[0]))
        anchor = next((role for role in roles if fits[role]), None)
        if anchor is None:
            continue
        case = case_for(rid, answers)
        for n, miss in fits[anchor]:
            assets = [_assign(inventory, anchor, n, miss)]
            for role in roles:
                if role == anchor:
                    continue
                if fits[role]:
                    m, m_miss = fits[role][0]
                    assets.append(_assign(inventory, role, m, m_miss))
                else:
                    assets.append(Assignment(role=role, missing=sorted(needs[role])))
            n_missing = sum(len(a.missing) for a in assets)
            if n_missing > MAX_MISSING:
                continue
            status: Literal["fits", "needs_signal"] = "fits" if n_missing == 0 else "needs_signal"
            ev = expected_value(case, status == "fits")
            out.append(
                Opportunity(
                    recipe=rid,
                    title=r.title,
                    kpi=r.kpi.name if r.kpi else "",
                    moves=r.kpi.moves if r.kpi else "",
                    status=status,
                    assets=assets,
                    case=case,
                    expected_value=ev,
                )
            )
    out.sort(key=lambda o: rank_key(o.expected_value, o.status == "fits", o.recipe, o.device))
    return out


def _assign(inventory: Inventory, role: str, number: int, missing: list[str]) -> Assignment:
    ep, dev = inventory.devices()[number - 1]
    return Assignment(
        role=role,
        device=number,
        endpoint=f"{ep.host}:{ep.port}",
        unit_id=dev.unit_id,
        profile=dev.profile,
        missing=missing,
    )

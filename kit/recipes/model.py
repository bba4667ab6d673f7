"""The recipe file format: pydantic models (first validation pass, "shape").

A recipe is a YAML file describing one proven use case (docs/recipes.md). These models
check its shape only; the second pass (:mod:`kit.recipes.validate`) checks each section
against the config model of the adapter or plugin it names and the points against the
hardware profiles. Every model forbids unknown fields, so a typo is an error, not a
silently ignored setting. ``recipes/schema/recipe.schema.json`` is generated from here.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME = r"^[a-z][a-z0-9_]*$"
ID = r"^[a-z0-9][a-z0-9_.-]*$"
#: The only interpolation there is: ``${name}``. No expressions, no filters, no code.
PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


# -- metadata ---------------------------------------------------------------------------


class Kpi(_Strict):
    """The KPI the recipe moves and the evidence a site should expect."""

    name: str
    """KPI name as it appears on the bus or in reports, e.g. ``oee`` or ``energy_per_shift_kwh``."""
    moves: str
    """What the KPI tells and which way it should go, e.g. "idle energy down"."""
    evidence: str
    """The evidence expected after installing, e.g. "idle kWh per shift visible within one shift"."""


# -- parameters ---------------------------------------------------------------------------


class _Param(_Strict):
    prompt: str
    """Question shown to the technician, e.g. "IP address of the meter"."""
    help: str | None = None
    """Longer explanation shown on request."""
    site_specific: bool = False
    """Blank this value when the deployment is exported in a bundle (hosts and secrets always are)."""

    @model_validator(mode="after")
    def _default_fits(self) -> _Param:
        # A default is used without asking, so it must pass the checks a typed value does
        # (pattern, length, host syntax …); otherwise installing with it would fail later.
        from kit.recipes.params import ParamError, coerce  # params imports this module

        default = getattr(self, "default", None)
        # Numbers, durations, ports and choices check their defaults in their own validators
        # (with their own messages); host syntax, text pattern and length are checked here.
        if default is not None and isinstance(self, (HostParam, TextParam)):
            try:
                coerce(self, default)
            except ParamError as exc:
                raise ValueError(f"default {default!r}: {exc}") from None
        return self


class HostParam(_Param):
    """A host name or IP address of a device (always blanked in bundles)."""

    type: Literal["host"]
    default: str | None = None
    """Value used when none is given."""


class PortParam(_Param):
    """A TCP/UDP port number (1–65535)."""

    type: Literal["port"]
    default: int | None = Field(None, ge=1, le=65535)
    """Value used when none is given."""


class ChoiceParam(_Param):
    """One of a fixed list of values."""

    type: Literal["choice"]
    choices: list[str | int | float] = Field(min_length=1)
    """The allowed values."""
    default: str | int | float | None = None
    """Value used when none is given (one of ``choices``)."""

    @model_validator(mode="after")
    def _default_is_a_choice(self) -> ChoiceParam:
        if self.default is not None and self.default not in self.choices:
            raise ValueError(f"default {self.default!r} is not one of the choices {self.choices}")
        return self


class _Bounded(_Param):
    unit: str | None = None
    """Unit shown with the prompt, e.g. ``s`` or ``kW``."""

    @model_validator(mode="after")
    def _bounds(self) -> _Bounded:
        lo, hi, d = (
            getattr(self, "min", None),
            getattr(self, "max", None),
            getattr(self, "default", None),
        )
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"min {lo} is above max {hi}")
        if d is not None and ((lo is not None and d < lo) or (hi is not None and d > hi)):
            raise ValueError(f"default {d} is outside the bounds [{lo}, {hi}]")
        return self


class IntegerParam(_Bounded):
    """A whole number with optional bounds and unit."""

    type: Literal["integer"]
    min: int | None = None
    """Smallest allowed value (inclusive)."""
    max: int | None = None
    """Largest allowed value (inclusive)."""
    default: int | None = None
    """Value used when none is given."""


class NumberParam(_Bounded):
    """A decimal number with optional bounds and unit."""

    type: Literal["number"]
    min: float | None = None
    """Smallest allowed value (inclusive)."""
    max: float | None = None
    """Largest allowed value (inclusive)."""
    default: float | None = None
    """Value used when none is given."""


class DurationParam(_Bounded):
    """A duration in seconds; values may be written ``90``, ``90s``, ``15m``, ``8h``."""

    type: Literal["duration"]
    min: float | None = None
    """Shortest allowed duration in seconds (inclusive)."""
    max: float | None = None
    """Longest allowed duration in seconds (inclusive)."""
    default: float | None = None
    """Value in seconds used when none is given."""


class TextParam(_Param):
    """Free text (names, identifiers), optionally restricted by a regular expression."""

    type: Literal["text"]
    default: str | None = None
    """Value used when none is given."""
    pattern: str | None = None
    """Regular expression the whole value must match."""
    max_length: int = Field(200, ge=1)
    """Longest allowed text."""

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return v


class SecretParam(_Param):
    """A password or key: never printed, always blanked in bundles."""

    type: Literal["secret"]


class ProfileParam(_Param):
    """A hardware profile id, chosen among the profiles that provide the asset's ``requires``."""

    type: Literal["profile"]
    default: str | None = None
    """Profile id used when none is given."""


Parameter = Annotated[
    HostParam
    | PortParam
    | ChoiceParam
    | IntegerParam
    | NumberParam
    | DurationParam
    | TextParam
    | SecretParam
    | ProfileParam,
    Field(discriminator="type"),
]


# -- assets, analytics, alarms ---------------------------------------------------------------


class AssetSpec(_Strict):
    """A device or machine the recipe reads, and how to connect to it."""

    adapter: str
    """Component type that reads it: an adapter (``modbus``, ``opcua``) or a source (``synthetic``)."""
    path: str
    """Asset path ``site/area/line/asset``; usually ``${site}/${area}/${line}/${machine}``."""
    profile: str | None = None
    """Hardware profile id (literal or ``${param}`` of type ``profile``) for adapters that use profiles."""
    requires: list[str] = Field(default_factory=list)
    """Semantic points the device must provide; any profile providing them fits the recipe."""
    connection: dict[str, Any] = Field(default_factory=dict)
    """Adapter settings (host, port, unit id …), checked against the adapter's config model."""
    report: dict[str, Any] | None = None
    """Report by exception for this asset's batches: ``deadband``, ``deadbands`` (per point),
    ``max_interval_s`` (kit.settings.ReportSettings; ``${param}`` allowed; docs/recipes.md)."""


class InputRef(_Strict):
    """A binding to a point of another asset of the recipe."""

    point: str
    """Semantic point name."""
    asset: str
    """Name of another asset of this recipe (a key of ``assets``)."""


class AnalyticsSpec(_Strict):
    """One analytics component to run."""

    plugin: str
    """Component type of the analytics plugin, e.g. ``oee``, ``energy``."""
    asset: str
    """Name of the recipe asset it runs on (a key of ``assets``); KPIs are published there."""
    name: str | None = Field(None, pattern=NAME)
    """Suffix of the component name when one asset runs the same plugin twice."""
    inputs: dict[str, str | InputRef] = Field(default_factory=dict)
    """Plugin input → semantic point (``count_good``) or ``{point, asset}`` of another asset."""
    params: dict[str, Any] = Field(default_factory=dict)
    """The plugin's parameters, checked against its config model; values may be ``${param}``."""


class AlarmSpec(_Strict):
    """Alarm rules of one asset; all rules of an asset compile into one ``alarms`` component."""

    asset: str
    """Name of the recipe asset (a key of ``assets``)."""
    rules: list[dict[str, Any]] = Field(min_length=1)
    """Rules passed through to the ``alarms`` plugin (checked against its ``AlarmRule`` model)."""


# -- acceptance checks -------------------------------------------------------------------------


class _Check(_Strict):
    asset: str
    """Name of the recipe asset whose live data is checked."""
    title: str | None = None
    """How the check reads in the commissioning report; generated when omitted."""


class RangeCheck(_Check):
    """Every good value of a point lies within [min, max] (and at least one value was seen)."""

    check: Literal["range"]
    point: str
    """Semantic point name."""
    min: float | str | None = None
    """Lower bound (a number or ``${param}``)."""
    max: float | str | None = None
    """Upper bound (a number or ``${param}``)."""
    unit: str | None = None
    """Unit of the bounds as shown in the report."""


class UpdatesCheck(_Check):
    """Data arrives at least every ``every_s`` seconds (of a point, or of the asset)."""

    check: Literal["updates"]
    point: str | None = None
    """Semantic point name; omitted means any batch of the asset."""
    every_s: float | str
    """Largest allowed gap between updates in seconds (or ``${param}``)."""


class IncreasesCheck(_Check):
    """A counter increases over the check window (optionally only while a condition point is true)."""

    check: Literal["increases"]
    point: str
    """Semantic point name of the counter."""
    while_point: str | None = None
    """Boolean point (e.g. ``machine_running``); the counter must increase while it is true."""


class QualityCheck(_Check):
    """Every sample of the listed points (or all points) has quality ``good``."""

    check: Literal["quality_good"]
    points: list[str] = Field(default_factory=list)
    """Semantic point names; empty means every point of the asset."""


class KpiCheck(_Check):
    """The recipe's analytics publish a KPI for the asset during the check window (optionally
    every value within [min, max]). A KPI that never arrives fails the check, naming it."""

    check: Literal["kpi"]
    kpi: str = Field(pattern=NAME)
    """KPI name as published on the bus, e.g. ``energy_kwh`` or ``oee``."""
    min: float | str | None = None
    """Lower bound of every value (a number or ``${param}``)."""
    max: float | str | None = None
    """Upper bound of every value (a number or ``${param}``)."""
    unit: str | None = None
    """Unit of the bounds as shown in the report."""


Check = Annotated[
    RangeCheck | UpdatesCheck | IncreasesCheck | QualityCheck | KpiCheck,
    Field(discriminator="check"),
]


class WriteSpec(_Strict):
    """A device write the recipe allows. Writes stay off unless a recipe declares them, and
    each one still needs an operator's confirmation, stays within these bounds and this rate,
    and is audited (docs/security/operations.md)."""

    asset: str
    """Name of one of the recipe's assets."""
    point: str
    """Semantic point to write (the profile must mark it ``access: rw``)."""
    min: float | str | None = None
    """Lowest allowed value (a number or ``${param}``)."""
    max: float | str | None = None
    """Highest allowed value (a number or ``${param}``)."""
    values: list[float | int | bool | str] | None = None
    """Allowed discrete values instead of or besides min/max (e.g. ``[0, 1]``)."""
    max_per_minute: int | str = 6
    """Rate limit: executed writes of this point in any 60 s."""


class Commissioning(_Strict):
    """How long the acceptance checks watch live data after install."""

    duration_s: float = Field(30.0, gt=0, le=3600)
    """Observation window in seconds (bounded: the report is ready after this time)."""


class Recipe(_Strict):
    """A proven use case: parameters, assets, analytics, alarms and acceptance checks."""

    model_config = ConfigDict(
        extra="forbid",
        use_attribute_docstrings=True,
        json_schema_extra={"$id": "https://fast-track-kit.org/schema/recipe.schema.json"},
    )

    id: str = Field(pattern=ID)
    """Unique recipe id, e.g. ``energy-per-shift``."""
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    """Semantic version of the recipe (``1.2.0``); upgrades go from one version to another."""
    title: str
    """One line, shown in ``kit recipes``."""
    summary: str
    """What the recipe does and for whom, a few sentences."""
    kpi: Kpi
    parameters: dict[Annotated[str, Field(pattern=NAME)], Parameter] = Field(default_factory=dict)
    """Values the technician provides, by name; referenced elsewhere as ``${name}``."""
    assets: dict[Annotated[str, Field(pattern=NAME)], AssetSpec] = Field(min_length=1)
    """Devices or machines the recipe reads, by name."""
    analytics: list[AnalyticsSpec] = Field(default_factory=list)
    alarms: list[AlarmSpec] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    """Acceptance checks run against live data after install (the commissioning report)."""
    writes: list[WriteSpec] = Field(default_factory=list)
    """Device writes the deployment allows (none by default)."""
    commissioning: Commissioning = Field(default_factory=Commissioning)

"""The Modbus hardware-profile model: connection defaults, points, identification, simulation.

A profile is one YAML file per device model (``hardware_profiles/<vendor>-<model>.yaml``,
docs/profiles.md). Pydantic checks each field; :meth:`ModbusProfile._check` then checks what
depends on several fields — the per-type legality table, Modicon references against tables,
address ranges, overlaps, units against the vocabulary, expected ranges against what the
type can hold, and the simulation against the ranges — and reports *every* problem at its
own location, naming the point (``points[3].bit: point 'power_active_total_w': …``). The
checks live in :mod:`kit_modbus.profile_checks`, the point model in
:mod:`kit_modbus.profile_point`, the one-pass error reporting in :mod:`kit_modbus.profile_errors`.

After validation each point exposes the normalised attributes the adapter uses:
``table``, ``pdu_address``, ``count``, effective ``byte_order``, ``type``, ``scale``,
``offset``, ``unit``, ``semantic``, ``range``, ``poll``, ``bit``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, PrivateAttr, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from kit.errors import ConfigError
from kit.profiles import Profile
from kit.yamlfiles import suggest
from kit_modbus import profile_checks
from kit_modbus.identity import Identity
from kit_modbus.profile_errors import cross_problems_of_valid_points, detail
from kit_modbus.profile_extras import Variant, apply_variant
from kit_modbus.profile_point import Loc, ModbusPoint, Simulation
from kit_modbus.profile_sections import Connection, Identification, Parameter, SerialSettings
from kit_modbus.profile_sim import _Gen, default_generator
from kit_modbus.profile_types import register_count
from kit_modbus.sim_models import Sampler, model_samplers

__all__ = [
    "Connection",
    "Identification",
    "ModbusPoint",
    "ModbusProfile",
    "Parameter",
    "SerialSettings",
    "Simulation",
]


class ModbusProfile(Profile):
    """A Modbus device model: connection defaults, identification, points, simulation."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    protocol: Literal["modbus"] = "modbus"
    connection: Connection
    identification: Identification | None = None
    identity: Identity | None = None
    """Identity registers (model code, firmware) and the values the model shows; see
    :mod:`kit_modbus.identity`."""
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    """Values the technician supplies (parameterised PLC templates); see :meth:`resolve`."""
    points: list[ModbusPoint] = Field(min_length=1)
    variants: dict[str, Variant] = Field(default_factory=dict)
    """Models or firmware ranges whose register map differs (overrides, additions, removals);
    see :meth:`with_variant` / :meth:`variant_for`."""
    simulation: Simulation = Field(default_factory=Simulation)

    _params: dict[str, int] = PrivateAttr(default_factory=dict)
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem(cls, data: Any, handler: Any) -> ModbusProfile:
        """Report shape errors *and* the cross-field problems of the points that are fine.

        Pydantic stops before the cross-field checks when any field is wrong; a technician
        would then fix one typo only to meet the next batch. So the well-formed points are
        checked again on their own and their problems added (indices mapped back).
        """
        try:
            model: ModbusProfile = handler(data)
        except ValidationError as exc:
            extra = cross_problems_of_valid_points(data, exc, handler)
            if not extra:
                raise
            details = [detail(e) for e in exc.errors()] + extra
            raise ValidationError.from_exception_data(cls.__name__, details) from None
        if isinstance(data, dict):
            model._raw = data
            problems = model._check_variants(data)
            if problems:
                raise ValidationError.from_exception_data(cls.__name__, problems)
        return model

    # -- variants -----------------------------------------------------------------------

    def _check_variants(self, data: dict[str, Any]) -> list[InitErrorDetails]:
        """Each variant, applied, is a valid profile (problems at ``variants.<name>``)."""
        out: list[InitErrorDetails] = []
        for name, variant in self.variants.items():
            try:
                type(self).model_validate(apply_variant(data, name, variant))
            except ValueError as exc:
                if isinstance(exc, ValidationError):
                    msgs = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
                else:
                    msgs = [str(exc)]
                for m in msgs:
                    out.append(
                        InitErrorDetails(
                            type=PydanticCustomError(
                                "modbus_profile", "{msg}", {"msg": f"with this variant: {m}"}
                            ),
                            loc=("variants", name),
                            input=None,
                        )
                    )
        return out

    def with_variant(self, name: str | None) -> ModbusProfile:
        """This profile with variant ``name`` applied (itself for None).

        Raises:
            ConfigError: unknown variant (with the known ones).
        """
        if name is None:
            return self
        if name not in self.variants:
            known = ", ".join(sorted(self.variants)) or "none"
            raise ConfigError(
                f"profile {self.id!r} has no variant {name!r}{suggest(name, self.variants)}"
                f" (variants: {known})"
            )
        return type(self).model_validate(apply_variant(self._raw, name, self.variants[name]))

    def variant_for(self, model: str | None = None, firmware: str | None = None) -> str | None:
        """The variant matching what the device reports (model text, firmware version)."""
        for name, v in self.variants.items():
            if v.matches(model, firmware):
                return name
        return None

    @model_validator(mode="after")
    def _check(self) -> ModbusProfile:
        errors = self._expand()
        errors += self._normalise(self._defaults())
        errors += self._check_simulation()
        if errors:
            # In file order: problems of points[2] before those of points[5], the rest after.
            errors.sort(
                key=lambda e: e[0][1] if len(e[0]) > 1 and isinstance(e[0][1], int) else 1 << 30
            )
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError("modbus_profile", "{msg}", {"msg": m}),
                        loc=loc,
                        input=None,
                    )
                    for loc, m in errors
                ],
            )
        return self

    # -- parameters ---------------------------------------------------------------------

    @property
    def is_parameterised(self) -> bool:
        """True for templates whose addresses depend on technician-supplied parameters."""
        return bool(self.parameters)

    @property
    def resolved_params(self) -> dict[str, int]:
        """Parameter values the addresses were computed with (defaults until :meth:`resolve`)."""
        return dict(self._params)

    def _defaults(self) -> dict[str, int]:
        return {
            k: (p.default if p.default is not None else p.min) for k, p in self.parameters.items()
        }

    def resolve(self, params: dict[str, Any] | None = None) -> ModbusProfile:
        """Materialise a parameterised profile with the technician's values.

        Args:
            params: ``{parameter name: value}``; missing ones take their default.

        Returns:
            A copy whose points carry the final addresses.

        Raises:
            ConfigError: each problem as ``profile_params.<name>: message`` (unknown name with a
                suggestion, wrong type, out of bounds, no default, or points pushed outside the
                address space).
        """
        params = dict(params or {})
        problems: list[str] = []
        values: dict[str, int] = {}
        for key in params:
            if key not in self.parameters:
                known = ", ".join(sorted(self.parameters)) or "none"
                problems.append(
                    f"profile_params.{key}: unknown parameter of profile {self.id!r}"
                    f"{suggest(key, self.parameters)} (parameters: {known})"
                )
        for key, spec in self.parameters.items():
            raw = params.get(key, spec.default)
            if raw is None:
                problems.append(
                    f"profile_params.{key}: required — {spec.prompt} ({spec.min}…{spec.max})"
                )
                continue
            try:
                # Values arrive as text from the CLI and from recipe parameters ("40011").
                number = float(raw)
                value = int(number) if not isinstance(raw, bool) and number.is_integer() else None
            except (TypeError, ValueError, OverflowError):
                value = None
            if value is None:
                problems.append(f"profile_params.{key}: {raw!r} is not a whole number")
            elif not spec.min <= value <= spec.max:
                problems.append(f"profile_params.{key}: {value} is outside {spec.min}…{spec.max}")
            else:
                values[key] = value
        if problems:
            raise ConfigError(
                f"profile {self.id}: {len(problems)} problem(s) in profile_params", problems
            )
        out = self.model_copy(deep=True)
        errors = out._normalise(values)
        if errors:
            raise ConfigError(
                f"profile {self.id}: the parameters put points out of place",
                [f"profile_params.{self._param_of(loc)}: {m}" for loc, m in errors],
            )
        return out

    def _param_of(self, loc: Loc) -> str:
        if len(loc) >= 2 and loc[0] == "points" and isinstance(loc[1], int):
            for p in self.points:
                if p._origin == loc[1]:
                    return p.relative_to or "?"
        return "?"

    # -- cross-field checks -------------------------------------------------------------

    def _expand(self) -> list[tuple[Loc, str]]:
        """Replace each ``repeat`` declaration by its copies (names from ``{n}``/``{address}``).

        Each point remembers its declared index (``_origin``), so problems are reported at the
        declaration's line.
        """
        errors: list[tuple[Loc, str]] = []
        out: list[ModbusPoint] = []
        for i, p in enumerate(self.points):
            if p._origin >= 0:  # already expanded (resolve() of a copy)
                out.append(p)
                continue
            p._origin = i
            rep = p.repeat
            if rep is None:
                out.append(p)
                continue
            if "{n}" not in p.semantic and "{address}" not in p.semantic:
                errors.append(
                    (
                        ("points", i, "semantic"),
                        f"point {p.semantic!r}: with repeat the name needs {{n}} (the channel "
                        "number) or {address}, e.g. x_temperature_ch{n}",
                    )
                )
                continue
            size = register_count(p.type or "uint16", p.length) if p.type else 1
            stride = rep.stride or size
            for k in range(rep.count):
                q = p.model_copy(deep=True)
                q._origin, q._rep_offset, q.repeat = i, k * stride, None
                n = rep.first + k
                q.semantic = p.semantic.replace("{n}", str(n))
                q.description = p.description.replace("{n}", str(n))
                if "{address}" in q.semantic:
                    q._pattern = q.semantic
                out.append(q)
        self.points = out
        return errors

    def _normalise(self, params: dict[str, int]) -> list[tuple[Loc, str]]:
        """Compute every point's table/pdu/count/byte order; return ``(loc, message)`` problems."""
        return profile_checks.normalise(self, params)

    def _check_simulation(self) -> list[tuple[Loc, str]]:
        """Generators name existing points and produce values their points can carry."""
        return profile_checks.check_simulation(self)

    # -- helpers for the adapter and the simulator ------------------------------------------

    def point(self, semantic: str) -> ModbusPoint:
        """The point named ``semantic``.

        Raises:
            KeyError: with the closest name.
        """
        for p in self.points:
            if p.semantic == semantic:
                return p
        raise KeyError(
            f"profile {self.id!r} has no point {semantic!r}{suggest(semantic, self.semantic_points())}"
        )

    def samplers(self) -> list[Sampler]:
        """One ``t → value`` function per point, in point order (what ``kit sim`` serves).

        Modelled points share their model's state, so related values agree at every instant.
        """
        sim = self.simulation
        models = model_samplers(
            sim.electrical, sim.machine, {p.semantic: p.range for p in self.points}
        )
        out: list[Sampler] = []
        for i, p in enumerate(self.points):
            if p.semantic not in sim.points and p.semantic in models:
                out.append(models[p.semantic])
            else:
                out.append(self.generator(p).sampler(sim.seed + i))  # type: ignore[arg-type]
        return out

    def generator(self, point: ModbusPoint) -> _Gen:
        """The simulation generator of ``point`` (its own, or the default for its semantic)."""
        gen = self.simulation.points.get(point.semantic)
        if gen is not None:
            return gen
        return default_generator(point.semantic, point.type or "uint16", point.range, point.offset)

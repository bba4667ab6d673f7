"""The semantic vocabulary: standard point names, their units and meanings.

Recipes and analytics bind to *meanings* (``power_active_total_w``), never to addresses, so
every point a hardware profile exposes carries one of these names. Names follow
``quantity_qualifier_unit``; the unit suffix is part of the name so a value can never be
published in the wrong unit (a meter reporting kW uses ``scale: 1000`` to fill the ``_w``
point). Numbered channels (``digital_input_3``) follow patterns, and vendor-specific extras
start with ``x_`` (accepted without a fixed unit, never bound by shipped recipes).

``docs/vocabulary.md`` is generated from this module (``python -m kit.vocabulary``); a test
fails when the page is stale.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["gauge", "counter", "bool", "code", "bitfield", "text"]

#: ``machine_state_code`` values (PackML-like, the synthetic source uses the same codes).
MACHINE_STATES: dict[int, tuple[str, str]] = {
    0: ("unknown", "no information (PLC starting, signal not wired)"),
    1: ("running", "producing at or near the ideal rate"),
    2: ("idle", "ready but not producing (starved, blocked, no order)"),
    3: ("down", "stopped by a fault or breakdown (unplanned)"),
    4: ("setup", "changeover, setup or adjustment (planned)"),
    5: ("planned_stop", "break, planned maintenance, no shift"),
}

#: Prefix for vendor-specific points outside the standard vocabulary.
VENDOR_PREFIX = "x_"


@dataclass(frozen=True)
class Term:
    """One standard semantic name."""

    name: str
    unit: str | None
    """Unit the value is published in (``None``: dimensionless, a count, a code or a bool)."""
    description: str
    kind: Kind = "gauge"
    """gauge (instantaneous), counter (monotonic total), bool, code (enumeration), bitfield, text."""
    group: str = "other"


@dataclass(frozen=True)
class Pattern:
    """A numbered family of names such as ``digital_input_N``."""

    template: str
    """Name with ``N`` for the channel number, e.g. ``digital_input_N``."""
    unit: str | None
    description: str
    kind: Kind = "gauge"
    group: str = "io"
    free_unit: bool = False
    """True when the unit depends on what is wired (an analog input may carry any quantity)."""

    @property
    def regex(self) -> re.Pattern[str]:
        """Regular expression matching concrete names (``N`` = 0…9999)."""
        return re.compile("^" + re.escape(self.template).replace("N", r"(0|[1-9][0-9]{0,3})") + "$")


def _t(group: str, rows: list[tuple[Any, ...]]) -> list[Term]:
    return [
        Term(
            name=r[0],
            unit=r[1],
            description=r[2],
            kind=r[3] if len(r) > 3 else "gauge",
            group=group,
        )
        for r in rows
    ]


_PHASES = ("l1", "l2", "l3")

_ELECTRICAL = _t(
    "electrical",
    [
        ("power_active_total_w", "W", "Total active power (sum of phases); positive = import"),
        *[(f"power_active_{p}_w", "W", f"Active power of phase {p.upper()}") for p in _PHASES],
        ("power_reactive_total_var", "var", "Total reactive power"),
        *[
            (f"power_reactive_{p}_var", "var", f"Reactive power of phase {p.upper()}")
            for p in _PHASES
        ],
        ("power_apparent_total_va", "VA", "Total apparent power"),
        *[
            (f"power_apparent_{p}_va", "VA", f"Apparent power of phase {p.upper()}")
            for p in _PHASES
        ],
        ("power_factor_total", None, "Total power factor (−1…1; sign convention per device)"),
        *[(f"power_factor_{p}", None, f"Power factor of phase {p.upper()}") for p in _PHASES],
        *[
            (f"cos_phi_{p}", None, f"Displacement power factor (fundamental) of phase {p.upper()}")
            for p in _PHASES
        ],
        ("phase_angle_total_deg", "°", "Total system phase angle"),
        *[(f"voltage_{p}_n_v", "V", f"Voltage {p.upper()} to neutral") for p in _PHASES],
        ("voltage_l1_l2_v", "V", "Line voltage L1–L2"),
        ("voltage_l2_l3_v", "V", "Line voltage L2–L3"),
        ("voltage_l3_l1_v", "V", "Line voltage L3–L1"),
        ("voltage_ln_avg_v", "V", "Average line-to-neutral voltage"),
        ("voltage_ll_avg_v", "V", "Average line-to-line voltage"),
        *[(f"current_{p}_a", "A", f"Current of phase {p.upper()}") for p in _PHASES],
        ("current_n_a", "A", "Neutral current (measured or vector sum)"),
        ("current_avg_a", "A", "Average phase current"),
        ("current_sum_a", "A", "Sum of the phase currents"),
        ("frequency_hz", "Hz", "Supply frequency"),
        *[
            (f"thd_voltage_{p}_pct", "%", f"Total harmonic distortion of voltage {p.upper()}")
            for p in _PHASES
        ],
        *[
            (f"thd_current_{p}_pct", "%", f"Total harmonic distortion of current {p.upper()}")
            for p in _PHASES
        ],
        (
            "demand_active_power_w",
            "W",
            "Active power demand (average over the device's demand period)",
        ),
        ("phase_rotation", None, "Rotation field: 1 clockwise, 0 none, −1 anticlockwise", "code"),
    ],
)

_ENERGY = _t(
    "energy",
    [
        (
            "energy_active_import_total_kwh",
            "kWh",
            "Active energy imported (consumed), all phases",
            "counter",
        ),
        (
            "energy_active_export_total_kwh",
            "kWh",
            "Active energy exported (delivered), all phases",
            "counter",
        ),
        (
            "energy_active_total_kwh",
            "kWh",
            "Active energy, import + export (or net, per device)",
            "counter",
        ),
        *[
            (
                f"energy_active_import_{p}_kwh",
                "kWh",
                f"Active energy imported on phase {p.upper()}",
                "counter",
            )
            for p in _PHASES
        ],
        *[
            (
                f"energy_active_export_{p}_kwh",
                "kWh",
                f"Active energy exported on phase {p.upper()}",
                "counter",
            )
            for p in _PHASES
        ],
        ("energy_reactive_import_total_kvarh", "kvarh", "Reactive energy imported", "counter"),
        ("energy_reactive_export_total_kvarh", "kvarh", "Reactive energy exported", "counter"),
        ("energy_reactive_total_kvarh", "kvarh", "Reactive energy, import + export", "counter"),
        ("energy_apparent_total_kvah", "kVAh", "Apparent energy", "counter"),
    ],
)

_MACHINE = _t(
    "machine",
    [
        (
            "machine_running",
            None,
            "True while the machine produces (the PLC's running bit)",
            "bool",
        ),
        ("machine_state_code", None, "Machine state code; see the state table below", "code"),
        (
            "count_good",
            None,
            "Good parts produced (monotonic counter; may wrap or be reset by the PLC)",
            "counter",
        ),
        ("count_reject", None, "Rejected (scrap) parts (monotonic counter)", "counter"),
        ("count_total", None, "All parts produced, good + reject (monotonic counter)", "counter"),
        ("cycle_time_s", "s", "Duration of the last machine cycle"),
        ("fault_code", None, "Active machine fault / alarm number (0 = none)", "code"),
        (
            "machine_operation_mode",
            None,
            "Operation mode as OPC 40001 MachineryOperationMode: 0 none, "
            "1 maintenance, 2 setup, 3 processing",
            "code",
        ),
        (
            "operation_cycle_count",
            None,
            "Machine operation cycles (OPC 40001 OperationCycleCounter)",
            "counter",
        ),
        (
            "power_on_duration_s",
            "s",
            "Time the machine has been powered (OPC 40001 PowerOnDuration)",
            "counter",
        ),
        ("dimension_mm", "mm", "A measured part dimension (SPC input)"),
        ("pressure_bar", "bar", "Process pressure (gauge)"),
        ("flow_m3_h", "m³/h", "Volume flow"),
        ("speed_rpm", "rpm", "Rotational speed of the motor or spindle"),
    ],
)

_DRIVE = _t(
    "drive",
    [
        ("output_frequency_hz", "Hz", "Drive output frequency"),
        ("frequency_setpoint_hz", "Hz", "Frequency setpoint written to the drive"),
        ("frequency_reference_hz", "Hz", "Frequency reference the drive is following"),
        ("motor_current_a", "A", "Motor (output) current"),
        ("motor_torque_pct", "%", "Motor torque in % of nominal"),
        ("motor_power_w", "W", "Motor (output) power"),
        ("output_voltage_v", "V", "Drive output voltage"),
        ("dc_bus_voltage_v", "V", "DC-link voltage"),
        ("drive_thermal_state_pct", "%", "Drive thermal state in % of the trip level"),
        ("drive_fault_code", None, "Active drive fault code (0 = none)", "code"),
        ("drive_status_word", None, "Drive status word (bit field, profile-specific)", "bitfield"),
        (
            "drive_control_word",
            None,
            "Drive control word (bit field, profile-specific)",
            "bitfield",
        ),
        ("drive_run_time_h", "h", "Accumulated run time", "counter"),
    ],
)

_CONDITION = _t(
    "condition",
    [
        ("temperature_c", "°C", "Temperature (process value of a controller, or sensor housing)"),
        ("temperature_setpoint_c", "°C", "Temperature setpoint"),
        ("heater_current_a", "A", "Heater current"),
        ("output_heating_pct", "%", "Controller heating output (manipulated variable)"),
        ("controller_status_word", None, "Controller status bit field", "bitfield"),
        (
            "vibration_velocity_rms_mm_s",
            "mm/s",
            "Vibration velocity RMS (ISO 10816 / 20816 quantity), main axis",
        ),
        *[
            (
                f"vibration_velocity_rms_{a}_mm_s",
                "mm/s",
                f"Vibration velocity RMS, {a.upper()} axis",
            )
            for a in "xyz"
        ],
        *[
            (
                f"vibration_velocity_peak_{a}_mm_s",
                "mm/s",
                f"Vibration velocity peak, {a.upper()} axis",
            )
            for a in "xz"
        ],
        ("vibration_acceleration_rms_g", "g", "Vibration acceleration RMS, main axis"),
        *[
            (
                f"vibration_acceleration_rms_{a}_g",
                "g",
                f"Vibration acceleration RMS, {a.upper()} axis",
            )
            for a in "xyz"
        ],
        *[
            (
                f"vibration_acceleration_peak_{a}_g",
                "g",
                f"Vibration acceleration peak, {a.upper()} axis",
            )
            for a in "xz"
        ],
        *[
            (
                f"vibration_acceleration_rms_hf_{a}_g",
                "g",
                f"High-frequency acceleration RMS, {a.upper()} axis",
            )
            for a in "xz"
        ],
        *[
            (
                f"vibration_peak_frequency_{a}_hz",
                "Hz",
                f"Frequency of the velocity peak, {a.upper()} axis",
            )
            for a in "xz"
        ],
        *[
            (f"vibration_kurtosis_{a}", None, f"Acceleration kurtosis, {a.upper()} axis")
            for a in "xz"
        ],
        *[
            (f"vibration_crest_factor_{a}", None, f"Acceleration crest factor, {a.upper()} axis")
            for a in "xz"
        ],
        ("humidity_pct", "%", "Relative humidity"),
    ],
)

PATTERNS: tuple[Pattern, ...] = (
    Pattern("digital_input_N", None, "Digital input channel N (true = energised)", "bool"),
    Pattern("digital_output_N", None, "Digital output channel N (true = energised)", "bool"),
    Pattern(
        "analog_input_N",
        None,
        "Analog input channel N in the unit of what is wired (raw counts when unscaled)",
        free_unit=True,
    ),
    Pattern("analog_output_N", None, "Analog output channel N", free_unit=True),
    Pattern("counter_input_N", None, "Pulse counter of input channel N", "counter"),
)

TERMS: dict[str, Term] = {
    t.name: t for t in (*_ELECTRICAL, *_ENERGY, *_MACHINE, *_DRIVE, *_CONDITION)
}


@dataclass(frozen=True)
class Resolved:
    """What a concrete name means: its unit (``None`` = none), kind, and whether any unit is accepted."""

    name: str
    unit: str | None
    kind: Kind
    description: str
    free_unit: bool = False
    vendor: bool = False


def lookup(name: str) -> Resolved | None:
    """The meaning of ``name``: a standard term, a pattern instance or an ``x_`` extra; else None."""
    term = TERMS.get(name)
    if term is not None:
        return Resolved(name, term.unit, term.kind, term.description)
    for pat in PATTERNS:
        if pat.regex.match(name):
            return Resolved(name, pat.unit, pat.kind, pat.description, free_unit=pat.free_unit)
    if is_vendor(name):
        return Resolved(name, None, "gauge", "vendor-specific point", free_unit=True, vendor=True)
    return None


_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def is_vendor(name: str) -> bool:
    """True for a well-formed vendor-specific name (``x_`` + lowercase letters, digits, ``_``)."""
    return (
        name.startswith(VENDOR_PREFIX)
        and len(name) > len(VENDOR_PREFIX)
        and bool(_NAME_RE.match(name))
    )


def check_name(name: str) -> str | None:
    """``None`` when ``name`` is acceptable, else the message to show (with a suggestion).

    Example: ``check_name("power_activ_total_w")`` →
    ``"unknown semantic name 'power_activ_total_w' (did you mean 'power_active_total_w'?) …"``.
    """
    if lookup(name) is not None:
        return None
    if name.startswith(VENDOR_PREFIX):
        return (
            f"vendor-specific name {name!r} must be x_ followed by lowercase letters, digits and "
            "underscores"
        )
    choices = [*TERMS, *(p.template.replace("N", "0") for p in PATTERNS)]
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return (
        f"unknown semantic name {name!r}{hint}; standard names are listed in docs/vocabulary.md, "
        f"prefix vendor-specific points with {VENDOR_PREFIX!r}"
    )


def check_unit(name: str, unit: str | None) -> str | None:
    """``None`` if ``unit`` is right for ``name`` (or ``name`` allows any unit), else the message."""
    meaning = lookup(name)
    if meaning is None or meaning.free_unit or unit is None:
        return None
    if meaning.unit != unit:
        expected = repr(meaning.unit) if meaning.unit else "no unit"
        return (
            f"unit {unit!r} does not match {name!r}, which is published in {expected}; "
            "convert with scale (e.g. kW → W is scale 1000) instead of changing the unit"
        )
    return None


_GROUP_TITLES = {
    "electrical": "Electrical (energy meters, power analysers)",
    "energy": "Energy counters",
    "machine": "Machine and process signals (PLCs)",
    "drive": "Drives (VFDs)",
    "condition": "Condition monitoring (temperature, vibration)",
}


def render_markdown() -> str:
    """The text of ``docs/vocabulary.md`` (generated; edit this module, not the page)."""
    lines = [
        "# Semantic vocabulary",
        "",
        "<!-- Generated from kit/vocabulary.py by `uv run python -m kit.vocabulary > docs/vocabulary.md`;",
        "     a test fails when this page is stale. Edit the module, not this page. -->",
        "",
        "Every point a hardware profile exposes has a *semantic name* from this list. Recipes and",
        "analytics bind to these names, so one recipe fits every meter or PLC that provides them.",
        "",
        "Rules:",
        "",
        "* Names are `quantity_qualifier_unit`; the unit is part of the name. A device that reports",
        "  kW fills `power_active_total_w` with `scale: 1000` — the profile's `unit` must equal the",
        "  unit listed here (profile validation rejects a mismatch).",
        "* Numbered channels use the patterns below (`digital_input_0`, `analog_input_3`, …; N = 0…9999).",
        "* Vendor-specific values that have no standard name start with `x_` (e.g.",
        "  `x_drive_thermal_model_pct`). They are published like any point; shipped recipes never",
        "  bind to them.",
        '* An unknown name is an error with a "did you mean" suggestion.',
        "* Kinds: *gauge* (instantaneous value), *counter* (monotonic total; analytics take",
        "  differences and handle resets), *bool*, *code* (enumeration), *bitfield* (status/control",
        "  word, device-specific bits).",
        "",
    ]
    for group, title in _GROUP_TITLES.items():
        lines += [f"## {title}", "", "| name | unit | kind | meaning |", "|---|---|---|---|"]
        for t in TERMS.values():
            if t.group == group:
                lines.append(f"| `{t.name}` | {t.unit or '–'} | {t.kind} | {t.description} |")
        lines.append("")
    lines += [
        "## Numbered channels",
        "",
        "| pattern | unit | kind | meaning |",
        "|---|---|---|---|",
    ]
    for p in PATTERNS:
        unit = "as wired (profile sets it)" if p.free_unit else (p.unit or "–")
        lines.append(f"| `{p.template}` | {unit} | {p.kind} | {p.description} |")
    lines += [
        "",
        "## Machine state codes (`machine_state_code`)",
        "",
        "PLC programs map their own state machine onto these codes; OEE uses them to split",
        "time into running, idle, down (unplanned) and setup/planned stops.",
        "",
        "| code | state | meaning |",
        "|---|---|---|",
    ]
    for code, (state, meaning) in MACHINE_STATES.items():
        lines.append(f"| {code} | {state} | {meaning} |")
    lines += ["", "Any other code is treated as `unknown` and counted, never guessed.", ""]
    from kit.relations import render_markdown_rows  # data module; imports this one lazily

    lines += [
        "## Plausibility relations",
        "",
        "Ranges cannot tell voltage L1 from voltage L2, or a value read one register off from",
        "the right one. Relations between quantities can. They are data in `kit/relations.py`,",
        "evaluated by `kit.relations.evaluate({name: value})` — each relation is *satisfied*,",
        "*violated* or *not applicable* (a value missing), with evidence text such as",
        '"Σ phase P ≈ total P within 0.4 %". `kit probe` uses them to find address shift and',
        "word order; scan, commissioning and live data quality use the same table. A comparison",
        "holds when the difference is within the relative tolerance *or* the absolute one",
        "(meter rounding). Tolerances allow real imbalance: S may be an arithmetic or a vector",
        "sum, V_LL ≈ √3·V_LN only on a roughly balanced supply.",
        "",
        *render_markdown_rows(),
        "",
        "With an earlier snapshot, every *counter* (kind above) must not decrease (a documented",
        "rollover or reset aside), and an energy counter must rise by about ∫P dt between the",
        "two readings (trapezoid of the two `power_active_total_w` readings; within 25 % or",
        "0.2 kWh, judged only when ∫P dt ≥ 0.5 kWh). The OEE rows apply to the OEE KPIs",
        "(fractions 0…1).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - regeneration entry point
    print(render_markdown(), end="")

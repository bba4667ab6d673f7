"""Display precision: how many decimals a value deserves, and the value without float noise.

A meter that reports volts in 0.1 V steps (raw × 0.1) has one decimal; a float32 register has
about seven significant digits; a KPI computed from counters has whatever precision its inputs
had, plus binary rounding noise (``0.20799999998416752``). This module turns that knowledge
into text a technician believes: ``231.7 V``, ``0.208 kWh``, ``123456.7 kWh`` — never
``231.6549530029297`` and never ``123457`` (six significant digits, what ``:g`` prints).

Used by the Modbus codec (rounding at decode, docs/bus.md), the CLI (``kit bus tail``,
``kit status``, probe text, the headless demo), the TUI and CSV export. Pure functions, no I/O.
"""

from __future__ import annotations

import math
from typing import Any

#: Significant digits a float register carries (IEEE 754: 24 and 53 bit mantissas).
FLOAT32_DIGITS = 7
FLOAT64_DIGITS = 15
#: Significant digits kept when nothing is known about a value (computed KPIs): enough for a
#: 9-digit energy counter, few enough to drop the noise of one subtraction of two of them.
DEFAULT_DIGITS = 9
#: Most decimals ever derived from a scale (a scale of 1e-9 is a profile mistake, not 9 digits).
MAX_DECIMALS = 9


def decimals_of(number: float) -> int:
    """Digits after the decimal point in the shortest text of ``number`` (0.25 → 2, 1e-05 → 5).

    ``0.1`` is 1 even though the binary double is 0.1000000000000000055…: the shortest repr is
    what the profile author wrote.
    """
    if not math.isfinite(number) or number == int(number):
        return 0
    text = repr(abs(float(number)))
    if "e" in text:
        mantissa, exp = text.split("e")
        frac = mantissa.split(".")[1] if "." in mantissa else ""
        return min(MAX_DECIMALS, max(0, len(frac) - int(exp)))
    return min(MAX_DECIMALS, len(text.split(".")[1]))


def decimals_for(scale: float = 1.0, offset: float = 0.0, resolution: float | None = None) -> int:
    """Decimals of a value read as an integer ``raw × scale + offset`` (or with a declared step).

    ``resolution`` (the smallest step the device reports, from the manual) wins when given;
    otherwise the scale and offset decide: raw × 0.1 → 1 decimal, raw × 0.001 → 3, raw × 1000 → 0.
    """
    if resolution is not None and resolution > 0:
        return decimals_of(resolution)
    return max(decimals_of(scale), decimals_of(offset))


def round_sig(value: float, digits: int) -> float:
    """``value`` rounded to ``digits`` significant digits (non-finite and 0 unchanged)."""
    if value == 0 or value != value or value in (math.inf, -math.inf):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


def clean(value: Any, decimals: int | None = None) -> Any:
    """``value`` without binary float noise: rounded to ``decimals`` when known, else to
    :data:`DEFAULT_DIGITS` significant digits. Non-floats are returned unchanged."""
    if value.__class__ is not float or not math.isfinite(value):
        return value
    if decimals is not None:
        return round(value, decimals)
    return round_sig(value, DEFAULT_DIGITS)


def computed_decimals(value: Any) -> int | None:
    """Decimals worth showing for a *computed* value (a KPI: an average, a ratio, a sum of
    differences), whose last digits are arithmetic, not measurement: 3 decimals from 1 up,
    4 significant digits below (``1.77578782`` → ``1.776``, ``0.0123456`` → ``0.01235``)."""
    if value.__class__ is not float or not math.isfinite(value) or value == 0:
        return None
    if abs(value) >= 1:
        return 3
    return min(MAX_DECIMALS, 3 - math.floor(math.log10(abs(value))))


def format_computed(value: Any, unit: str | None = None) -> str:
    """Text of a computed value (KPI): :func:`computed_decimals`, trailing zeros dropped."""
    d = computed_decimals(value)
    return format_value(round(value, d) if d is not None else value, unit=unit)


def format_value(value: Any, decimals: int | None = None, unit: str | None = None) -> str:
    """Text of a value as a technician should see it (``230.1 V``, ``123456.7 kWh``, ``true``).

    With ``decimals`` the text has exactly that many (``230.0`` for a 0.1 V meter); without,
    the shortest text of the cleaned value (``0.208``, ``16``). Booleans print as true/false,
    None as ``—``, text as is.
    """
    if value is None:
        text = "—"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            text = str(value)
        elif decimals is not None:
            text = f"{value:.{decimals}f}"
        else:
            cleaned = clean(value)
            # Whole numbers without ".0"; others in their shortest form, never exponent notation
            # for everyday magnitudes (1e-05 kWh reads badly on a terminal).
            if cleaned == int(cleaned) and abs(cleaned) < 1e15:
                text = str(int(cleaned))
            else:
                text = repr(cleaned)
                if "e" in text and 1e-9 <= abs(cleaned) < 1e15:
                    text = f"{cleaned:.{decimals_of(cleaned)}f}"
    else:
        text = str(value)
    return f"{text} {unit}" if unit and value is not None else text

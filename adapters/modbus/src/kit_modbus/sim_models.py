"""Physical models of a profile's ``simulation``: values that agree with each other.

Independent generators per point produce numbers no technician believes — an L1 power of
99.7 kW against a 29.9 kW total, an average current of 82 A beside phases of 25 A, an energy
counter that ignores the power, a machine that makes parts faster than its ideal cycle. A
model derives every related quantity from a few drivers, keyed by the semantic names of
docs/vocabulary.md, so every profile that uses those names gets consistent values for free:

* :class:`ElectricalModel` — per phase a voltage, a current and a power factor (slow sines);
  from them P, Q, S per phase and in total (S² = P² + Q², PF = P/S, phases sum to totals),
  line-to-line voltages as phasor differences (√3·V_LN on a balanced supply), average and
  sum of currents, the neutral current as the phasor sum, and energy counters that integrate
  the powers over simulated time. Applies to any profile with electrical points, even
  without a ``simulation.electrical`` section (defaults from the points' ranges).
* :class:`MachineModel` — a running pattern, a cycle time never below the ideal cycle time,
  and part counters that integrate 1/cycle time while running (so OEE performance ≤ 100 %).

Each model's :meth:`samplers` returns ``{semantic: t → value}`` for the names it produces;
a generator named in ``simulation.points`` still wins (it breaks the relations — use it for
vendor extras, not for modelled quantities). Pure and deterministic.
"""

from __future__ import annotations

import cmath
import math
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

Sampler = Callable[[float], float]

_PHASES = ("l1", "l2", "l3")
#: Integration step of the energy counters, in simulated seconds.
_DT = 1.0


def electrical_names(phases: int = 3) -> frozenset[str]:
    """Semantic names the electrical model produces."""
    ph = _PHASES[:phases]
    names = {
        "power_active_total_w",
        "power_apparent_total_va",
        "power_reactive_total_var",
        "power_factor_total",
        "phase_angle_total_deg",
        "frequency_hz",
        "demand_active_power_w",
        "energy_active_import_total_kwh",
        "energy_active_export_total_kwh",
        "energy_active_total_kwh",
        "energy_reactive_import_total_kvarh",
        "energy_reactive_export_total_kvarh",
        "energy_reactive_total_kvarh",
        "energy_apparent_total_kvah",
    }
    for p in ph:
        names |= {
            f"voltage_{p}_n_v",
            f"current_{p}_a",
            f"power_active_{p}_w",
            f"power_apparent_{p}_va",
            f"power_reactive_{p}_var",
            f"power_factor_{p}",
            f"cos_phi_{p}",
            f"energy_active_import_{p}_kwh",
            f"energy_active_export_{p}_kwh",
            f"thd_voltage_{p}_pct",
            f"thd_current_{p}_pct",
        }
    if phases == 3:
        names |= {
            "voltage_l1_l2_v",
            "voltage_l2_l3_v",
            "voltage_l3_l1_v",
            "voltage_ln_avg_v",
            "voltage_ll_avg_v",
            "current_avg_a",
            "current_sum_a",
            "current_n_a",
        }
    return frozenset(names)


class ElectricalModel(BaseModel):
    """A meter's quantities from per-phase drivers (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    phases: int = Field(3, ge=1, le=3)
    """1 (single-phase meter: L1 only, totals = L1) or 3."""
    voltage_v: float = Field(230.0, gt=0, le=100000)
    """Nominal line-to-neutral voltage."""
    voltage_swing_v: float = Field(2.0, ge=0)
    """Slow variation of each phase voltage (±)."""
    current_a: list[float] | None = None
    """Mean current per phase (one value, or one per phase); default: 30 % of the current
    points' range, else 20 A."""
    current_swing: float = Field(0.4, ge=0, le=0.95)
    """Load variation as a fraction of the mean (0.4 = ±40 %)."""
    period_s: float = Field(300.0, gt=0)
    """Period of the load cycle."""
    power_factor: float = Field(0.92, gt=0, le=1)
    power_factor_swing: float = Field(0.03, ge=0, le=0.5)
    frequency_hz: float = Field(50.0, ge=40, le=70)
    energy_import_kwh: float = Field(0.0, ge=0)
    """Active import counter at simulated time 0 (split over the phases' own counters)."""
    energy_export_kwh: float = Field(0.0, ge=0)
    energy_reactive_kvarh: float = Field(0.0, ge=0)
    energy_apparent_kvah: float = Field(0.0, ge=0)
    thd_voltage_pct: float = Field(2.0, ge=0, le=100)
    thd_current_pct: float = Field(8.0, ge=0, le=100)

    @model_validator(mode="after")
    def _currents(self) -> ElectricalModel:
        if self.current_a is not None:
            if len(self.current_a) not in (1, self.phases):
                raise ValueError(
                    f"current_a has {len(self.current_a)} values; give 1 or {self.phases}"
                )
            if any(c < 0 for c in self.current_a):
                raise ValueError("current_a values must not be negative")
        if self.power_factor - self.power_factor_swing <= 0:
            raise ValueError("power_factor − power_factor_swing must stay above 0")
        return self

    def names(self) -> frozenset[str]:
        """Semantic names this model produces."""
        return electrical_names(self.phases)

    def samplers(self, ranges: dict[str, tuple[float, float] | None]) -> dict[str, Sampler]:
        """``{semantic: sampler}`` sharing one state; ``ranges`` (of the profile's points)
        only choose the default currents."""
        currents = self.current_a
        if currents is None:
            tops = [
                r[1]
                for n, r in ranges.items()
                if r and n.startswith("current_l") and n.endswith("_a")
            ]
            currents = [0.3 * min(tops)] if tops else [20.0]
            # Some imbalance, as on a real feeder.
            currents = [currents[0] * f for f in (1.0, 0.9, 0.95)]
        if len(currents) == 1:
            currents = currents * self.phases
        state = _ElectricalState(self, currents[: self.phases])
        return {name: state.sampler(name) for name in self.names()}


class _ElectricalState:
    """Drivers → every quantity at one instant, plus the energy integrals (cached per t)."""

    def __init__(self, model: ElectricalModel, currents: list[float]) -> None:
        self.m = model
        self.currents = currents
        self.n = model.phases
        self._t: float | None = None
        self._values: dict[str, float] = {}
        self._reset()

    def _reset(self) -> None:
        m = self.m
        self.grid_t = 0.0
        # Energy *since start* per phase; the configured start values are added on output
        # (so the total at t = 0 is exactly the start value, not a sum of rounded shares).
        self.e_imp = [0.0] * self.n
        self.e_q = m.energy_reactive_kvarh
        self.e_s = m.energy_apparent_kvah
        self.demand: float | None
        self.block_start_t, self.block_start_e, self.demand = 0.0, 0.0, None

    def drivers(self, t: float) -> tuple[list[float], list[float], list[float], float]:
        """Per-phase voltage, current, power factor, and the frequency, at ``t``."""
        m = self.m
        tau = 2 * math.pi
        v = [
            m.voltage_v + m.voltage_swing_v * math.sin(tau * (t + 97 * i) / (2.3 * m.period_s))
            for i in range(self.n)
        ]
        c = [
            self.currents[i] * (1 + m.current_swing * math.sin(tau * (t + 40 * i) / m.period_s))
            for i in range(self.n)
        ]
        pf = [
            m.power_factor
            + m.power_factor_swing * math.sin(tau * (t + 70 * i) / (1.7 * m.period_s))
            for i in range(self.n)
        ]
        pf = [min(1.0, max(0.01, x)) for x in pf]
        f = m.frequency_hz + 0.02 * math.sin(tau * t / (3.1 * m.period_s))
        return v, c, pf, f

    def powers(self, t: float) -> tuple[list[float], list[float], list[float]]:
        """Per-phase P (W), Q (var), S (VA) at ``t``."""
        v, c, pf, _ = self.drivers(t)
        s = [v[i] * c[i] for i in range(self.n)]
        p = [s[i] * pf[i] for i in range(self.n)]
        q = [s[i] * math.sqrt(max(0.0, 1 - pf[i] ** 2)) for i in range(self.n)]
        return p, q, s

    def _integrate_to(self, t: float) -> tuple[list[float], float, float]:
        """Energy counters at ``t`` (kWh per phase, kvarh, kVAh): midpoint rule on a fixed grid,
        so a counter's value at ``t`` does not depend on when it was asked."""
        if t < self.grid_t:
            self._reset()
        # Coarser steps for long jumps (a simulator asked after a day of simulated time).
        dt = max(_DT, (t - self.grid_t) / 200000)
        while self.grid_t + dt <= t:
            p, q, s = self.powers(self.grid_t + dt / 2)
            for i in range(self.n):
                self.e_imp[i] += p[i] * dt / 3.6e6
            self.e_q += sum(q) * dt / 3.6e6
            self.e_s += math.hypot(sum(p), sum(q)) * dt / 3.6e6
            self.grid_t += dt
            if self.grid_t - self.block_start_t >= 900:
                # Demand: the mean power of the last completed 15-minute block.
                e = sum(self.e_imp)
                self.demand = (e - self.block_start_e) * 3.6e6 / (self.grid_t - self.block_start_t)
                self.block_start_t, self.block_start_e = self.grid_t, e
        # The part of a step not yet on the grid, linearly (keeps the counters continuous).
        rest = t - self.grid_t
        p, q, s = self.powers(self.grid_t + rest / 2)
        e_imp = [self.e_imp[i] + p[i] * rest / 3.6e6 for i in range(self.n)]
        e_q = self.e_q + sum(q) * rest / 3.6e6
        e_s = self.e_s + math.hypot(sum(p), sum(q)) * rest / 3.6e6
        return e_imp, e_q, e_s

    def values(self, t: float) -> dict[str, float]:
        """Every quantity at ``t``."""
        if t == self._t:
            return self._values
        t = max(t, 0.0)
        m, n = self.m, self.n
        v, c, pf, f = self.drivers(t)
        p, q, s = self.powers(t)
        out: dict[str, float] = {}
        for i in range(n):
            ph = _PHASES[i]
            out[f"voltage_{ph}_n_v"] = v[i]
            out[f"current_{ph}_a"] = c[i]
            out[f"power_active_{ph}_w"] = p[i]
            out[f"power_reactive_{ph}_var"] = q[i]
            out[f"power_apparent_{ph}_va"] = s[i]
            out[f"power_factor_{ph}"] = pf[i]
            out[f"cos_phi_{ph}"] = pf[i]
            out[f"thd_voltage_{ph}_pct"] = m.thd_voltage_pct * (1 + 0.1 * math.sin(t / 97 + i))
            out[f"thd_current_{ph}_pct"] = m.thd_current_pct * (1 + 0.1 * math.sin(t / 83 + i))
        p_tot, q_tot = sum(p), sum(q)
        s_tot = math.hypot(p_tot, q_tot)  # vector apparent power: S² = P² + Q²
        out["power_active_total_w"] = p_tot
        out["power_reactive_total_var"] = q_tot
        out["power_apparent_total_va"] = s_tot
        pf_tot = p_tot / s_tot if s_tot else 1.0
        out["power_factor_total"] = pf_tot
        out["phase_angle_total_deg"] = math.degrees(math.acos(min(1.0, pf_tot)))
        out["frequency_hz"] = f
        if n == 3:
            # Phasors at 0°, −120°, +120°: line-to-line voltages are their differences.
            ang = [0.0, -2 * math.pi / 3, 2 * math.pi / 3]
            vp = [cmath.rect(v[i], ang[i]) for i in range(3)]
            ll = [abs(vp[0] - vp[1]), abs(vp[1] - vp[2]), abs(vp[2] - vp[0])]
            out["voltage_l1_l2_v"], out["voltage_l2_l3_v"], out["voltage_l3_l1_v"] = ll
            out["voltage_ln_avg_v"] = sum(v) / 3
            out["voltage_ll_avg_v"] = sum(ll) / 3
            out["current_avg_a"] = sum(c) / 3
            out["current_sum_a"] = sum(c)
            # Each current lags its voltage by acos(PF): the neutral carries their phasor sum.
            out["current_n_a"] = abs(
                sum(cmath.rect(c[i], ang[i] - math.acos(pf[i])) for i in range(3))
            )
        e_imp, e_q, e_s = self._integrate_to(t)
        for i in range(n):
            out[f"energy_active_import_{_PHASES[i]}_kwh"] = m.energy_import_kwh / n + e_imp[i]
            out[f"energy_active_export_{_PHASES[i]}_kwh"] = m.energy_export_kwh / n
        total = m.energy_import_kwh + sum(e_imp)
        out["energy_active_import_total_kwh"] = total
        out["energy_active_export_total_kwh"] = m.energy_export_kwh
        out["energy_active_total_kwh"] = total + m.energy_export_kwh
        out["energy_reactive_import_total_kvarh"] = e_q
        out["energy_reactive_export_total_kvarh"] = 0.0
        out["energy_reactive_total_kvarh"] = e_q
        out["energy_apparent_total_kvah"] = e_s
        out["demand_active_power_w"] = self.demand if self.demand is not None else p_tot
        self._t, self._values = t, out
        return out

    def sampler(self, name: str) -> Sampler:
        return lambda t: self.values(t)[name]


MACHINE_NAMES = frozenset(
    {
        "machine_running",
        "machine_state_code",
        "count_good",
        "count_reject",
        "count_total",
        "cycle_time_s",
    }
)


class MachineModel(BaseModel):
    """A machine that runs in a pattern and makes parts no faster than its ideal cycle."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    running: list[int] = Field(default_factory=lambda: [1, 1, 1, 1, 0, 1, 0, 1], min_length=1)
    """Running (1) or stopped (0), one entry per ``step_s``, repeated."""
    step_s: float = Field(30.0, gt=0)
    stop_codes: list[int] = Field(default_factory=lambda: [2, 3], min_length=1)
    """``machine_state_code`` values of the successive stops (1 = running)."""
    ideal_cycle_s: float = Field(2.0, gt=0)
    """The fastest cycle (the recipe's ``ideal_cycle_s``); the machine is never faster."""
    slowdown: tuple[float, float] = (1.08, 1.3)
    """The actual cycle time swings between ideal × these factors (both ≥ 1)."""
    reject_ratio: float = Field(0.03, ge=0, lt=1)
    good_start: int = Field(0, ge=0)
    reject_start: int = Field(0, ge=0)
    wrap: int | None = Field(None, gt=1)
    """Counter modulus (65536 for a 16-bit PLC counter)."""

    @model_validator(mode="after")
    def _slower_than_ideal(self) -> MachineModel:
        lo, hi = self.slowdown
        if lo < 1 or hi < lo:
            raise ValueError(
                f"slowdown {list(self.slowdown)} must be [low, high] with 1 ≤ low ≤ high: "
                "a machine never cycles faster than its ideal cycle time"
            )
        return self

    def names(self) -> frozenset[str]:
        """Semantic names this model produces."""
        return MACHINE_NAMES

    def samplers(self, ranges: dict[str, Any] | None = None) -> dict[str, Sampler]:
        """``{semantic: sampler}`` sharing one state."""
        state = _MachineState(self)
        return {name: state.sampler(name) for name in MACHINE_NAMES}


class _MachineState:
    def __init__(self, m: MachineModel) -> None:
        self.m = m
        self._reset()

    def _reset(self) -> None:
        self.grid_t, self.parts = 0.0, 0.0

    def running(self, t: float) -> int:
        m = self.m
        return 1 if m.running[int(max(t, 0.0) // m.step_s) % len(m.running)] else 0

    def cycle(self, t: float) -> float:
        m = self.m
        lo, hi = m.slowdown
        x = 0.5 + 0.5 * math.sin(2 * math.pi * t / 420.0)
        return m.ideal_cycle_s * (lo + (hi - lo) * x)

    def parts_at(self, t: float) -> float:
        if t < self.grid_t:
            self._reset()
        step = 0.5
        while self.grid_t + step <= t:
            mid = self.grid_t + step / 2
            self.parts += self.running(mid) * step / self.cycle(mid)
            self.grid_t += step
        mid = (self.grid_t + t) / 2
        return self.parts + self.running(mid) * (t - self.grid_t) / self.cycle(mid)

    def value(self, name: str, t: float) -> float:
        m = self.m
        t = max(t, 0.0)
        if name == "machine_running":
            return float(self.running(t))
        if name == "machine_state_code":
            if self.running(t):
                return 1.0
            stops = sum(1 for k in range(int(t // m.step_s)) if not m.running[k % len(m.running)])
            return float(m.stop_codes[stops % len(m.stop_codes)])
        if name == "cycle_time_s":
            return self.cycle(t)
        # Whole parts decide good/reject: n − ⌊n·r⌋ never decreases as n grows (r < 1), so
        # neither counter ever goes down. Rounding the fractional part count instead turned a
        # counted good part into a reject (good 10033 → 10032), which a consumer must read as
        # a counter reset.
        made = math.floor(self.parts_at(t))
        rejects = math.floor(made * m.reject_ratio)
        good = made - rejects
        value = {
            "count_good": m.good_start + good,
            "count_reject": m.reject_start + rejects,
            "count_total": m.good_start + m.reject_start + good + rejects,
        }[name]
        return float(value % m.wrap if m.wrap else value)

    def sampler(self, name: str) -> Sampler:
        return lambda t: self.value(name, t)


def model_samplers(
    electrical: ElectricalModel | None,
    machine: MachineModel | None,
    points: dict[str, tuple[float, float] | None],
) -> dict[str, Sampler]:
    """Samplers of the modelled quantities among ``points`` (``{semantic: range}``).

    The electrical model applies with defaults when a profile has electrical points but no
    ``electrical`` section (every meter profile gets consistent values for free); the machine
    model only when declared (a PLC's counters mean what its program makes them mean).
    """
    out: dict[str, Sampler] = {}
    if electrical is None:
        phases = 3 if any(n.startswith(("voltage_l2", "current_l2")) for n in points) else 1
        if any(n in electrical_names(phases) for n in points):
            electrical = ElectricalModel(phases=phases)
    if electrical is not None:
        out.update({k: v for k, v in electrical.samplers(points).items() if k in points})
    if machine is not None:
        out.update({k: v for k, v in machine.samplers().items() if k in points})
    return out

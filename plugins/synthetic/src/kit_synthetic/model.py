"""A small, deterministic machine model: state, counters, power, temperature, vibration.

Pure (no I/O): ``MachineModel.step(dt)`` advances the simulated machine and returns its
signals. Seeded, so tests and benchmarks are reproducible.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

#: State codes follow a PackML-like mapping documented in docs/vocabulary.md.
STATE_RUNNING, STATE_IDLE, STATE_DOWN = 1, 2, 3
_NAMES = {STATE_RUNNING: "running", STATE_IDLE: "idle", STATE_DOWN: "down"}

# Mean dwell time in each state (s) and where it goes next.
_DWELL = {STATE_RUNNING: 240.0, STATE_IDLE: 45.0, STATE_DOWN: 90.0}
_NEXT = {
    STATE_RUNNING: [(STATE_IDLE, 0.7), (STATE_DOWN, 0.3)],
    STATE_IDLE: [(STATE_RUNNING, 1.0)],
    STATE_DOWN: [(STATE_RUNNING, 1.0)],
}


@dataclass
class MachineModel:
    """One simulated machine with an energy meter and a vibration/temperature sensor."""

    seed: int = 1
    ideal_cycle_s: float = 2.0
    reject_rate: float = 0.03
    rated_power_w: float = 15000.0
    idle_power_w: float = 3500.0
    fault_onset_s: float = 600.0
    """Seconds after start when a bearing fault starts to develop (vibration drifts up)."""
    fault_growth_mm_s_per_h: float = 6.0
    t: float = 0.0
    state: int = STATE_RUNNING
    count_good: int = 0
    count_reject: int = 0
    energy_kwh: float = 0.0
    temperature_c: float = 35.0
    _until: float = 0.0
    _part_phase: float = 0.0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self._rng.seed(self.seed)
        self._until = self._rng.expovariate(1 / _DWELL[self.state])

    def _transition(self) -> None:
        r, acc = self._rng.random(), 0.0
        for nxt, p in _NEXT[self.state]:
            acc += p
            if r <= acc:
                self.state = nxt
                break
        self._until = self.t + self._rng.expovariate(1 / _DWELL[self.state])

    def step(self, dt: float) -> dict[str, float | int | bool]:
        """Advance ``dt`` seconds; return every signal by semantic name."""
        self.t += dt
        while self.t >= self._until:
            self._transition()
        running = self.state == STATE_RUNNING
        if running:
            self._part_phase += dt / self.ideal_cycle_s * self._rng.uniform(0.85, 1.0)
            while self._part_phase >= 1.0:
                self._part_phase -= 1.0
                if self._rng.random() < self.reject_rate:
                    self.count_reject += 1
                else:
                    self.count_good += 1
        base = (
            self.rated_power_w * self._rng.uniform(0.8, 1.0)
            if running
            else (
                self.idle_power_w * self._rng.uniform(0.9, 1.1)
                if self.state == STATE_IDLE
                else 400.0
            )
        )
        power = base
        self.energy_kwh += power * dt / 3_600_000
        target_temp = 62.0 if running else 30.0
        self.temperature_c += (target_temp - self.temperature_c) * min(
            1.0, dt / 600
        ) + self._rng.gauss(0, 0.05)
        fault = max(0.0, self.t - self.fault_onset_s) / 3600 * self.fault_growth_mm_s_per_h
        vib = (1.8 + fault if running else 0.2) * (1 + 0.05 * math.sin(self.t / 7)) + abs(
            self._rng.gauss(0, 0.05)
        )
        return {
            "machine_running": running,
            "machine_state_code": self.state,
            "count_good": self.count_good,
            "count_reject": self.count_reject,
            "power_active_total_w": round(power, 1),
            "energy_active_import_total_kwh": round(self.energy_kwh, 4),
            "temperature_c": round(self.temperature_c, 2),
            "vibration_velocity_rms_mm_s": round(vib, 3),
        }

    @property
    def state_name(self) -> str:
        """``running``, ``idle`` or ``down``."""
        return _NAMES[self.state]

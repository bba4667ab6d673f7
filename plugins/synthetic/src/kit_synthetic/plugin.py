"""The ``synthetic`` source component and its hook implementations."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

import kit
from kit.components import ComponentContext, Source
from kit_synthetic.model import MachineModel

UNITS = {
    "power_active_total_w": "W",
    "energy_active_import_total_kwh": "kWh",
    "temperature_c": "°C",
    "vibration_velocity_rms_mm_s": "mm/s",
    "count_good": None,
    "count_reject": None,
    "machine_running": None,
    "machine_state_code": None,
}


class SyntheticConfig(BaseModel):
    """Settings of one synthetic machine."""

    model_config = ConfigDict(extra="forbid")

    interval_s: float = Field(1.0, gt=0)
    """Seconds between sample batches."""
    seed: int = 1
    """Random seed; the same seed gives the same signals."""
    speedup: float = Field(1.0, gt=0)
    """Simulated seconds per real second (e.g. 60 to see a shift's pattern in minutes)."""
    ideal_cycle_s: float = Field(2.0, gt=0)
    """Ideal cycle time of the simulated machine (seconds per part)."""
    fault_onset_s: float = Field(600.0, ge=0)
    """Simulated seconds until the developing vibration fault starts."""
    extra_points: int = Field(0, ge=0, le=100_000)
    """Additional analog channels ``channel_<n>`` (for load tests and benchmarks)."""
    max_batches: int | None = Field(None, ge=1)
    """Stop after this many batches (tests); None runs forever."""


class SyntheticMachine(Source[SyntheticConfig]):
    """Realistic machine signals without a device: state cycles running/idle/down, part and
    reject counters, power and energy, temperature, vibration with a developing fault."""

    name: ClassVar[str] = "synthetic"
    summary: ClassVar[str] = (
        "simulated machine signals (state, counts, power, energy, temperature, vibration)"
    )
    Config: ClassVar[type[BaseModel]] = SyntheticConfig
    #: Semantic points every batch carries (recipes check their bindings against this).
    provides: ClassVar[frozenset[str]] = frozenset(UNITS)

    def __init__(self, config: SyntheticConfig, ctx: ComponentContext) -> None:
        super().__init__(config, ctx)
        self.model = MachineModel(
            seed=config.seed, ideal_cycle_s=config.ideal_cycle_s, fault_onset_s=config.fault_onset_s
        )
        self.batches = 0

    async def run(self) -> None:
        """Publish one batch every ``interval_s`` on the component's asset."""
        cfg = self.config
        clock = self.ctx.clock
        names = list(self.model.step(0.0))
        extra = [f"channel_{i}" for i in range(cfg.extra_points)]
        # The adapters' hot path: a fixed point list, values only per cycle.
        writer = self.ctx.sample_writer(
            [(n, UNITS.get(n)) for n in names] + [(n, None) for n in extra]
        )
        next_at = clock.monotonic()
        while cfg.max_batches is None or self.batches < cfg.max_batches:
            values = self.model.step(cfg.interval_s * cfg.speedup)
            row = [values[n] for n in names]
            offset = values["temperature_c"] / 100
            row.extend(float(i) + offset for i in range(cfg.extra_points))
            await writer.publish(row)
            self.batches += 1
            # Aligned schedule: drift-free, and a slow publish shortens the next wait.
            next_at += cfg.interval_s
            await clock.sleep(max(0.0, next_at - clock.monotonic()))

    def metrics(self) -> dict[str, Any]:
        """Batches published and the simulated state."""
        return {"batches": self.batches, "state": self.model.state_name}


@kit.hookimpl
def register_components(register: Any) -> None:
    """Register the synthetic source."""
    register.add(SyntheticMachine)

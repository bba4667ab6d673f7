"""Continuous data quality (issue 12): the adapter checks its device's live values against the
physics relations, rate-limited, and counts violations in device health (shown by kit status)."""

from __future__ import annotations

import logging

import meter_emulator as me

from kit.cli.core_cmds import plausibility_line
from kit.testing import wait_for


def _cfg(emu, prof):
    return {
        "profile": str(prof),
        "host": emu.host,
        "port": emu.port,
        "poll_interval_s": 0.02,
        "plausibility_interval_s": 0.05,
        "health_interval_s": 0.05,
    }


async def test_consistent_meter_has_no_violations(meter, run_adapter, tmp_path):
    emu = await meter()
    prof = tmp_path / "emu.yaml"
    prof.write_text(me.profile_yaml())
    r = await run_adapter(_cfg(emu, prof))
    await wait_for(
        lambda: r.adapter.plausibility.evaluations >= 3, message="three plausibility checks"
    )
    s = r.adapter.metrics()["plausibility"]
    assert s["violations"] == 0 and s["violated_now"] == []


async def test_inconsistent_total_is_counted_in_health_and_status(
    meter, run_adapter, tmp_path, caplog
):
    caplog.set_level(logging.WARNING)
    emu = await meter()
    # The meter's total disagrees with its phases (what a wrong register or CT setting shows).
    emu.set_value("power_active_total_w", 6553.6)
    prof = tmp_path / "emu.yaml"
    prof.write_text(me.profile_yaml())
    r = await run_adapter(_cfg(emu, prof))
    await wait_for(
        lambda: any(
            (h.get("metrics") or {}).get("plausibility", {}).get("violations", 0) >= 2
            for h in r.health
        ),
        message="violations in device health",
    )
    h = next(h for h in reversed(r.health) if (h.get("metrics") or {}).get("plausibility"))
    plaus = h["metrics"]["plausibility"]
    assert "Σ phase P ≈ total P" in plaus["violated_now"]
    assert "6553.6" in plaus["last"]["Σ phase P ≈ total P"]
    line = plausibility_line({"metrics": h["metrics"]})
    assert line is not None and "violated now: " in line and "Σ phase P ≈ total P" in line
    # Logged once when it started, not once per check.
    said = [
        x for x in caplog.records if "implausible values: Σ phase P ≈ total P" in x.getMessage()
    ]
    assert len(said) == 1
    # The device is fixed: the relation holds again and that is said once.
    emu.set_value(
        "power_active_total_w", sum(emu.expected[f"power_active_{p}_w"] for p in ("l1", "l2", "l3"))
    )
    await wait_for(
        lambda: "Σ phase P ≈ total P" not in r.adapter.plausibility.violated_now,
        message="plausible again",
    )
    assert any("plausible again: Σ phase P ≈ total P" in x.getMessage() for x in caplog.records)

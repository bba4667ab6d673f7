"""Fingerprint scoring (pure): random registers match no shipped profile; a profile's own
values match it; an identity mismatch excludes a profile whatever its values say."""

from __future__ import annotations

import random

import meter_emulator as me
import pytest
from kit_modbus import fingerprint as fp
from kit_modbus.identity import IdentityResult

from kit.library import Library
from kit.plugins import get_plugin_manager
from kit.profiles import load_profile
from kit.scan.inventory import MATCH_THRESHOLD, PRIOR


@pytest.fixture(scope="module")
def shipped():
    return Library(get_plugin_manager(), None).profiles().by_protocol("modbus")


@pytest.mark.parametrize("seed", range(8))
def test_random_registers_match_no_shipped_profile(shipped, seed):
    rng = random.Random(seed)
    for prof in shipped:
        pl = fp.plan(prof)
        regs = {r: [rng.randrange(65536) for _ in range(r.count)] for r in pl.reads}
        j = fp.judge(pl, regs)
        assert j.confidence < MATCH_THRESHOLD, (prof.id, j.score, j.evidence)


def _emulator_regs(pl: fp.Plan, emu: me.MeterEmulator) -> dict:
    return {
        r: [emu.registers.get(a, 0) for a in range(r.start, r.start + r.count)] for r in pl.reads
    }


def test_the_emulators_values_match_its_profile_and_an_identity_mismatch_excludes(tmp_path):
    path = tmp_path / "emu.yaml"
    path.write_text(me.profile_yaml(extra=me.IDENTITY_YAML))
    prof = load_profile(path, get_plugin_manager())
    emu = me.MeterEmulator()
    pl = fp.plan(prof)
    j = fp.judge(pl, _emulator_regs(pl, emu))
    assert j.confidence >= MATCH_THRESHOLD and any("√3" in e for e in j.evidence)
    wrong = [IdentityResult("model_code", "mismatch", 340, "341")]
    x = fp.judge(pl, _emulator_regs(pl, emu), identity=wrong)
    assert x.excluded and x.confidence == 0.0
    assert "model_code = 340 (profile expects 341)" in x.evidence[0]
    # All-zero registers are no evidence either way (unwritten memory reads as zero).
    zeros = fp.judge(pl, {r: [0] * r.count for r in pl.reads})
    assert zeros.score == 0 and zeros.confidence < MATCH_THRESHOLD


def test_confidence_formula():
    assert fp.Judgement("x", PRIOR).confidence == pytest.approx(0.5)
    assert fp.Judgement("x", PRIOR + 1).confidence == pytest.approx(10 / 11)
    assert fp.Judgement("x", 100.0, excluded=True).confidence == 0.0


def test_plans_are_bounded(shipped):
    for prof in shipped:
        pl = fp.plan(prof)
        assert len(pl.points) <= fp.MAX_POINTS
        assert all(r.count <= fp.MAX_READ for r in pl.reads)

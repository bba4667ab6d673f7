"""Every shipped Modbus profile loads, validates, cites its source and simulates inside its ranges."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from kit_modbus.profile import ModbusProfile
from kit_modbus.profile_types import TYPES

from kit.builtin import shipped_dir
from kit.profiles import ProfileLibrary, load_profile

PROFILE_DIR = shipped_dir("hardware_profiles")
FILES = sorted(PROFILE_DIR.glob("*.yaml"))

# Categories the issue asks for, each with at least this many profiles.
REQUIRED = {"energy_meter": 7, "drive": 4, "remote_io": 3, "sensor": 1, "controller": 1, "plc": 2}


@pytest.fixture(scope="module")
def library(host):
    return ProfileLibrary(host).load()


def test_library_has_no_problems_and_enough_profiles(library):
    assert library.problems == []
    assert len(library.profiles) >= 14
    counts: dict[str, int] = {}
    for prof in library.profiles.values():
        counts[prof.category] = counts.get(prof.category, 0) + 1
    for category, n in REQUIRED.items():
        assert counts.get(category, 0) >= n, (category, counts)


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_profile_loads_and_is_consistent(path: Path, host):
    assert path.read_text(encoding="utf-8").startswith(
        "# yaml-language-server: $schema=schema/modbus-profile.schema.json\n"
    ), "editor completion line"
    prof = load_profile(path, host)
    assert isinstance(prof, ModbusProfile)
    assert prof.id == path.stem, "file name must equal the profile id"
    assert prof.source.title.strip() and prof.source.section, (
        "every profile cites a manual and section"
    )
    assert prof.verified is False, "no shipped profile has been checked on hardware yet"
    conn = prof.connection
    for p in prof.points:
        assert p.table in ("coil", "discrete", "input", "holding")
        assert 0 <= p.pdu_address and p.pdu_address + p.count - 1 <= 65535
        spec = TYPES[p.type]
        expected = (
            ((p.length + 1) // 2)
            if p.type == "string"
            else (1 if p.type == "bool" else spec.registers)
        )
        assert p.count == expected
        if p.table in ("coil", "discrete"):
            assert p.type == "bool" and p.byte_order is None
        elif p.type == "bit":
            assert p.bit is not None and p.byte_order is None
        elif spec.registers == 1:
            # Word order means nothing for one register; only the byte swap survives.
            # (No shipped 16-bit point overrides the order.)
            assert p.byte_order == ("ABCD" if conn.byte_order in ("ABCD", "CDAB") else "BADC")
        else:
            assert p.byte_order in ("ABCD", "CDAB", "BADC", "DCBA")
        assert p.count <= (
            conn.max_bits_per_read
            if p.table in ("coil", "discrete")
            else conn.max_registers_per_read
        )


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_unverified_marks_follow_the_notes(path: Path, host):
    """A point whose note speaks of a conflict or doubt is flagged unverified."""
    prof = load_profile(path, host)
    for p in prof.points:
        text = (p.note + " " + p.description).upper()
        if "CONFLICT" in text or "UNVERIFIED" in text or "NOT CONFIRMED" in text:
            assert p.unverified, p.semantic


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_simulation_stays_inside_expected_ranges(path: Path, host):
    """Over a simulated day, every point's value is inside its range and encodable in its type."""
    prof = load_profile(path, host)
    if prof.is_parameterised:
        prof = prof.resolve({})
    for p in prof.points:
        sample = prof.generator(p).sampler(prof.simulation.seed)
        spec = TYPES[p.type]
        for t in range(0, 86400, 97):
            v = sample(float(t))
            if p.type == "string":
                assert isinstance(v, str)
                continue
            assert math.isfinite(v), (p.semantic, t, v)
            if p.type in ("bool", "bit"):
                assert v in (0.0, 1.0), (p.semantic, v)
                continue
            if p.range is not None:
                assert p.range[0] <= v <= p.range[1], (p.semantic, t, v, p.range)
            if spec.raw_min is not None:
                raw = round((v - p.offset) / p.scale)
                assert spec.raw_min <= raw <= spec.raw_max, (p.semantic, t, v, raw)


def test_every_explicit_generator_names_a_point(library):
    for prof in library.profiles.values():
        names = {p.semantic for p in prof.points}
        assert set(prof.simulation.points) <= names, prof.id


def test_semantic_points_are_published_names(library):
    prof = library.get("eastron-sdm630")
    assert "power_active_total_w" in prof.semantic_points()
    assert prof.point("power_active_total_w").pdu_address == 30053 - 30001

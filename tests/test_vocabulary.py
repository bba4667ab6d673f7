"""The semantic vocabulary: name checks, suggestions, units, and the generated docs page."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit import vocabulary

DOCS = Path(__file__).resolve().parent.parent / "docs" / "vocabulary.md"

# The names the issue lists explicitly; each must be a standard term with this unit.
REQUIRED = {
    "power_active_total_w": "W",
    "power_active_l1_w": "W",
    "power_active_l3_w": "W",
    "power_reactive_total_var": "var",
    "power_apparent_total_va": "VA",
    "power_factor_total": None,
    "voltage_l1_n_v": "V",
    "voltage_l3_n_v": "V",
    "voltage_l1_l2_v": "V",
    "current_l1_a": "A",
    "current_n_a": "A",
    "frequency_hz": "Hz",
    "energy_active_import_total_kwh": "kWh",
    "energy_active_export_total_kwh": "kWh",
    "energy_reactive_import_total_kvarh": "kvarh",
    "demand_active_power_w": "W",
    "machine_running": None,
    "machine_state_code": None,
    "count_good": None,
    "count_reject": None,
    "count_total": None,
    "cycle_time_s": "s",
    "speed_rpm": "rpm",
    "motor_current_a": "A",
    "motor_torque_pct": "%",
    "dc_bus_voltage_v": "V",
    "drive_fault_code": None,
    "drive_status_word": None,
    "output_frequency_hz": "Hz",
    "temperature_c": "°C",
    "temperature_setpoint_c": "°C",
    "vibration_velocity_rms_mm_s": "mm/s",
    "vibration_velocity_rms_x_mm_s": "mm/s",
    "vibration_velocity_rms_z_mm_s": "mm/s",
    "vibration_acceleration_rms_g": "g",
    "dimension_mm": "mm",
    "pressure_bar": "bar",
    "flow_m3_h": "m³/h",
}


@pytest.mark.parametrize(("name", "unit"), sorted(REQUIRED.items()))
def test_required_terms(name, unit):
    term = vocabulary.TERMS[name]
    assert term.unit == unit
    assert vocabulary.check_name(name) is None


def test_unit_suffix_matches_unit():
    """The unit in the name and the declared unit agree (``_kwh`` ↔ kWh, ``_mm_s`` ↔ mm/s …)."""
    suffix_units = {
        "_w": "W",
        "_var": "var",
        "_va": "VA",
        "_v": "V",
        "_a": "A",
        "_hz": "Hz",
        "_kwh": "kWh",
        "_kvarh": "kvarh",
        "_kvah": "kVAh",
        "_pct": "%",
        "_c": "°C",
        "_mm_s": "mm/s",
        "_g": "g",
        "_s": "s",
        "_mm": "mm",
        "_bar": "bar",
        "_m3_h": "m³/h",
        "_rpm": "rpm",
        "_deg": "°",
        "_h": "h",
    }
    for name, term in vocabulary.TERMS.items():
        matches = [s for s in suffix_units if name.endswith(s)]
        if term.unit is None:
            continue
        assert matches, f"{name} has unit {term.unit} but no unit suffix"
        longest = max(matches, key=len)
        assert suffix_units[longest] == term.unit, name


def test_patterns_and_vendor_prefix():
    assert vocabulary.check_name("digital_input_0") is None
    assert vocabulary.check_name("digital_output_15") is None
    assert vocabulary.check_name("analog_input_7") is None
    assert vocabulary.lookup("digital_input_3").kind == "bool"
    assert vocabulary.lookup("analog_input_3").free_unit
    assert vocabulary.check_name("digital_input_01") is not None, (
        "no leading zeros: one name per channel"
    )
    assert vocabulary.check_name("x_my_vendor_value") is None
    assert "vendor-specific name 'x_Bad'" in vocabulary.check_name("x_Bad")
    assert vocabulary.check_name("x_") is not None


def test_unknown_names_get_a_suggestion():
    msg = vocabulary.check_name("power_activ_total_w")
    assert msg.startswith(
        "unknown semantic name 'power_activ_total_w' (did you mean 'power_active_total_w'?)"
    )
    assert "'x_'" in msg
    msg = vocabulary.check_name("digital_inputs_3")
    assert "did you mean 'digital_input_0'" in msg
    assert "did you mean" not in vocabulary.check_name("zzzz")


def test_unit_check():
    assert vocabulary.check_unit("power_active_total_w", "W") is None
    assert vocabulary.check_unit("power_active_total_w", None) is None
    assert "scale" in vocabulary.check_unit("power_active_total_w", "kW")
    assert vocabulary.check_unit("analog_input_0", "bar") is None
    assert vocabulary.check_unit("x_anything", "furlong") is None
    assert "no unit" in vocabulary.check_unit("count_good", "pcs")


def test_machine_states_match_the_synthetic_source():
    """The synthetic machine publishes the same codes (1 running, 2 idle, 3 down)."""
    from kit_synthetic import model

    assert vocabulary.MACHINE_STATES[model.STATE_RUNNING][0] == "running"
    assert vocabulary.MACHINE_STATES[model.STATE_IDLE][0] == "idle"
    assert vocabulary.MACHINE_STATES[model.STATE_DOWN][0] == "down"
    assert vocabulary.MACHINE_STATES[4][0] == "setup"


def test_docs_page_is_generated_from_the_module():
    assert DOCS.read_text(encoding="utf-8") == vocabulary.render_markdown(), (
        "docs/vocabulary.md is stale; run `uv run python -m kit.vocabulary > docs/vocabulary.md`"
    )
    text = DOCS.read_text(encoding="utf-8")
    for name in REQUIRED:
        assert f"`{name}`" in text


def test_library_finds_profiles_by_semantic_points():
    """ProfileLibrary.providing: recipes bind to meanings, so any meter with the points fits."""
    from kit.plugins import get_plugin_manager
    from kit.profiles import ProfileLibrary

    lib = ProfileLibrary(get_plugin_manager()).load()
    wanted = {"power_active_total_w", "energy_active_import_total_kwh"}
    found = {p.id for p in lib.providing(wanted)}
    expected = {
        pid for pid, p in lib.profiles.items() if wanted <= {pt.semantic for pt in p.points}
    }
    assert found == expected
    assert {"eastron-sdm630", "siemens-pac3200", "abb-b23"} <= found
    assert "siemens-s7-mb-server" not in found
    plc = {p.id for p in lib.providing(["machine_running", "count_good", "count_reject"])}
    assert {"siemens-s7-mb-server", "schneider-modicon-mw"} <= plc
    assert not plc & {"eastron-sdm630", "banner-qm30vt2"}
    assert all(p.protocol == "modbus" for p in lib.by_protocol("modbus"))

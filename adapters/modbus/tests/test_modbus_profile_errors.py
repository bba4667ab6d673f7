"""Bad profiles are rejected with ``file:line: field: message`` naming the point; parameterised
profiles resolve with errors naming the parameter; the JSON Schema is fresh."""

from __future__ import annotations

import pytest
from modbus_profile_helpers import HEADER, line_of, problems, write

from kit.profiles import load_profile


def test_every_cross_field_problem_is_reported_at_its_line(tmp_path, host):
    path, lines = write(
        tmp_path,
        """\
      - semantic: power_activ_total_w
        address: 30053
        type: float32
      - semantic: voltage_l1_n_v
        address: 30101
        type: float32
        bit: 3
      - semantic: current_l1_a
        table: holding
        address: 30007
        type: float32
      - semantic: frequency_hz
        address: 30054
        type: float32
      - semantic: count_good
        address: 465536
        type: uint32
      - semantic: power_active_l1_w
        address: 30201
        type: float32
        unit: kW
    """,
    )
    probs = problems(path, host)
    f = str(path)
    assert (
        f"{f}:{line_of(lines, 'power_activ_total_w')}: points[0].semantic: point 'power_activ_total_w': "
        "unknown semantic name 'power_activ_total_w' (did you mean 'power_active_total_w'?)"
        in probs[0]
    )
    assert probs[1].startswith(
        f"{f}:{line_of(lines, 'bit: 3')}: points[1].bit: point 'voltage_l1_n_v': "
        "bit is only allowed with type bit, not float32"
    )
    assert probs[2].startswith(
        f"{f}:{line_of(lines, 'address: 30007')}: points[2].address: point 'current_l1_a': "
        "Modicon reference 30007 is an input address"
    )
    # 30054 is PDU 53, the second register of the float at 30053 (PDU 52..53).
    assert probs[3].startswith(
        f"{f}:{line_of(lines, 'address: 30054')}: points[3].address: point 'frequency_hz': "
        "overlaps points[0] (power_activ_total_w) at input PDU 53"
    )
    assert probs[4].startswith(
        f"{f}:{line_of(lines, 'address: 465536')}: points[4].address: point 'count_good': "
        "PDU 65535 + 2 register(s) runs past 65535"
    )
    assert probs[5].startswith(
        f"{f}:{line_of(lines, 'unit: kW')}: points[5].unit: point 'power_active_l1_w': "
        "unit 'kW' does not match"
    )
    assert len(probs) == 6


@pytest.mark.parametrize(
    ("point", "needle", "field", "message"),
    [
        (
            "{semantic: machine_running, address: 40001, type: bool}",
            "machine_running",
            "type",
            "type bool cannot live in the holding table",
        ),
        (
            "{semantic: count_good, address: '00001', type: int32}",
            "count_good",
            "type",
            "type int32 cannot live in the coil table",
        ),
        (
            "{semantic: x_name, address: 40001, type: uint16, length: 4}",
            "x_name",
            "length",
            "length is only allowed with type string or version, not uint16",
        ),
        (
            "{semantic: x_name, address: 40001, type: bit}",
            "x_name",
            "bit",
            "type bit needs bit: 0…15",
        ),
        (
            "{semantic: x_name, address: 40001, type: string}",
            "x_name",
            "length",
            "type string needs length",
        ),
        (
            "{semantic: x_name, address: 40001, type: int16, byte_order: CDAB}",
            "x_name",
            "byte_order",
            "CDAB swaps words, but int16 is one register",
        ),
        (
            "{semantic: x_name, address: 30001, type: uint16, access: rw}",
            "x_name",
            "access",
            "the input table is read-only",
        ),
        (
            "{semantic: x_name, address: 20001, type: uint16}",
            "x_name",
            "address",
            "Modicon reference 20001 starts with 2",
        ),
        (
            "{semantic: temperature_c, address: 40001, type: int16, scale: 0.001, range: [-40, 120]}",
            "temperature_c",
            "range",
            "needs raw values -40000…120000 but int16 holds -32768…32767",
        ),
        (
            "{semantic: x_name, address: 40001}",
            "x_name",
            "type",
            "type is required for a holding register",
        ),
        (
            "{semantic: x_Bad-name, address: 40001, type: uint16}",
            "x_Bad-name",
            "semantic",
            "vendor-specific name 'x_Bad-name' must be x_ followed by",
        ),
    ],
)
def test_type_table_legality(tmp_path, host, point, needle, field, message):
    path, lines = write(tmp_path, f"  - {point}\n")
    probs = problems(path, host)
    assert len(probs) == 1, probs
    expected_prefix = f"{path}:{line_of(lines, needle)}: points[0].{field}: point '{needle}': "
    assert probs[0].startswith(expected_prefix), probs[0]
    assert message in probs[0], probs[0]


def test_two_bits_of_one_register_do_not_overlap_but_the_same_bit_does(tmp_path, host):
    ok, _ = write(
        tmp_path,
        """\
      - {semantic: digital_input_0, address: 40010, type: bit, bit: 0}
      - {semantic: digital_input_1, address: 40010, type: bit, bit: 1}
      - {semantic: drive_status_word, address: 40010, type: uint16, overlap: true}
    """,
    )
    prof = load_profile(ok, host)
    assert [p.pdu_address for p in prof.points] == [9, 9, 9]
    bad, lines = write(
        tmp_path,
        """\
      - {semantic: digital_input_0, address: 40010, type: bit, bit: 0}
      - {semantic: digital_input_1, address: 40010, type: bit, bit: 0}
    """,
    )
    probs = problems(bad, host)
    assert probs == [
        f"{bad}:{line_of(lines, 'digital_input_1')}: points[1].address: point 'digital_input_1': "
        "overlaps points[0] (digital_input_0) at holding PDU 9; fix the address, or set "
        "overlap: true if both really read it"
    ]


def test_duplicate_semantic_and_simulation_problems(tmp_path, host):
    path, lines = write(
        tmp_path,
        """\
      - {semantic: temperature_c, address: 40001, type: int16, scale: 0.1, range: [0, 100]}
      - {semantic: temperature_c, address: 40002, type: int16, scale: 0.1, range: [0, 100]}
    """,
        tail="""\
    simulation:
      points:
        temperatur_c: {generator: constant, value: 20}
    """,
    )
    probs = problems(path, host)
    assert probs[0].startswith(
        f"{path}:{line_of(lines, 'address: 40002')}: points[1].semantic: "
        "point 'temperature_c': duplicate of points[0]"
    )
    assert probs[1] == (
        f"{path}:{line_of(lines, 'temperatur_c:')}: simulation.points.temperatur_c: no point "
        "named 'temperatur_c' in this profile (did you mean 'temperature_c'?)"
    )


def test_simulation_outside_range_is_rejected(tmp_path, host):
    path, lines = write(
        tmp_path,
        """\
      - {semantic: temperature_c, address: 40001, type: int16, scale: 0.1, range: [0, 100]}
      - {semantic: count_good, address: 40002, type: uint32, range: [0, 1000]}
    """,
        tail="""\
    simulation:
      points:
        temperature_c: {generator: sine, mean: 90, amplitude: 20}
        count_good: {generator: counter, start: 0, rate_per_s: 1}
    """,
    )
    probs = problems(path, host)
    assert probs[0] == (
        f"{path}:{line_of(lines, 'temperature_c: {generator')}: simulation.points.temperature_c: "
        "produces 70…110, outside the expected range 0…100 of point 'temperature_c'"
    )
    # 1000 counts at 1/s leave the range after 1000 s = 0.3 h.
    assert probs[1].startswith(
        f"{path}:{line_of(lines, 'count_good: {generator')}: simulation.points.count_good: "
        "counter leaves the expected range [0.0, 1000.0] after 0.3 h"
    )


def test_addressing_is_required_and_never_guessed(tmp_path, host):
    header = HEADER.replace("  addressing: modicon\n", "  port: 502\n")
    path, lines = write(
        tmp_path, "  - {semantic: x_a, address: 40001, type: uint16}\n", header=header
    )
    probs = problems(path, host)
    assert probs == [
        f"{path}:{line_of(lines, 'connection:')}: connection.addressing: Field required"
    ]


def test_pydantic_shape_errors_keep_file_and_line(tmp_path, host):
    path, lines = write(tmp_path, "  - {semantic: x_a, address: 40001, type: float, scal: 2}\n")
    probs = problems(path, host)
    line = line_of(lines, "x_a")
    assert any(
        p.startswith(f"{path}:{line}: points[0].type: Input should be 'bool'") for p in probs
    ), probs
    assert f"{path}:{line}: points[0].scal: unknown field (did you mean 'scale'?)" in probs

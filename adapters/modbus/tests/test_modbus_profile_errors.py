"""Bad profiles are rejected with ``file:line: field: message`` naming the point; parameterised
profiles resolve with errors naming the parameter; the JSON Schema is fresh."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from kit_modbus import profile_schema
from kit_modbus.profile_types import to_pdu

from kit.cli import cli
from kit.errors import ConfigError
from kit.plugins import get_plugin_manager
from kit.profiles import load_profile

HEADER = """\
id: test-device
vendor: Test
model: T1
protocol: modbus
source: {title: Test manual, section: "1.2"}
connection:
  addressing: modicon
points:
"""


@pytest.fixture(scope="module")
def host():
    return get_plugin_manager()


def write(
    tmp_path: Path, points: str, header: str = HEADER, tail: str = ""
) -> tuple[Path, list[str]]:
    text = header + textwrap.dedent(points) + textwrap.dedent(tail)
    path = tmp_path / "device.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text.splitlines()


def line_of(lines: list[str], needle: str, start: int = 0) -> int:
    """1-based number of the first line at or after ``start`` that contains ``needle``."""
    for i in range(start, len(lines)):
        if needle in lines[i]:
            return i + 1
    raise AssertionError(needle)


def problems(path: Path, host) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_profile(path, host)
    return exc.value.problems


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


# -- addressing conventions -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "convention", "table", "expected"),
    [
        (30001, "modicon", None, ("input", 0)),
        (30053, "modicon", "input", ("input", 52)),
        (40001, "modicon", None, ("holding", 0)),
        (400001, "modicon", None, ("holding", 0)),
        (420254, "modicon", None, ("holding", 20253)),  # ABB 32-bit parameter 01.27
        ("00017", "modicon", None, ("coil", 16)),
        (17, "modicon", None, ("coil", 16)),
        (
            "010001",
            "modicon",
            None,
            ("coil", 10000),
        ),  # 6-digit coil reference keeps its leading zero
        (
            10001,
            "modicon",
            None,
            ("discrete", 0),
        ),  # ... while the int 10001 is a 5-digit discrete input
        (3000, "one_based", "holding", ("holding", 2999)),
        ("0x0BB7", "pdu", "holding", ("holding", 2999)),
        (19000, "pdu", "holding", ("holding", 19000)),
    ],
)
def test_address_conventions(address, convention, table, expected):
    assert to_pdu(address, convention, table) == expected


@given(table=st.sampled_from(["coil", "discrete", "input", "holding"]), pdu=st.integers(0, 65535))
def test_six_digit_modicon_references_round_trip(table, pdu):
    prefix = {"coil": 0, "discrete": 1, "input": 3, "holding": 4}[table]
    ref = f"{prefix}{pdu + 1:05d}"
    assert to_pdu(ref, "modicon", None) == (table, pdu)
    assert to_pdu(ref, "modicon", table) == (table, pdu)
    if pdu < 9999:
        assert to_pdu(f"{prefix}{pdu + 1:04d}", "modicon", None) == (table, pdu)


@pytest.mark.parametrize(
    ("address", "convention", "table", "message"),
    [
        (30001, "modicon", "holding", "is an input address (3xxxx) but table is 'holding'"),
        (465537, "modicon", None, "outside 400001…465536"),
        (40000, "modicon", None, "outside 40001…49999"),
        ("4001", "modicon", None, "must have 5 or 6 digits"),
        (0, "one_based", "holding", "must be at least 1"),
        (65536, "pdu", "holding", "outside the Modbus range"),
        (100, "pdu", None, "table is required with pdu addressing"),
        ("12ab", "pdu", "holding", "is not a number"),
    ],
)
def test_bad_addresses(address, convention, table, message):
    with pytest.raises(ValueError) as exc:
        to_pdu(address, convention, table)
    assert message in str(exc.value)


# -- parameterised profiles -------------------------------------------------------------------

TEMPLATE = HEADER.replace(
    "points:\n",
    """\
parameters:
  start_address:
    prompt: First word of the machine block
    default: 40001
    min: 40001
    max: 49999
points:
""",
)


def test_resolve_moves_points_and_names_the_parameter(tmp_path, host):
    path, _ = write(
        tmp_path,
        """\
      - {semantic: machine_running, relative_to: start_address, address: 0, type: bit, bit: 0}
      - {semantic: count_good, relative_to: start_address, address: 2, type: int32, range: [0, 2147483647]}
    """,
        header=TEMPLATE,
    )
    prof = load_profile(path, host)
    assert prof.is_parameterised
    assert [p.pdu_address for p in prof.points] == [0, 2]  # validated with the default 40001
    start = 40101
    moved = prof.resolve({"start_address": str(start)})
    assert [p.pdu_address for p in moved.points] == [start - 40001, start - 40001 + 2]
    assert moved.resolved_params == {"start_address": start}
    assert prof.resolve({"start_address": f"{start}.0"}).resolved_params == {"start_address": start}
    with pytest.raises(ConfigError) as exc:
        prof.resolve({"start_address": 40010.5})
    assert exc.value.problems == ["profile_params.start_address: 40010.5 is not a whole number"]
    assert [p.pdu_address for p in prof.points] == [0, 2], (
        "resolve must not change the library's copy"
    )

    with pytest.raises(ConfigError) as exc:
        prof.resolve({"start_adress": 40010})
    assert exc.value.problems == [
        "profile_params.start_adress: unknown parameter of profile 'test-device' "
        "(did you mean 'start_address'?) (parameters: start_address)"
    ]
    with pytest.raises(ConfigError) as exc:
        prof.resolve({"start_address": 30001})
    assert exc.value.problems == ["profile_params.start_address: 30001 is outside 40001…49999"]
    with pytest.raises(ConfigError) as exc:
        prof.resolve({"start_address": "forty"})
    assert exc.value.problems == ["profile_params.start_address: 'forty' is not a whole number"]
    # 49998 + 2 = 50000: the count lands outside the 4xxxx references.
    with pytest.raises(ConfigError) as exc:
        prof.resolve({"start_address": 49998})
    assert exc.value.problems[0].startswith(
        "profile_params.start_address: point 'count_good': Modicon reference 50000 starts with 5"
    )


def test_parameter_without_default_is_required(tmp_path, host):
    header = TEMPLATE.replace("    default: 40001\n", "")
    path, _ = write(
        tmp_path,
        "  - {semantic: machine_state_code, relative_to: start_address, address: 1, type: int16}\n",
        header=header,
    )
    prof = load_profile(path, host)
    with pytest.raises(ConfigError) as exc:
        prof.resolve({})
    assert exc.value.problems == [
        "profile_params.start_address: required — First word of the machine block (40001…49999)"
    ]
    assert prof.resolve({"start_address": 40005}).points[0].pdu_address == 40005 + 1 - 40001


def test_relative_to_unknown_parameter(tmp_path, host):
    path, lines = write(
        tmp_path,
        "  - {semantic: machine_state_code, relative_to: start_adress, address: 1, type: int16}\n",
        header=TEMPLATE,
    )
    probs = problems(path, host)
    assert probs == [
        f"{path}:{line_of(lines, 'machine_state_code')}: points[0].relative_to: point "
        "'machine_state_code': unknown parameter 'start_adress' (did you mean 'start_address'?)"
    ]


# -- schema and CLI ---------------------------------------------------------------------------


def test_json_schema_is_fresh():
    path = profile_schema.schema_path()
    assert path.read_text(encoding="utf-8") == profile_schema.render(), (
        "hardware_profiles/schema/modbus-profile.schema.json is stale; run "
        "`uv run python -m kit_modbus.profile_schema`"
    )
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert "addressing" in schema["$defs"]["Connection"]["required"]


def test_cli_validate_exit_codes(tmp_path):
    runner = CliRunner()
    good = profile_schema.schema_path().parent.parent / "eastron-sdm630.yaml"
    res = runner.invoke(cli, ["profile", "validate", str(good)])
    assert res.exit_code == 0, res.output
    assert "ok — eastron-sdm630 (modbus, 50 points)" in res.output

    bad, lines = write(tmp_path, "  - {semantic: x_a, address: 40001, type: float32, bit: 1}\n")
    res = runner.invoke(cli, ["profile", "validate", str(good), str(bad)])
    assert res.exit_code == 2
    assert (
        f"{bad}:{line_of(lines, 'x_a')}: points[0].bit: point 'x_a': bit is only allowed"
        in res.output
    )

    broken = tmp_path / "broken.yaml"
    broken.write_text("id: x\npoints: [\n", encoding="utf-8")
    res = runner.invoke(cli, ["profile", "validate", str(broken)])
    assert res.exit_code == 2
    assert f"{broken}:3: invalid YAML" in res.output


def test_cli_profiles_and_show():
    runner = CliRunner()
    res = runner.invoke(cli, ["profiles", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    ids = {p["id"] for p in data["profiles"]}
    assert {"eastron-sdm630", "siemens-s7-mb-server", "schneider-modicon-mw"} <= ids
    assert data["problems"] == []

    res = runner.invoke(
        cli, ["profile", "show", "siemens-s7-mb-server", "--param", "start_address=40011", "--json"]
    )
    assert res.exit_code == 0, res.output
    shown = {p["semantic"]: p for p in json.loads(res.output)["points"]}
    assert shown["count_good"]["pdu_address"] == 40011 - 40001 + 2
    assert shown["count_good"]["count"] == 2

    res = runner.invoke(cli, ["profile", "show", "eastron-sdm63"])
    assert res.exit_code == 2
    assert "did you mean 'eastron-sdm630'" in res.output


def test_unquoted_leading_zeros_keep_their_meaning(tmp_path, host):
    """YAML reads ``010001`` as the int 10001 (a 5-digit *discrete input* reference); the digits
    as written — a 6-digit coil reference — are what the manual meant. Hex stays hex."""
    path, _ = write(
        tmp_path,
        """\
      - {semantic: digital_output_0, address: 010001}
      - {semantic: digital_output_1, address: 00017}
      - {semantic: digital_input_0, address: 10001}
      - {semantic: x_word, address: 0x0042, addressing: pdu, table: holding, type: uint16}
    """,
    )
    prof = load_profile(path, host)
    got = [(p.table, p.pdu_address) for p in prof.points]
    assert got == [("coil", 10000), ("coil", 16), ("discrete", 0), ("holding", 0x42)]


def test_shape_and_cross_field_problems_in_one_pass(tmp_path, host):
    """A typo in one point does not hide the cross-field problems of the others."""
    path, lines = write(
        tmp_path,
        """\
      - {semantic: x_a, address: 40001, type: float, scal: 2}
      - {semantic: x_b, address: 40003, type: float32, bit: 1}
      - {semantic: x_c, address: 40004, type: uint16}
    """,
        tail="""\
    simulation:
      points:
        x_a: {generator: constant, value: 1}
        zz_unknown: {generator: constant, value: 1}
    """,
    )
    probs = problems(path, host)
    f = str(path)
    assert probs[0].startswith(f"{f}:{line_of(lines, 'x_a,')}: points[0].type: Input should be")
    assert (
        probs[1]
        == f"{f}:{line_of(lines, 'x_a,')}: points[0].scal: unknown field (did you mean 'scale'?)"
    )
    # Indices are those of the file, not of the reduced list the check ran on.
    assert (
        probs[2]
        == f"{f}:{line_of(lines, 'x_b,')}: points[1].bit: point 'x_b': bit is only allowed with type bit, not float32"
    )
    assert probs[3].startswith(
        f"{f}:{line_of(lines, 'x_c,')}: points[2].address: point 'x_c': overlaps points[1] (x_b) "
        "at holding PDU 3"
    )
    # x_a has its own error, so the generator naming it is not reported; zz_unknown names nothing.
    assert probs[4] == (
        f"{f}:{line_of(lines, 'zz_unknown:')}: simulation.points.zz_unknown: no point named "
        "'zz_unknown' in this profile"
    )
    assert len(probs) == 5


def test_cli_show_prints_wire_addresses_and_doubts():
    res = CliRunner().invoke(cli, ["profile", "show", "carlo-gavazzi-em24"])
    assert res.exit_code == 0, res.output
    assert "NOT verified on a real device" in res.output
    row = next(
        line
        for line in res.output.splitlines()
        if line.strip().startswith("energy_active_import_total_kwh")
    )
    cols = row.split()
    assert cols[1:6] == ["input", str(0x0042), "2", "int32", "CDAB"]
    assert row.rstrip().endswith("UNVERIFIED")
    pf = next(
        line for line in res.output.splitlines() if line.strip().startswith("power_factor_total")
    )
    assert pf.split()[5] == "ABCD", "a 16-bit value has no word order on a CDAB device"


def test_simulation_values_must_fit_the_point(tmp_path, host):
    path, lines = write(
        tmp_path,
        """\
      - {semantic: machine_running, address: 40001, type: bit, bit: 0}
      - {semantic: x_raw, address: 40002, type: uint16}
      - {semantic: x_name, address: 40003, type: string, length: 8}
    """,
        tail="""\
    simulation:
      points:
        machine_running: {generator: constant, value: 5}
        x_raw: {generator: sine, mean: 60000, amplitude: 10000}
        x_name: {generator: constant, value: 3}
    """,
    )
    probs = problems(path, host)
    f = str(path)
    assert probs == [
        f"{f}:{line_of(lines, 'machine_running: {')}: simulation.points.machine_running: produces 5…5, outside the "
        "expected range 0…1 of point 'machine_running'",
        f"{f}:{line_of(lines, 'x_raw: {')}: simulation.points.x_raw: point 'x_raw': generator output [50000, 70000] "
        "needs raw values 50000…70000 but uint16 holds 0…65535; check scale (1) and offset (0)",
        f"{f}:{line_of(lines, 'x_name: {')}: simulation.points.x_name: point 'x_name' is string: give a text value",
    ]

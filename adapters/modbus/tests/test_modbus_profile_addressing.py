"""Modbus profile problems, part 2: addressing conventions, parameterised templates and the CLI.

Part 1 (cross-field problems at their lines) is test_modbus_profile_errors.py.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from kit_modbus import profile_schema
from kit_modbus.profile_types import to_pdu
from modbus_profile_helpers import HEADER, line_of, problems, write

from kit.cli import cli
from kit.errors import ConfigError
from kit.profiles import load_profile

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

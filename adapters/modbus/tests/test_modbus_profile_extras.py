"""Profile expressiveness found missing on real manuals (issue 12): sentinel values, repeated
channels, uint8 and packed bytes, parameter-number addressing, model/firmware variants and
write-only command points — each validated with ``file:line: field: message``, served by the
simulator and read by the adapter over Modbus TCP."""

from __future__ import annotations

import struct
import textwrap
from pathlib import Path

import pytest
from kit_modbus.codec import Invalid, PointCodec

from kit.errors import ConfigError
from kit.profiles import load_profile
from kit.testing import wait_for

HEADER = """\
id: extras-device
vendor: Test
model: X1
protocol: modbus
source: {title: Test manual}
connection:
  addressing: pdu
  poll_interval_s: 0.05
  slow_poll_interval_s: 0.1
"""

DEVICE = (
    HEADER
    + """\
  parameter_numbering: {index_factor: 10, offset: -1}
points:
  - {semantic: power_active_total_w, table: holding, address: 0, type: int32, invalid: {0x7FFFFFFF: overrange, 0x7FFFFFFE: not_available}}
  - {semantic: x_level_raw, table: holding, address: 2, type: uint16, invalid: [0xFFFF]}
  - {semantic: "x_temperature_ch{n}", description: "Channel {n}", table: input, address: 100, type: int16, scale: 0.1, repeat: {count: 8, stride: 2}}
  - {semantic: x_status_hi, table: holding, address: 10, type: uint8, byte: high}
  - {semantic: x_status_lo, table: holding, address: 10, type: int8, byte: low}
  - {semantic: x_firmware, table: holding, address: 11, type: version, length: 3}
  - {semantic: x_speed_ref, parameter: 102, type: uint16}
  - {semantic: x_reset_counters, table: coil, address: 7, access: w}
  - {semantic: drive_control_word, table: holding, address: 20, type: uint16, access: w}
variants:
  fw2:
    description: "firmware 2.x moved the level register"
    firmware_min: "2.0"
    firmware_max: "2.99"
    points:
      - {semantic: x_level_raw, address: 4}
    remove: [x_status_lo]
  e1:
    models: [X1-E1]
    add:
      - {semantic: x_ethernet_port, table: holding, address: 30, type: uint16}
simulation:
  points:
    x_firmware: {generator: constant, value: "1.2.3"}
    x_status_hi: {generator: constant, value: 18}
    x_status_lo: {generator: constant, value: -3}
"""
)


def write(tmp_path: Path, text: str, name: str = "device.yaml") -> tuple[Path, list[str]]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path, text.splitlines()


def line_of(lines: list[str], needle: str) -> int:
    return next(i + 1 for i, line in enumerate(lines) if needle in line)


def problems(path: Path, host) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_profile(path, host)
    return exc.value.problems


def test_the_profile_model_expands_and_maps_everything(tmp_path, host):
    path, _ = write(tmp_path, DEVICE)
    prof = load_profile(path, host)
    channels = [p for p in prof.points if p.semantic.startswith("x_temperature_ch")]
    assert [p.semantic for p in channels] == [f"x_temperature_ch{n}" for n in range(1, 9)]
    assert [p.pdu_address for p in channels] == list(range(100, 116, 2))
    assert channels[2].description == "Channel 3"
    assert prof.point("x_speed_ref").pdu_address == 102 * 10 - 1
    assert prof.point("x_speed_ref").table == "holding"
    assert prof.point("power_active_total_w").invalid_raw == {
        0x7FFFFFFF: "overrange",
        0x7FFFFFFE: "not_available",
    }
    assert prof.point("x_level_raw").invalid_raw == {0xFFFF: "invalid_value"}
    assert not prof.point("drive_control_word").polled
    # Variants: by firmware and by model, applied as new profiles.
    assert prof.variant_for(firmware="V2.10") == "fw2"
    assert prof.variant_for(firmware="1.9") is None
    assert prof.variant_for(model="UMG X1-E1 rev B") == "e1"
    fw2 = prof.with_variant("fw2")
    assert fw2.point("x_level_raw").pdu_address == 4
    assert "x_status_lo" not in {p.semantic for p in fw2.points}
    assert prof.with_variant("e1").point("x_ethernet_port").pdu_address == 30
    with pytest.raises(ConfigError, match="no variant 'fw3'"):
        prof.with_variant("fw3")


def test_parameter_numbering_with_groups(tmp_path, host):
    text = HEADER + textwrap.dedent("""\
          parameter_numbering: {group_factor: 100, index_factor: 1, offset: -1}
        points:
          - {semantic: x_motor_current, parameter: "01.07", type: int16}
          - {semantic: x_speed_limit, parameter: "30.12", type: int32}
        """)
    path, _ = write(tmp_path, text)
    prof = load_profile(path, host)
    # ABB: 400000 + 100 × group + index (Modicon) → PDU = 100·g + i − 1.
    assert prof.point("x_motor_current").pdu_address == 106
    assert prof.point("x_speed_limit").pdu_address == 3011


@pytest.mark.parametrize(
    ("point", "needle", "field", "message"),
    [
        (
            "{semantic: x_a, table: holding, address: 0, type: string, length: 4, invalid: [0]}",
            "x_a",
            "invalid",
            "sentinel values need a numeric type, not string",
        ),
        (
            "{semantic: x_a, table: holding, address: 0, type: uint16, invalid: {0xFFFF: Over Range}}",
            "x_a",
            "invalid",
            "must be a lower-case word",
        ),
        (
            "{semantic: x_a, table: holding, address: 0, type: int16, invalid: [0xFFFF]}",
            "x_a",
            "invalid",
            "outside what int16 holds",
        ),
        (
            "{semantic: x_temp, table: input, address: 0, type: int16, repeat: {count: 4}}",
            "x_temp",
            "semantic",
            "with repeat the name needs {n}",
        ),
        (
            "{semantic: x_a, table: holding, address: 0, type: uint8}",
            "x_a",
            "byte",
            "type uint8 needs byte: high",
        ),
        (
            "{semantic: x_a, table: holding, address: 0, type: uint16, byte: low}",
            "x_a",
            "byte",
            "byte is only allowed with type uint8 or int8, not uint16",
        ),
        (
            "{semantic: x_a, table: holding, address: 0, type: version, length: 9}",
            "x_a",
            "length",
            "type version needs length: 2…8",
        ),
        (
            "{semantic: x_a, parameter: 102, type: uint16}",
            "x_a",
            "parameter",
            "parameter needs connection.parameter_numbering",
        ),
        (
            "{semantic: x_a, table: holding, type: uint16}",
            "x_a",
            "address",
            "address is required (or parameter",
        ),
        (
            "{semantic: x_a, table: input, address: 3, type: uint16, access: w}",
            "x_a",
            "access",
            "the input table is read-only; w needs coil or holding",
        ),
    ],
)
def test_misuse_is_reported_at_its_line(tmp_path, host, point, needle, field, message):
    text = HEADER + "points:\n  - {semantic: x_ok, table: holding, address: 90, type: uint16}\n"
    text += f"  - {point}\n"
    path, lines = write(tmp_path, text)
    probs = problems(path, host)
    assert len(probs) == 1, probs
    assert probs[0].startswith(f"{path}:{line_of(lines, needle)}: points[1].{field}: "), probs[0]
    assert message in probs[0], probs[0]


def test_repeat_copies_report_overlaps_at_the_declaration(tmp_path, host):
    text = HEADER + textwrap.dedent("""\
        points:
          - {semantic: "x_ch{n}", table: input, address: 0, type: int32, repeat: {count: 4}}
          - {semantic: x_other, table: input, address: 5, type: uint16}
        """)
    path, lines = write(tmp_path, text)
    probs = problems(path, host)
    assert len(probs) == 1, probs
    assert probs[0].startswith(f"{path}:{line_of(lines, 'x_other')}: points[1].address: "), probs
    assert "overlaps points[0] (x_ch3)" in probs[0]


def test_a_broken_variant_is_reported_at_its_line(tmp_path, host):
    text = DEVICE.replace(
        "- {semantic: x_level_raw, address: 4}", "- {semantic: x_levle, address: 4}"
    )
    path, lines = write(tmp_path, text)
    probs = problems(path, host)
    assert len(probs) == 1, probs
    assert probs[0].startswith(f"{path}:{line_of(lines, 'fw2:')}: variants.fw2: "), probs
    assert "no point 'x_levle' to override" in probs[0]


def test_codec_bytes_versions_and_sentinels():
    hi = PointCodec("uint8", byte="high")
    lo = PointCodec("int8", byte="low", scale=0.5)
    assert hi.decode([0x12FD]) == 0x12 and lo.decode([0x12FD]) == -1.5
    assert hi.encode(0xAB, current=0x12FD) == [0xABFD]
    assert lo.encode(-1.5, current=0x12FD) == [0x12FD]
    v = PointCodec("version", count=2, parts=3)
    assert v.decode([0x0001, 0x0203]) == "1.2.3"
    assert v.encode("4.5.6") == [0x0004, 0x0506]
    s = PointCodec("int32", invalid={0x7FFFFFFF: "overrange"})
    assert s.decode(list(struct.unpack(">2H", struct.pack(">i", 0x7FFFFFFF)))) == Invalid(
        "overrange"
    )
    assert s.encode(Invalid("overrange")) == [0x7FFF, 0xFFFF]


async def test_simulator_and_adapter_end_to_end(tmp_path, host, sim_factory, run_adapter):
    path, _ = write(tmp_path, DEVICE)
    prof = load_profile(path, host)
    sim = await sim_factory(prof)
    sim.set_invalid("power_active_total_w", "overrange")
    sim.set_value("x_level_raw", 0xFFFF)
    sim.set_value("x_temperature_ch3", 21.5)
    cfg = {"profile": str(path), "host": sim.host, "port": sim.port}
    r = await run_adapter(cfg)
    await wait_for(lambda: "x_firmware" in r.latest(), message="a full batch")
    got = r.latest()
    assert got["power_active_total_w"].quality == "bad"
    assert got["power_active_total_w"].reason == "overrange"
    assert got["x_level_raw"].reason == "invalid_value" and got["x_level_raw"].value is None
    assert got["x_temperature_ch3"].value == 21.5
    assert {f"x_temperature_ch{n}" for n in range(1, 9)} <= set(got)
    assert got["x_status_hi"].value == 18 and got["x_status_lo"].value == -3
    assert got["x_firmware"].value == "1.2.3"
    assert got["x_speed_ref"].quality == "good"
    # Write-only command points are never polled, but can be written.
    assert "drive_control_word" not in got and "x_reset_counters" not in got
    await r.adapter.write("drive_control_word", 0x047F)
    await r.adapter.write("x_reset_counters", True)
    assert ("holding", 20, [0x047F]) in sim.writes
    assert ("coil", 7, [1]) in sim.writes
    # A sentinel that goes away: the value is good again.
    sim.set_value("power_active_total_w", 1234)
    n = len(r.batches)
    await wait_for(lambda: len(r.batches) > n + 2, message="more batches")
    assert r.latest()["power_active_total_w"].value == 1234


async def test_adapter_reads_the_configured_variant(tmp_path, host, sim_factory, run_adapter):
    path, _ = write(tmp_path, DEVICE)
    prof = load_profile(path, host).with_variant("fw2")
    sim = await sim_factory(prof)
    sim.set_value("x_level_raw", 77)
    r = await run_adapter(
        {"profile": str(path), "variant": "fw2", "host": sim.host, "port": sim.port}
    )
    await wait_for(lambda: "x_level_raw" in r.latest(), message="a batch")
    assert r.latest()["x_level_raw"].value == 77
    assert "x_status_lo" not in r.latest()


async def test_probe_reads_new_types_and_names_sentinels(tmp_path, host, sim_factory):
    from kit_modbus.probe import probe_device, render

    path, _ = write(tmp_path, DEVICE)
    prof = load_profile(path, host)
    sim = await sim_factory(prof)
    sim.set_invalid("power_active_total_w", "overrange")
    sim.set_value("x_temperature_ch8", 123.4)
    report = await probe_device(prof, sim.host, sim.port)
    rows = {r["point"]: r for r in report["points"]}
    assert rows["power_active_total_w"]["status"] == "bad"
    assert rows["power_active_total_w"]["reason"] == "overrange"
    assert rows["x_firmware"]["value"] == "1.2.3" and rows["x_status_lo"]["value"] == -3
    assert "drive_control_word" not in rows  # write-only: never read
    text = render(report)
    assert "123.4" in text and "1.2.3" in text


async def test_kit_sim_serves_a_variant(tmp_path):
    from kit.cli.sim_cmd import load_any_profile, start_simulator

    path, _ = write(tmp_path, DEVICE)
    sim = await start_simulator(str(path), variant="fw2")
    try:
        assert sim.profile.point("x_level_raw").pdu_address == 4
    finally:
        await sim.stop()
    with pytest.raises(ConfigError, match="no variant 'fw9'"):
        load_any_profile(str(path), variant="fw9")


def test_a_parameterised_block_is_renamed_where_it_moves(tmp_path, host):
    text = HEADER + textwrap.dedent("""\
        parameters:
          start: {prompt: "First register of the block", default: 100}
        points:
          - {semantic: "x_hr_{address}", table: holding, relative_to: start, address: 0, type: uint16, repeat: {count: 3}}
        """)
    path, _ = write(tmp_path, text)
    prof = load_profile(path, host)
    assert [p.semantic for p in prof.points] == ["x_hr_100", "x_hr_101", "x_hr_102"]
    moved = prof.resolve({"start": 500})
    assert [(p.semantic, p.pdu_address) for p in moved.points] == [
        ("x_hr_500", 500),
        ("x_hr_501", 501),
        ("x_hr_502", 502),
    ]

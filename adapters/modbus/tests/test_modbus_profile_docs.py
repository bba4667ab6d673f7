"""docs/profiles.md stays true: its example validates, its word-order table matches the codec
arithmetic, and its worked address examples match the converter."""

from __future__ import annotations

import re
import struct
from pathlib import Path

from kit_modbus.profile_types import to_pdu

from kit.plugins import get_plugin_manager
from kit.profiles import load_profile

DOC = Path(__file__).resolve().parents[3] / "docs" / "profiles.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def test_complete_example_validates(tmp_path):
    example = _blocks("yaml")[0]
    path = tmp_path / "example.yaml"
    path.write_text(example, encoding="utf-8")
    prof = load_profile(path, get_plugin_manager())
    assert prof.point("power_active_total_w").pdu_address == 30013 - 30001


def test_word_order_table_matches_the_123456_vector():
    a, b, c, d = struct.pack(">f", 123456.0)
    orders = {
        "ABCD": (a, b, c, d),
        "CDAB": (c, d, a, b),
        "BADC": (b, a, d, c),
        "DCBA": (d, c, b, a),
    }
    text = DOC.read_text(encoding="utf-8")
    for name, seq in orders.items():
        raw = bytes(seq)
        row = re.search(
            rf"^\| `{name}` \| `([0-9A-F]{{4}})`, `([0-9A-F]{{4}})` \|.*\| ([^|]+) \|$",
            text,
            flags=re.M,
        )
        assert row, name
        assert (row.group(1) + row.group(2)).lower() == raw.hex()
        as_abcd = struct.unpack(">f", raw)[0]
        shown = (
            row.group(3)
            .strip()
            .replace(" × 10", "e")
            .replace("⁻", "-")
            .translate(str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789"))
            .replace("−", "-")
        )
        assert abs(float(shown) - as_abcd) <= abs(as_abcd) * 0.01, (name, shown, as_abcd)


def test_worked_address_examples():
    assert to_pdu(30053, "modicon", None) == ("input", 52)
    assert to_pdu(400004, "modicon", None) == ("holding", 3)
    assert to_pdu("010001", "modicon", None) == ("coil", 10000)
    assert to_pdu(3060, "one_based", "holding") == ("holding", 3059)
    assert to_pdu(65, "pdu", "holding") == ("holding", 65)
    assert to_pdu(0x5B14, "pdu", "holding") == ("holding", 0x5B14)
    # The off-by-one example: 230.0 V and 231.0 V read one register late.
    regs = struct.pack(">f", 230.0) + struct.pack(">f", 231.0)
    late = struct.unpack(">f", regs[2:6])[0]
    assert "2.4 × 10⁻⁴¹" in DOC.read_text(encoding="utf-8") and 2.35e-41 < late < 2.45e-41
    # EM24 230.5 V as INT32 CDAB, decoded high word first.
    wire = struct.pack(">i", 2305)
    wrong = struct.unpack(">i", wire[2:] + wire[:2])[0] * 0.1
    assert f"{round(wrong):,}" in DOC.read_text(encoding="utf-8")


def test_every_shipped_profile_is_listed_with_its_facts():
    from kit.profiles import ProfileLibrary

    lib = ProfileLibrary(get_plugin_manager()).load()
    text = DOC.read_text(encoding="utf-8")
    # This page's table covers Modbus profiles; OPC UA ones are listed in docs/adapters/opcua.md.
    for pid, prof in {p.id: p for p in lib.by_protocol("modbus")}.items():
        row = next((line for line in text.splitlines() if line.startswith(f"| `{pid}` |")), None)
        assert row, f"{pid} missing from the shipped-profiles table of docs/profiles.md"
        cells = [c.strip() for c in row.strip("|").split("|")]
        unverified = sum(1 for p in prof.points if p.unverified)
        assert cells[5] == f"{len(prof.points)} ({unverified})", (pid, cells[5])
        assert cells[4] == prof.connection.byte_order, pid
        assert cells[2] == prof.connection.transport.upper(), pid
        assert cells[3].startswith(prof.connection.addressing), pid

"""kit.display and the CLI formatting built on it (issue 12.9: no float noise, full precision)."""

from __future__ import annotations

import json
import math

import polars as pl
from kit_historian.cli import write

from kit.cli.bus_cmds import format_message
from kit.cli.demo_cmd import data_line, kpi_line
from kit.display import clean, decimals_for, decimals_of, format_computed, format_value, round_sig


def test_decimals_come_from_scale_offset_or_resolution():
    assert [decimals_of(x) for x in (1, 0.1, 0.25, 0.001, 1e-05, 1000.0)] == [0, 1, 2, 3, 5, 0]
    assert decimals_for(0.1) == 1
    assert decimals_for(1, offset=-273.15) == 2
    assert decimals_for(1000) == 0
    assert decimals_for(0.001, resolution=0.01) == 2


def test_values_are_shown_in_full_without_noise():
    assert format_value(123456.7, unit="kWh") == "123456.7 kWh"  # not 123457 (:g)
    assert f"{123456.7:g}" == "123457"  # what probe printed before
    assert format_value(0.20799999998416752, unit="kWh") == "0.208 kWh"
    assert format_value(230.10000000000002) == "230.1"
    assert format_value(231.6549530029297, decimals=1) == "231.7"
    assert format_value(230.0, decimals=1) == "230.0"
    assert format_value(16.0) == "16"
    assert format_value(0.00001) == "0.00001"
    assert format_value(True) == "true" and format_value(None) == "—"
    assert clean(0.1 + 0.2) == 0.3 and clean("x") == "x" and math.isnan(clean(math.nan))
    assert round_sig(123456.703125, 7) == 123456.7
    # Computed values (KPIs): arithmetic digits dropped.
    assert format_computed(1.77578782) == "1.776"
    assert format_computed(0.0123456, "kWh") == "0.01235 kWh"
    assert format_computed(123456.7) == "123456.7" and format_computed(16.0) == "16"


def _batch(value, unit="V"):
    return {
        "schema": "kit.samples/1",
        "asset": "s/a/l/m",
        "seq": 1,
        "ts": "2026-12-06T01:02:03.000Z",
        "points": [{"name": "voltage_l1_n_v", "unit": unit, "value": value}],
    }


def test_bus_tail_and_demo_lines_show_clean_values():
    line = format_message("kit.data.x", json.dumps(_batch(230.10000000000002)).encode())
    assert "voltage_l1_n_v=230.1 V" in line and "0000" not in line
    kpi = {
        "schema": "kit.kpi/1",
        "asset": "s/a/l/m",
        "kpi": "energy_kwh",
        "value": 0.20799999998416752,
        "unit": "kWh",
        "window": "rolling",
        "ts": "2026-12-06T01:02:03.000Z",
    }
    assert "energy_kwh = 0.208 kWh" in format_message("kit.kpi.x", json.dumps(kpi).encode())
    assert "0.208 kWh" in kpi_line(kpi)
    assert "123456.7 kWh" in data_line(_batch(123456.7, "kWh"))
    assert "92.5 %" in kpi_line({**kpi, "kpi": "oee", "value": 0.9250000001, "unit": None})


def test_csv_export_has_no_float_noise(tmp_path):
    df = pl.DataFrame({"ts": [1, 2], "value": [230.14999999999998, 0.20799999998416752]})
    out = tmp_path / "h.csv"
    write(df, "csv", out)
    assert out.read_text().splitlines()[1:] == ["1,230.15", "2,0.208"]

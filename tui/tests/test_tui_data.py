"""Unit tests of the Textual-free data layer: store, formatting, form conversion, chart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from kit_tui.data.format import age_text, percent_text, quality_text, sparkline, value_text
from kit_tui.data.store import STALE_FIRST_S, STALE_MIN_S, LiveStore
from kit_tui.widgets.chart import ChartData, render_chart
from kit_tui.widgets.paramform import convert

T0 = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def batch(ts: datetime, seq: int, **points) -> dict:
    return {
        "schema": "kit.samples/1",
        "asset": "s/a/l/m",
        "ts": ts.isoformat(),
        "seq": seq,
        "source": "x",
        "points": [{"name": k, **v} for k, v in points.items()],
    }


def test_store_merges_batches_keeps_history_and_never_keeps_a_bad_value():
    now = [T0.timestamp()]
    store = LiveStore(clock=lambda: now[0])
    values = [1.0, 2.5, 4.0]
    for i, v in enumerate(values):
        store.apply_batch(batch(T0 + timedelta(seconds=i), i, p={"value": v, "unit": "W"}))
    p = store.assets["s/a/l/m"].points["p"]
    assert list(p.history) == values and p.value == values[-1] and p.unit == "W"
    store.apply_batch(
        batch(
            T0 + timedelta(seconds=3), 3, p={"value": 99.0, "quality": "bad", "reason": "timeout"}
        )
    )
    assert p.value is None and p.quality == "bad" and p.reason == "timeout"
    assert list(p.history) == values, "a bad value never enters the sparkline"
    assert store.quality_summary(store.assets["s/a/l/m"])["bad"] == 1


def test_staleness_follows_the_assets_own_interval():
    now = [T0.timestamp()]
    store = LiveStore(clock=lambda: now[0])
    for i in range(5):
        store.apply_batch(batch(T0 + timedelta(seconds=10 * i), i, p={"value": i}))
    a = store.assets["s/a/l/m"]
    assert a.interval_s == pytest.approx(10.0)
    last = a.last_ts
    now[0] = last + 3 * 10.0 - 0.1
    assert not store.is_stale(a)
    now[0] = last + 3 * 10.0 + 0.1
    assert store.is_stale(a)
    assert store.quality_summary(a)["stale"] == 1
    fast = LiveStore(clock=lambda: now[0])
    fast.apply_batch(batch(T0, 0, p={"value": 1}))
    now[0] = T0.timestamp() + STALE_MIN_S - 0.1
    assert not fast.is_stale(fast.assets["s/a/l/m"]), "never stale before the minimum"


def test_staleness_of_a_point_follows_its_own_poll_rate():
    # A meter: power every second, the energy counter every 30 s (a slower poll group).
    now = [T0.timestamp()]
    store = LiveStore(clock=lambda: now[0])
    for i in range(91):
        points = {"power": {"value": float(i)}}
        if i % 30 == 0:
            points["energy"] = {"value": 100.0 + i}
        store.apply_batch(batch(T0 + timedelta(seconds=i), i, **points))
    a = store.assets["s/a/l/m"]
    power, energy = a.points["power"], a.points["energy"]
    assert energy.interval_s == pytest.approx(30.0) and power.interval_s == pytest.approx(1.0)
    now[0] = T0.timestamp() + 90 + 20  # 20 s after the last batch
    assert store.point_is_stale(a, power), "the 1 s point missed many polls"
    assert not store.point_is_stale(a, energy), "the 30 s point is not due for long"
    now[0] = T0.timestamp() + 90 + 3 * 30.0 + 0.1
    assert store.point_is_stale(a, energy)
    # Seen once: no interval of its own yet; the first-seen grace applies, then it is stale.
    store.apply_batch(
        batch(T0 + timedelta(seconds=91), 91, power={"value": 1.0}, counter={"value": 5})
    )
    counter = a.points["counter"]
    now[0] = T0.timestamp() + 91 + 60
    assert counter.interval_s is None and not store.point_is_stale(a, counter)
    now[0] = T0.timestamp() + 91 + STALE_FIRST_S + 0.1
    assert store.point_is_stale(a, counter)


def test_malformed_messages_are_counted_and_skipped():
    store = LiveStore()
    for bad in (None, [], {"asset": "x"}, {"points": []}):
        store.apply_batch(bad)
    store.apply_kpi({"value": 1})
    store.apply_event("nope")
    store.apply_health({})
    assert store.malformed == 7 and not store.assets and not store.kpis


def test_last_values_do_not_overwrite_live_data():
    store = LiveStore()
    store.apply_batch(batch(T0, 0, p={"value": 5}))
    store.load_last(
        "s.a.l.m", {"p": {"value": 1, "gw_ts": T0.isoformat()}, "q": {"value": 2, "unit": "V"}}
    )
    pts = store.assets["s/a/l/m"].points
    assert pts["p"].value == 5 and pts["q"].value == 2 and pts["q"].unit == "V"


def kpi(name: str, value: float, window: str | None = None, asset: str = "s/a/l/m") -> dict:
    k = {
        "schema": "kit.kpi/1",
        "asset": asset,
        "kpi": name,
        "value": value,
        "ts": T0.isoformat(),
        "source": "x",
    }
    return k if window is None else {**k, "window": window}


def test_kpis_of_several_windows_are_kept_apart_and_headlines_pick_their_window():
    from kit_tui.screens.overview import energy_today, headline_oee

    store = LiveStore()
    # The energy plugin publishes energy_kwh for the shift, the day and the hour; the day's
    # value is not the last one published.
    published = {
        "shift:2026-11-22/early": 236.1,
        "day:2026-11-22": 412.6,
        "hour:2026-11-22T10": 31.0,
    }
    for window, value in published.items():
        store.apply_kpi(kpi("energy_kwh", value, window))
    assert energy_today(store, "s/a/l/m")["value"] == published["day:2026-11-22"]
    assert store.kpi("s/a/l/m", "energy_kwh", windows=("hour", "day"))["value"] == 31.0, (
        "first window kind wins"
    )
    assert [k["window"] for k in store.kpis_of("s/a/l/m")] == [
        "shift:2026-11-22/early",
        "day:2026-11-22",
        "hour:2026-11-22T10",
    ]
    # An hour's energy alone is not "today".
    other = LiveStore()
    other.apply_kpi(kpi("energy_kwh", 5.0, "hour:2026-11-22T10"))
    assert energy_today(other, "s/a/l/m") is None
    # OEE: the current shift's, even when a rolling window was published after it.
    store.apply_kpi(kpi("oee", 0.7, "shift:2026-11-22/early"))
    store.apply_kpi(kpi("oee", 0.9, "rolling"))
    assert headline_oee(store, "s/a/l/m")["value"] == 0.7
    assert store.kpi_windows("s/a/l/m", "oee") == ["shift", "rolling"]
    store.apply_kpi(
        {"asset": "s/a/l/m", "kpi": "oee", "value": 1, "window": 3}
    )  # a bad window is no window
    assert store.kpi("s/a/l/m", "oee", windows=("",))["value"] == 1


def test_condition_rows_show_zone_meaning_and_signals_still_learning():
    from kit_tui.screens.kpis import condition_state, is_condition, learning_rows

    store = LiveStore()
    # As the condition plugin publishes them: a z-score with its model, a zone with its meaning.
    z = {**kpi("vibration_z", 2.5), "attrs": {"model_version": 1, "learning": False}}
    zone = {
        **kpi("vibration_zone", 2),
        "attrs": {"zone": "B", "meaning": "acceptable for long-term operation"},
    }
    for k in (z, zone):
        store.apply_kpi(k)
        assert is_condition(k["kpi"], k)
    assert condition_state(zone) == "B — acceptable for long-term operation"
    assert (
        condition_state({**z, "attrs": {"model_version": 1, "learning": True}})
        == "learning baseline"
    )
    # Signals without a baseline yet publish no score: their health metrics say so.
    store.apply_health(
        {
            "component": "pump2-condition",
            "status": "running",
            "metrics": {"learning": ["vibration", "temperature"]},
        }
    )
    from kit.api.core import ComponentSummary

    comps = [
        ComponentSummary(
            name="pump2-condition",
            type="condition",
            kind="analytics",
            asset="s/a/l/m",
            status="running",
        )
    ]
    shown = {(k["asset"], k["kpi"]) for k in (z, zone)}
    rows = learning_rows(store, comps, shown)
    assert [r[1] for r in rows] == ["temperature"], "vibration already has KPIs"
    assert rows[0][-1] == "learning baseline"


def test_quality_labels_carry_a_symbol_and_a_word():
    for state in ("good", "uncertain", "bad", "stale", "none"):
        label, _ = quality_text(state)
        sym, word = label.split(" ", 1)
        assert sym and word and not sym.isalnum()
    assert quality_text("bad", "timeout")[0].endswith("(timeout)")


def test_formatting_helpers():
    assert [age_text(a) for a in (None, 5, 130, 7300, 200000)] == ["—", "5s", "2m", "2h", "2d"]
    assert (
        value_text(True) == "on"
        and value_text(None) == "—"
        and value_text(12.34567, "W") == "12.34567 W"
    )
    # Display precision (issue 12.9): full precision, no float noise, no exponent.
    assert value_text(123456.7, "kWh") == "123,456.7 kWh"
    assert value_text(0.20799999998416752, "kWh") == "0.208 kWh"
    assert value_text(230.10000000000002, "V") == "230.1 V"
    assert value_text(1234567.8, "kWh") == "1,234,567.8 kWh"  # not 1.235e+06
    assert value_text(-12345.25, "W") == "-12,345.25 W"
    assert (
        percent_text(0.772) == "77.2 %"
        and percent_text(77.2, "%") == "77.2 %"
        and percent_text(None) == "—"
        # An impossible ratio stays what it is (the screens mark it doubtful); the old guess
        # read anything above 1.5 as a percentage and showed "2.3 %".
        and percent_text(2.345) == "234.5 %"
    )
    line = sparkline([0, 1, 2, 3, 4, 5, 6, 7])
    assert line == "▁▂▃▄▅▆▇█"


@pytest.mark.parametrize(
    "param,text,expected",
    [
        ({"type": "port"}, "502", 502),
        ({"type": "number", "min": 0.1}, "2.5", 2.5),
        ({"type": "host"}, "10.0.0.5", "10.0.0.5"),
        ({"type": "host"}, "plc-17.local", "plc-17.local"),
        ({"type": "duration"}, "30s", "30s"),
        ({"type": "text", "default": "x"}, "", "x"),
    ],
)
def test_parameter_conversion_accepts_valid_values(param, text, expected):
    assert convert(param, text) == expected


@pytest.mark.parametrize(
    "param,text,message",
    [
        ({"type": "port"}, "70000", "at most 65535"),
        ({"type": "number", "min": 0.1, "unit": "s"}, "-1", "at least 0.1 s"),
        ({"type": "integer"}, "1.5", "whole number"),
        ({"type": "host"}, "not a host!", "IP address or host name"),
        ({"type": "duration"}, "soon", "duration"),
        ({"type": "text"}, "", "required"),
    ],
)
def test_parameter_conversion_rejects_with_a_message(param, text, message):
    with pytest.raises(ValueError, match=message):
        convert(param, text)


def test_chart_marks_violations_and_limits():
    vals = [10.0, 10.02, 9.98, 10.3, 10.01]
    out = render_chart(
        ChartData("d", vals, violations={3}, cl=10.0, ucl=10.1, lcl=9.9), width=30, height=12
    ).plain
    assert out.count("✗") == 2  # the marked point and the legend
    assert out.count("●") == len(vals) - 1
    assert "UCL 10.1" in out and "LCL 9.9" in out and "1 ✗ rule violation" in out
    rows = out.splitlines()
    ucl_row = next(i for i, r in enumerate(rows) if "UCL" in r)
    bad_row = next(i for i, r in enumerate(rows) if "✗" in r and "violation" not in r)
    assert bad_row < ucl_row, "the out-of-limit point is drawn above the upper limit"


def test_runtime_errors_are_mapped_to_their_fields():
    from kit_tui.screens.wizard import field_errors

    from kit.api import Problem, problem_from_text

    names = {"host", "ideal_cycle_s"}
    problems = [
        problem_from_text("recipes/oee.yaml:12: parameters.ideal_cycle_s: must be > 0"),
        Problem(field="params.host", message="not an address", hint="e.g. 192.168.0.10"),
        Problem(field="something", message="unrelated"),
        Problem(message="host: text that merely mentions a parameter is not a field"),
    ]
    assert field_errors(problems, names) == {
        "ideal_cycle_s": "must be > 0",
        "host": "not an address (e.g. 192.168.0.10)",
    }
    assert field_errors([Problem(message="no parameters here")], names) == {}


def test_fixed_replies_fit_the_endpoint_models():
    """The snapshot fixture's canned replies have the real shapes (no drift from the API)."""
    import json
    from pathlib import Path

    from kit_tui.data import plugin_api

    from kit.api import load_catalog

    catalog = load_catalog()
    fixture = json.loads((Path(__file__).parent / "sample-configs" / "site.json").read_text())
    for name, reply in fixture["replies"].items():
        spec = catalog.get(name) or plugin_api.spec(name)
        spec.parse_reply(reply)  # raises on any field of the wrong shape


def test_today_panel_marks_a_doubtful_kpi_as_the_table_does():
    """The Today panel showed an OEE published ``uncertain`` (a window above 100 %) like a
    good one; the overview's table already marked it ``?``."""
    from kit_tui.screens.overview_side import TodayPanel

    store = LiveStore()
    store.apply_kpi({**kpi("oee", 2.345, "rolling"), "quality": "uncertain"})
    store.apply_kpi({**kpi("energy_kwh", 12.5, "day:2026-11-22"), "unit": "kWh"})
    panel = TodayPanel()
    panel.show(store, ["s/a/l/m"], None, [])
    drawn = str(getattr(panel, "content", None) or panel.renderable)
    rows = drawn.splitlines()[1:]  # below the "Today" heading
    oee_line = next(line for line in rows if " OEE " in line)
    kwh_line = next(line for line in rows if " kWh " in line)
    assert oee_line.endswith("[yellow]234.5 % ?[/yellow]"), oee_line
    assert "?" not in kwh_line and "12.5" in kwh_line, kwh_line

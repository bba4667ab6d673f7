"""The detector against an injected bearing fault of known onset, and its drift measure."""

from __future__ import annotations

import math

import pytest
from kit_models.detector import (
    AlertState,
    DriftWatch,
    RobustMahalanobis,
    WindowFeatures,
    invert,
    psi,
    windows_from_rows,
)
from kit_models.train import train

DAY = 86400.0
T0 = 1_790_000_000.0  # a fixed epoch: the fake clock of these tests
SIGNALS = ["vib", "current", "temp"]


def _alerts(model: RobustMahalanobis, wins, on: int = 3) -> list[float]:
    st, out = AlertState(on, on), []
    for start, vec in wins:
        if st.update(model.score(vec) > model.threshold) == "raised":
            out.append(start + 60.0)  # known when the window closes
    return out


def test_model_detects_the_bearing_fault_earlier_than_the_iso_rule_with_fewer_false_alerts(
    bearing,
) -> None:
    train_rows = bearing.simulate(T0, DAY, seed=1)
    model = RobustMahalanobis.fit(
        SIGNALS, [v for _t, v in windows_from_rows(train_rows, SIGNALS, 60)]
    )

    # A healthy day the model has not seen: the rule raises during overloads, the model not.
    healthy = bearing.simulate(T0 + DAY, DAY, seed=2)
    rule_false = bearing.iso_rule_alerts(healthy)
    model_false = _alerts(model, windows_from_rows(healthy, SIGNALS, 60))
    assert rule_false, "the simulation must contain overloads that cross zone C"
    assert len(model_false) < len(rule_false)

    onset = T0 + 2 * DAY + 2 * 3600
    faulty = bearing.simulate(T0 + 2 * DAY, DAY, seed=3, onset=onset)
    rule_hits = [t for t in bearing.iso_rule_alerts(faulty) if t >= onset]
    model_hits = _alerts(model, windows_from_rows(faulty, SIGNALS, 60))
    assert [t for t in model_hits if t < onset] == []
    first_model, first_rule = model_hits[0], rule_hits[0]
    assert onset <= first_model < first_rule
    print(
        f"model +{(first_model - onset) / 3600:.2f} h, rule +{(first_rule - onset) / 3600:.2f} h,"
        f" false alerts model {len(model_false)} rule {len(rule_false)}"
    )
    # Earlier by a margin that matters for planning a repair, not by a window or two.
    assert first_rule - first_model >= 900


def test_window_features_are_window_means() -> None:
    wf = WindowFeatures(["a", "b"], 10)
    closed = []
    for ts, s, v in [(0, "a", 1.0), (2, "b", 4.0), (5, "a", 3.0), (9, "b", 6.0), (10, "a", 7.0)]:
        closed += wf.add(s, ts, v)
    assert closed == [(0.0, [2.0, 5.0])]
    # A window where one signal had no value yields no vector (a gap is not a zero).
    assert wf.add("a", 25, 1.0) == [(10.0, None)]


def test_inverse_times_matrix_is_identity() -> None:
    m = [[4.0, 1.0, 0.5], [1.0, 3.0, 0.2], [0.5, 0.2, 2.0]]
    inv = invert(m)
    for i in range(3):
        for j in range(3):
            assert sum(m[i][k] * inv[k][j] for k in range(3)) == pytest.approx(
                float(i == j), abs=1e-12
            )


def test_psi_formula_and_thresholds(bearing) -> None:
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(
        (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    )
    train_rows = bearing.simulate(T0, DAY, seed=1)
    model = RobustMahalanobis.fit(
        SIGNALS, [v for _t, v in windows_from_rows(train_rows, SIGNALS, 60)]
    )
    # One day of windows (the component's default): PSI needs many independent operating
    # states, a few hours of a load-driven signal are not a stable sample.
    same = DriftWatch(model, 1400)
    for _t, v in windows_from_rows(bearing.simulate(T0 + DAY, DAY, seed=4), SIGNALS, 60):
        healthy_psi = same.add(v)
    # Another healthy day, another product mix: no real change (below 0.1) on any signal.
    assert healthy_psi is not None and max(healthy_psi.values()) < 0.1
    # A temperature sensor reading 3 °C high (within the healthy range of the raw values):
    # significant drift on temperature only.
    shifted = DriftWatch(model, 1400)
    for _t, v in windows_from_rows(
        bearing.simulate(T0 + DAY, DAY, seed=4, temp_offset=3.0), SIGNALS, 60
    ):
        drift_psi = shifted.add(v)
    assert drift_psi is not None and drift_psi["temp"] >= 0.25
    assert drift_psi["vib"] < 0.25 and drift_psi["current"] < 0.25


def test_training_records_window_hash_and_holdout_evaluation(bearing) -> None:
    rows = bearing.simulate(T0, DAY, seed=1)
    doc = train(rows, name="m", version=1, points=bearing.POINTS, asset="a/b/c/d")
    man = doc["manifest"]
    assert man["training"]["windows"] == int(len(windows_from_rows(rows, SIGNALS, 60)) * 0.8)
    assert man["features"]["signals"]["vib"] == {
        "point": bearing.POINTS["vib"],
        "aggregate": "mean",
        "window_s": 60.0,
    }
    assert (
        man["evaluation"]["holdout_windows"]
        == len(windows_from_rows(rows, SIGNALS, 60)) - man["training"]["windows"]
    )
    assert len(man["training"]["data_sha256"]) == 64

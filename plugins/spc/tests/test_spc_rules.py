"""Nelson and Western Electric rules: each has a series that triggers it and one that does not.

Expected indices come from a brute-force reference written here (slices over the whole
series), independent of the incremental implementation (run lengths and bit masks).
"""

from __future__ import annotations

import pytest
from kit_spc.rules import ALL_RULES, SPAN, RuleState


def holds(rule: str, z: list[float], i: int) -> bool:
    """Does ``rule``'s pattern complete at point ``i`` (brute force over slices)?"""

    def last(k):
        return z[i - k + 1 : i + 1] if i - k + 1 >= 0 else None

    if rule in ("nelson1", "we1"):
        return abs(z[i]) > 3
    if rule in ("nelson2", "we4"):
        w = last(9 if rule == "nelson2" else 8)
        return w is not None and (all(v > 0 for v in w) or all(v < 0 for v in w))
    if rule == "nelson3":
        w = last(6)
        return w is not None and (
            all(b > a for a, b in zip(w, w[1:])) or all(b < a for a, b in zip(w, w[1:]))
        )
    if rule == "nelson4":
        w = last(14)
        if w is None:
            return False
        d = [b - a for a, b in zip(w, w[1:])]
        return all(x != 0 for x in d) and all((x > 0) != (y > 0) for x, y in zip(d, d[1:]))
    if rule in ("nelson5", "we2", "nelson6", "we3"):
        k, need, lim = (3, 2, 2) if rule in ("nelson5", "we2") else (5, 4, 1)
        w = last(k)
        if w is None:
            w = z[: i + 1]
        up = sum(v > lim for v in w) >= need and z[i] > lim
        down = sum(v < -lim for v in w) >= need and z[i] < -lim
        return up or down
    if rule == "nelson7":
        w = last(15)
        return w is not None and all(abs(v) < 1 for v in w)
    if rule == "nelson8":
        w = last(8)
        return (
            w is not None
            and all(abs(v) > 1 for v in w)
            and any(v > 1 for v in w)
            and any(v < -1 for v in w)
        )
    raise AssertionError(rule)


def reference(rule: str, z: list[float]) -> list[int]:
    """Indices where the rule reports: every hit for rule 1, else the start of each episode."""
    hits = [holds(rule, z, i) for i in range(len(z))]
    if rule in ("nelson1", "we1"):
        return [i for i, h in enumerate(hits) if h]
    return [i for i, h in enumerate(hits) if h and not (i > 0 and hits[i - 1])]


def run(rule: str, z: list[float]) -> list[int]:
    rs = RuleState(rules=(rule,))
    out = []
    for i, v in enumerate(z):
        for viol in rs.add(float(i), v, v):
            assert viol.rule == rule
            assert len(viol.points) == min(SPAN[rule], i + 1) and viol.points[-1][0] == i
            out.append(viol.index)
    return out


ALT = [0.5, -0.5]
SERIES = {
    "nelson1": ([0.5, -1.0, 3.5, 0.0], [2.9, -2.9, 3.0, -3.0]),
    "we1": ([0.0, -3.2, 1.0], [2.99, -3.0]),
    "nelson2": ([-0.5] + [0.5] * 9, [0.5] * 8 + [0.0] + [0.5] * 8),
    "we4": ([-0.5] + [-0.3] * 8, [-0.3] * 7 + [0.2] + [-0.3] * 7),
    "nelson3": (
        [0.0, -1.0, -0.8, -0.5, 0.0, 0.3, 0.9],
        [-1.0, -0.8, -0.5, 0.0, 0.3, 0.3, 0.9, 1.2, 1.3, 1.4],
    ),
    "nelson4": (ALT * 7, ALT * 6 + [0.5, 0.5] + ALT * 6),
    "nelson5": ([0.0, 2.5, 1.0, 2.1], [2.5, 0.0, 0.0, 2.5, 0.0, 0.0, -2.5, 2.5]),
    "we2": ([0.0, -2.5, -2.2], [2.5, -2.5, 0.0, 2.1, 1.9]),
    "nelson6": ([1.5, 1.5, 0.0, 1.5, 1.5], [1.5, 1.5, 0.0, 0.0, 1.5, 1.5, -1.5, 1.5]),
    "we3": ([-1.2, 0.3, -1.1, -1.9, -1.5], [-1.2, 0.3, -1.1, 0.2, -1.5, -1.2]),
    "nelson7": ([2.0] + [0.9, -0.9] * 7 + [0.1], [0.5] * 14 + [1.0] + [0.5] * 14),
    "nelson8": ([1.5, -1.5] * 4, [1.5] * 10 + [0.5] + [-1.5] * 7 + [0.9] + [1.5, -1.5] * 3),
}


@pytest.mark.parametrize("rule", sorted(SERIES))
def test_rule_triggers_on_its_series(rule: str) -> None:
    triggering, _ = SERIES[rule]
    expected = reference(rule, triggering)
    assert expected, "the hand-made series must trigger the reference"
    assert run(rule, triggering) == expected


@pytest.mark.parametrize("rule", sorted(SERIES))
def test_rule_quiet_on_its_counter_series(rule: str) -> None:
    _, quiet = SERIES[rule]
    assert reference(rule, quiet) == []
    assert run(rule, quiet) == []


def test_every_rule_has_series() -> None:
    assert sorted(SERIES) == sorted(ALL_RULES)


@pytest.mark.parametrize("rule", sorted(ALL_RULES))
def test_rules_match_reference_on_a_long_pseudo_random_series(rule: str) -> None:
    # A deterministic LCG (no numpy, no random module state) mixing calm and drifting stretches.
    x, zs = 12345, []
    for i in range(3000):
        x = (1103515245 * x + 12345) % 2**31
        u = x / 2**31
        drift = 1.4 if (i // 100) % 3 == 1 else 0.0
        zs.append(round((u - 0.5) * 4.5 + drift, 2))
    assert run(rule, zs) == reference(rule, zs)


def test_unknown_rule_rejected() -> None:
    with pytest.raises(ValueError, match="unknown rule"):
        RuleState(rules=("nelson9",))


def test_restore_continues_the_run() -> None:
    z = [0.5] * 5
    a = RuleState(rules=("nelson2",))
    for i, v in enumerate(z):
        a.add(float(i), v, v)
    b = RuleState(rules=("nelson2",))
    b.restore(__import__("json").loads(__import__("json").dumps(a.to_dict())))
    fired = [v.index for i in range(5, 12) for v in b.add(float(i), 0.5, 0.5)]
    assert fired == [8]

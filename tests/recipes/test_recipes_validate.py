"""Two-pass validation without a runtime: every problem, file:line, "did you mean"."""

from __future__ import annotations

from pathlib import Path

import pytest

from kit.errors import ConfigError
from kit.recipes.loader import load_recipe, parse_recipe
from kit.recipes.params import parse_duration, substitute
from kit.recipes.plan import build_plan

PARAM_PROFILE = """\
id: probe-any
version: 1.0.0
title: t
summary: s
kpi: {name: k, moves: m, evidence: e}
parameters:
  meter_profile: {type: profile, prompt: "Meter model"}
  meter_host: {type: host, prompt: "IP"}
  limit: {type: number, prompt: "Limit"}
assets:
  meter:
    adapter: probe
    profile: "${meter_profile}"
    path: "${site}/a/l/m"
    requires: [power_active_total_w]
    connection: {host: "${meter_host}", port: 502}
analytics:
  - plugin: doubler
    asset: meter
    inputs: {value: energy_active_import_total_kwh}
    params: {factr: "${limit}"}
"""


def lineno(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_without_values_only_required_points_may_be_bound_and_unknown_keys_are_reported(
    probe_host,
) -> None:
    lr = parse_recipe(PARAM_PROFILE, "any.yaml")
    problems = build_plan(lr, probe_host, sample=True).problems
    # The profile is a parameter: the recipe may rely only on what it `requires`.
    assert problems == [
        f"any.yaml:{lineno(PARAM_PROFILE, 'inputs:')}: analytics[0].inputs.value: asset 'meter' does not provide "
        "point 'energy_active_import_total_kwh' (did you mean 'power_active_total_w'?)",
        # An unknown key is reported even though its value is made up (no value for `limit` yet).
        f"any.yaml:{lineno(PARAM_PROFILE, 'factr')}: analytics[0].params.factr: unknown setting 'factr' "
        "(did you mean 'factor'?)",
    ]


def test_with_values_the_chosen_profile_decides(probe_host) -> None:
    text = PARAM_PROFILE.replace("factr", "factor")
    lr = parse_recipe(text, "any.yaml")
    ok = build_plan(
        lr, probe_host, {"meter_profile": "probe-meter", "meter_host": "127.0.0.1", "limit": 3}
    )
    assert ok.problems == []
    assert ok.components[1].config == {
        "factor": 3.0,
        "inputs": {"value": "energy_active_import_total_kwh"},
    }
    profile_line = lineno(text, 'profile: "$')
    wrong = build_plan(
        lr, probe_host, {"meter_profile": "probe-metr", "meter_host": "not a host!", "limit": "x"}
    )
    assert wrong.problems == [
        f"any.yaml:{lineno(text, 'meter_host:')}: parameters.meter_host: 'not a host!' is not an IP address or "
        "host name",
        f"any.yaml:{lineno(text, 'limit:')}: parameters.limit: 'x' is not a number",
        f"any.yaml:{profile_line}: assets.meter.profile: unknown profile 'probe-metr' "
        "(did you mean 'probe-meter'?); `kit profiles` lists them",
    ]


def test_shape_errors_are_all_reported_with_lines(tmp_path: Path) -> None:
    text = (
        PARAM_PROFILE.replace("version: 1.0.0", "version: one")
        .replace("type: host", "type: hostname")
        .replace("  - plugin: doubler", "  - plugin: doubler\n    colour: red")
    )
    f = tmp_path / "r.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_recipe(f)
    probs = err.value.problems
    assert len(probs) == 3, probs
    assert probs[0].startswith(
        f"{f}:{lineno(text, 'version:')}: version: String should match pattern"
    )
    assert probs[1].startswith(
        f"{f}:{lineno(text, 'meter_host:')}: parameters.meter_host: Input tag 'hostname'"
    )
    assert (
        probs[2]
        == f"{f}:{lineno(text, 'colour')}: analytics[0].colour: unknown field (allowed: asset, inputs, name, params, plugin)"
    )


@pytest.mark.parametrize(
    "text, seconds",
    [
        ("90", 90.0),
        ("90s", 90.0),
        ("15m", 900.0),
        ("8h", 28800.0),
        ("500ms", 0.5),
        (12, 12.0),
        ("1.5 h", 5400.0),
    ],
)
def test_durations(text, seconds) -> None:
    assert parse_duration(text) == seconds


def test_substitution_is_plain_and_typed() -> None:
    values = {"port": 502, "host": "10.0.0.1", "site": "s"}
    assert substitute(
        {"port": "${port}", "url": "tcp://${host}:${port}", "l": ["${site}"]}, values
    ) == {"port": 502, "url": "tcp://10.0.0.1:502", "l": ["s"]}
    with pytest.raises(KeyError):
        substitute("${port + 1}", values)  # no expressions: this is just an unknown name


def test_secrets_never_appear_in_a_plan(probe_host) -> None:
    text = """\
id: secretive
version: 1.0.0
title: t
summary: s
kpi: {name: k, moves: m, evidence: e}
parameters:
  meter_host: {type: host, prompt: "IP"}
  password: {type: secret, prompt: "Password"}
assets:
  meter:
    adapter: probe
    profile: probe-meter
    path: "${site}/a/l/m"
    connection: {host: "${meter_host}", port: 502, password: "${password}"}
"""
    plan = build_plan(
        parse_recipe(text, "s.yaml"),
        probe_host,
        {"meter_host": "127.0.0.1", "password": "hunter2-x"},
    )
    assert plan.problems == []
    assert plan.components[0].config["password"] == "hunter2-x"  # the runtime needs it …
    assert "hunter2-x" not in repr(plan.describe())  # … nobody is shown it

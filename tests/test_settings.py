"""Site settings: file + environment, errors as file:line: field: message."""

import textwrap

import pytest

from kit.errors import ConfigError
from kit.settings import load_settings


def write(tmp_path, text):
    p = tmp_path / "kit.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def test_defaults_and_file(tmp_path):
    p = write(
        tmp_path,
        """
        site: Werk Süd
        nats:
          port: 4333
        retention:
          data_max_age_hours: 12
    """,
    )
    s = load_settings(p, env={})
    assert s.site == "Werk Süd" and s.nats.port == 4333 and s.retention.data_max_age_hours == 12
    assert s.nats.host == "127.0.0.1"  # loopback by default


def test_every_problem_named_with_line_and_field(tmp_path):
    p = write(
        tmp_path,
        """
        site: plant
        nats:
          port: 99999
          hots: 0.0.0.0
        retention:
          data_max_age_hours: -1
        plugin_policy: strict
    """,
    )
    with pytest.raises(ConfigError) as e:
        load_settings(p, env={})
    problems = e.value.problems
    assert f"{p}:4: nats.port: Input should be less than or equal to 65535" in problems
    assert any(
        x.startswith(f"{p}:5: nats.hots: unknown field (did you mean 'host'?)") for x in problems
    )
    assert f"{p}:7: retention.data_max_age_hours: Input should be greater than 0" in problems
    assert any(x.startswith(f"{p}:8: plugin_policy: Input should be") for x in problems)
    assert len(problems) == 4


def test_environment_overrides_file(tmp_path):
    p = write(tmp_path, "nats:\n  port: 4333\n")
    s = load_settings(
        p, env={"KIT_NATS__PORT": "5000", "KIT_SITE": "envsite", "KIT_LOAD_PLUGINS": "x"}
    )
    assert s.nats.port == 5000 and s.site == "envsite"


def test_environment_errors_name_the_variable(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_settings(None, env={"KIT_NATS__PORT": "many"})
    assert e.value.problems == [
        "environment KIT_NATS__PORT: nats.port: Input should be a valid integer, "
        "unable to parse string as an integer"
    ]


def test_invalid_yaml_names_the_line(tmp_path):
    p = write(tmp_path, "site: a\nnats:\n  port: [1, 2\n")
    with pytest.raises(ConfigError, match=r"kit.yaml:\d+: invalid YAML"):
        load_settings(p, env={})


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "nope.yaml", env={})

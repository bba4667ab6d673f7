"""Every documented ``KIT_…`` variable is accepted, and ``--config`` works where the docs use it.

The variables are read from the docs themselves, so a variable documented later is covered
without touching this file.
"""

import re
import signal
import subprocess
from pathlib import Path

import pytest

from kit import bus, subjects
from kit.errors import ConfigError
from kit.settings import OPERATOR_VARIABLES, Settings, load_settings
from tests.test_cli_runtime import KIT, env_for, free_port, wait_line

DOCS = Path(__file__).resolve().parents[1] / "docs"
#: Stream and KV bucket names share the KIT_ prefix but are not environment variables.
BUS_NAMES = {
    subjects.STREAM_DATA,
    subjects.STREAM_KPI,
    subjects.STREAM_EVENTS,
    bus.KV_DEPLOYMENTS,
    bus.KV_LAST,
    bus.KV_CONFIG,
    bus.KV_STATE,
    "KIT_DATA_SAMPLED",  # the site stream a hub sources sampled raw data from (fleet.md)
}
VAR = re.compile(r"\bKIT_[A-Z][A-Z0-9_]*[A-Z0-9]\b")
EXAMPLE = re.compile(r"`(KIT_[A-Z][A-Z0-9_]*)=([^`\s]+)`")


def documented_variables() -> set[str]:
    found = set()
    for md in DOCS.rglob("*.md"):
        found |= set(VAR.findall(md.read_text()))
    # KIT_CONFIG is both the settings-file variable and a KV bucket: it stays a variable.
    return {v for v in found if v not in BUS_NAMES or v in OPERATOR_VARIABLES}


def reference_examples() -> dict[str, str]:
    """``KIT_X=value`` examples of the reference table in docs/configuration.md."""
    return dict(EXAMPLE.findall((DOCS / "configuration.md").read_text()))


def test_docs_mention_the_tui_variables():
    # Guard the parser: if it found nothing, every test below would pass vacuously.
    assert {"KIT_OPERATOR", "KIT_TUI_THEME", "KIT_ROLE", "KIT_NATS__PORT"} <= documented_variables()


@pytest.mark.parametrize("var", sorted(documented_variables()))
def test_every_documented_variable_is_in_the_reference_with_an_example(var):
    assert var in reference_examples(), f"{var} is used in docs/ but not in configuration.md"


@pytest.mark.parametrize("var", sorted(documented_variables()))
def test_every_documented_variable_is_accepted(var, tmp_path):
    value = reference_examples()[var]
    env = {var: value}
    if var == "KIT_CONFIG":
        cfg = tmp_path / "kit.yaml"
        cfg.write_text("site: from-file\n")
        env = {var: str(cfg)}
    s = load_settings(None, env=env)
    if var in OPERATOR_VARIABLES:
        # Not a setting: nothing changes but the file it may name.
        expected = Settings(site="from-file") if var == "KIT_CONFIG" else Settings()
        assert s.model_dump() == expected.model_dump()
        return
    # A setting: the value lands on the field the name spells.
    node = s
    for part in var[4:].lower().split("__"):
        node = getattr(node, part)
    if isinstance(node, bool):  # bool("false") is True: compare with pydantic's reading
        assert node is (value.lower() in ("1", "true", "yes", "on"))
    else:
        assert node == type(node)(value)


def test_unknown_variables_are_ignored_but_misspelt_nested_ones_fail():
    s = load_settings(None, env={"KIT_SOMETHING_ELSE": "x", "KIT_OPERATOR": "anna"})
    assert s.site == "site"
    with pytest.raises(ConfigError) as e:
        load_settings(None, env={"KIT_NATS__PROT": "1"})
    assert any(p.startswith("environment KIT_NATS__PROT: nats.prot") for p in e.value.problems)


def test_misspelt_setting_is_logged_with_a_suggestion(caplog):
    load_settings(None, env={"KIT_STIE": "x"})
    assert "KIT_STIE is not a setting and is ignored (did you mean KIT_SITE?)" in caplog.text


def test_status_with_every_documented_switch_reaches_the_runtime_lookup(tmp_path):
    """`kit status` with the TUI/operator variables set fails only because nothing runs."""
    switches = {
        v: reference_examples()[v] for v in documented_variables() & set(OPERATOR_VARIABLES)
    }
    switches.pop("KIT_CONFIG")
    switches.pop("KIT_LOAD_PLUGINS")  # would hide the built-in commands' plugins; not a setting
    r = subprocess.run(
        KIT + ["status"],
        env=env_for(tmp_path / "d", **switches),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 5, r.stderr
    assert "Extra inputs" not in r.stderr and "no kit runtime is running" in r.stderr


def test_up_with_config_after_the_command(tmp_path):
    """`kit up --config FILE` as in docs/install.md and the systemd unit, with TUI variables set."""
    data = tmp_path / "data"
    cfg = tmp_path / "kit.yaml"
    cfg.write_text(f"site: werk-sued\ndata_dir: {data}\nnats:\n  port: {free_port()}\n")
    env = env_for(tmp_path / "not-used", KIT_OPERATOR="anna", KIT_TUI_THEME="ansi-dark")
    env.pop("KIT_DATA_DIR")  # the file must decide the data directory
    proc = subprocess.Popen(
        KIT + ["up", "--config", str(cfg)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = wait_line(proc, "kit runtime up")
        assert "site werk-sued" in line
        assert (data / "runtime.json").exists()
        st = subprocess.run(
            KIT + ["status", "--json", "--config", str(cfg)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert st.returncode == 0, st.stderr
        assert '"site": "werk-sued"' in st.stdout
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
    assert rc == 0

"""Opportunities, business cases and the site questionnaire (issue 13 item 2), without a
network: an inventory as ``kit scan`` saves it, the shipped recipes and profiles."""

from __future__ import annotations

import pytest

from kit.errors import ConfigError
from kit.library import Library
from kit.plugins import get_plugin_manager
from kit.scan.inventory import Device, Endpoint, Inventory
from kit.scan.opportunities import NEEDS_SIGNAL_WEIGHT, rank
from kit.scan.questionnaire import (
    Answers,
    answers_path,
    apply_sets,
    ask,
    load_answers,
    save_answers,
)


@pytest.fixture(scope="module")
def library():
    return Library(get_plugin_manager(), None)


def _inv(*profiles: str | None) -> Inventory:
    return Inventory(
        endpoints=[
            Endpoint(
                host="10.0.0.5",
                port=502,
                protocol="modbus",
                status="scanned",
                devices=[
                    Device(unit_id=i, status="identified", profile=p, confidence=1.0)
                    if p
                    else Device(unit_id=i, status="unknown")
                    for i, p in enumerate(profiles, start=1)
                ],
            )
        ]
    )


def test_rank_places_recipes_on_devices_and_names_the_missing_signal(library):
    inv = _inv("eastron-sdm630", "banner-qm30vt2", None)
    got = {(o.recipe, o.device): o for o in rank(inv, library)}
    # The meter fits energy per shift now; the vibration sensor fits condition monitoring.
    assert got[("energy-per-shift", 1)].status == "fits"
    assert got[("condition-motor", 2)].status == "fits"
    # Idle energy needs a running signal from the machine: one more signal, named.
    idle = got[("idle-energy", 1)]
    assert idle.status == "needs_signal" and idle.missing == ["machine: machine_running"]
    # The unknown device (3) gets nothing; enablers and the synthetic recipe are not listed.
    assert all(a.device != 3 for o in got.values() for a in o.assets)
    assert not {r for r, _ in got} & {"record-device", "basic-alarms", "synthetic-machine-watch"}
    # Ranked by expected value: midpoint, halved while a signal is missing.
    ranked = rank(inv, library)
    evs = [o.expected_value for o in ranked]
    assert evs == sorted(evs, reverse=True)
    assert idle.case is not None
    assert idle.expected_value == pytest.approx(
        (idle.case.low + idle.case.high) / 2 * NEEDS_SIGNAL_WEIGHT
    )
    assert got[("energy-per-shift", 1)].install_hint() == "kit install energy-per-shift --device 1"


def test_a_machine_plc_and_a_meter_make_idle_energy_fit(library):
    inv = _inv("eastron-sdm630", "schneider-modicon-mw")
    got = {(o.recipe, o.device): o for o in rank(inv, library)}
    idle = got[("idle-energy", 2)]  # anchored on the machine (its first role)
    assert idle.status == "fits"
    assert [(a.role, a.device) for a in idle.assets] == [("machine", 2), ("meter", 1)]
    assert got[("oee-machine", 2)].status == "fits"


def test_business_case_ranges_follow_the_inputs_and_the_evidence(library):
    answers = apply_sets(
        Answers(),
        [
            "energy_tariff=0.25",
            "average_load_kw=40",
            "shifts_per_day=1",
            "hours_per_shift=8",
            "working_days_per_year=250",
            "unplanned_downtime_hours_per_week=3",
            "downtime_cost_per_hour=800",
            "currency=CHF",
        ],
    )
    got = {o.recipe: o for o in rank(_inv("eastron-sdm630", "banner-qm30vt2"), library, answers)}
    # Idle energy: 40 kW × (1 × 8 h × 250 d) × 0.25/kWh = 20,000 a year; 18–29 % of it.
    idle = got["idle-energy"].case
    assert idle is not None and idle.currency == "CHF"
    assert (idle.low, idle.high) == (20_000 * 0.18, 20_000 * 0.29)
    # Condition: 3 h/week × 50 weeks × 800 = 120,000 of downtime a year; 10–35 % of it.
    cond = got["condition-motor"].case
    assert cond is not None and (cond.low, cond.high) == (12_000, 42_000)
    # What was answered is not an assumption; what was not (OEE baseline …) would be.
    assert not any(i.assumption for i in cond.inputs)
    assert "secondary review" in cond.effect and cond.evidence == ["condition_downtime"]
    default = rank(_inv("banner-qm30vt2"), library)[0].case
    assert default is not None and all(i.assumption for i in default.inputs)


def test_two_significant_figures_no_invented_precision():
    from kit.scan.business import round2

    assert round2(12_345.0) == 12_000 and round2(0.04567) == 0.046 and round2(0) == 0


def test_answers_file_errors_name_file_line_and_field(tmp_path):
    path = tmp_path / "answers.yaml"
    path.write_text(
        "site:\n  energy_tariff: 0.3\n  downtime_cost_per_hour: -5\nreadiness:\n  target_sett: yes\n"
    )
    with pytest.raises(ConfigError) as err:
        load_answers(path)
    text = str(err.value)
    assert f"{path}:3: site.downtime_cost_per_hour:" in text
    assert f"{path}:5: readiness.target_sett:" in text and "target_set" in text


def test_answers_round_trip_keeps_only_what_was_answered(tmp_path):
    a = apply_sets(Answers(), ["energy_tariff=0.31", "target_set=partly"])
    path = answers_path(tmp_path)
    save_answers(a, path)
    back = load_answers(path)
    assert (
        back == a and back.value("energy_tariff") == 0.31 and back.level("target_set") == "partly"
    )
    assert (
        back.assumed("downtime_cost_per_hour") and "downtime_cost_per_hour" not in path.read_text()
    )
    with pytest.raises(ConfigError, match="energy_tariff"):
        apply_sets(a, ["energy_tarif=1"])
    # KEY= clears an answer (back to the default, an assumption).
    assert apply_sets(a, ["energy_tariff="]).assumed("energy_tariff")


def test_interactive_answers_ask_again_on_a_bad_reply():
    # currency, tariff (a bad reply, then a good one), nine more figures, then readiness.
    replies = iter(["", "abc", "0.4"] + [""] * 9 + ["y", "maybe", "p"])
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return next(replies, "")

    refused: list[str] = []
    got = ask(Answers(), prompt, refused.append)
    assert refused == ["Input should be a valid number, unable to parse string as a number"] + [
        "Input should be 'yes', 'partly', 'no' or 'unknown'"
    ]
    assert got.value("energy_tariff") == 0.4 and got.assumed("currency")
    # The tariff question came twice (the bad reply "abc" was refused).
    assert sum("Electricity price" in q for q in asked) == 2
    assert got.level("downtime_reasons_recorded") == "yes"
    assert got.level("counts_recorded") == "partly" and got.level("target_set") is None


def _kit(args: list[str], data_dir, input: str | None = None):
    from click.testing import CliRunner

    from kit.cli import cli

    return CliRunner().invoke(
        cli, args, input=input, env={"KIT_DATA_DIR": str(data_dir), "KIT_CONFIG": None}
    )


def test_kit_scan_questions_interactive_and_flags(tmp_path):
    # Interactive: Enter keeps the default (an assumption); a bad reply is asked again.
    replies = ["", "x", "0.27"] + [""] * 9 + ["n"] + [""] * 11
    got = _kit(["scan", "questions", "--ask"], tmp_path, input="\n".join(replies) + "\n")
    assert got.exit_code == 0, got.output
    saved = load_answers(answers_path(tmp_path))
    assert saved.value("energy_tariff") == 0.27 and saved.assumed("currency")
    assert saved.level("downtime_reasons_recorded") == "no"
    assert "defaults used as assumptions: currency" in got.output
    # Flags merge over what was saved; a bad key is a clear error naming the closest one.
    got = _kit(["scan", "questions", "--set", "shifts_per_day=3"], tmp_path)
    assert got.exit_code == 0, got.output
    saved = load_answers(answers_path(tmp_path))
    assert saved.value("shifts_per_day") == 3 and saved.value("energy_tariff") == 0.27
    got = _kit(["scan", "questions", "--set", "shift_per_day=3"], tmp_path)
    assert got.exit_code == 2 and "shifts_per_day" in got.output


def test_kit_scan_subcommands_need_an_inventory_and_targets_still_scan(tmp_path):
    got = _kit(["scan", "report"], tmp_path)
    assert got.exit_code == 2 and "no inventory yet" in got.output
    # Anything that is not a subcommand goes to `kit scan run`: a bad target is its error.
    got = _kit(["scan", "plc.local"], tmp_path)
    assert got.exit_code == 2 and "names are not resolved" in got.output
    got = _kit(["scan", "--help"], tmp_path)
    assert all(c in got.output for c in ("questions", "opportunities", "readiness", "report"))


def test_every_figure_has_a_source_and_is_documented():
    """The evidence table: a range, a kind and a source URL per figure; every business case
    cites an entry; docs/scan.md lists every entry."""
    from pathlib import Path

    from kit.scan.business import VALUE_MODELS
    from kit.scan.evidence import EVIDENCE

    for e in EVIDENCE.values():
        assert e.low <= e.high and e.kind and e.source.url.startswith("http"), e.id
    cited = {eid for fn in VALUE_MODELS.values() for eid in fn(Answers()).evidence}
    assert cited <= set(EVIDENCE)
    doc = (Path(__file__).resolve().parents[1] / "docs" / "scan.md").read_text()
    assert all(f"`{eid}`" in doc for eid in EVIDENCE)

"""Device identity registers (issue 12): declared in the profile, read by probe, the connection
test and so commissioning; a wrong model fails naming expected vs read; reports quote what was
read, never the profile's own text. Against the independent meter emulator and a real runtime."""

from __future__ import annotations

from pathlib import Path

import meter_emulator as me
import pytest
from kit_modbus.identity import IdentityRegister, judge
from kit_modbus.plugin import ModbusAdapter, ModbusConfig
from kit_modbus.probe import probe_device, render

from kit.errors import AdapterError, ConfigError
from kit.plugins import get_plugin_manager
from kit.profiles import load_profile

IDENTITY = me.IDENTITY_YAML


def _write(tmp_path: Path, extra: str = IDENTITY) -> Path:
    d = tmp_path / "profiles"
    d.mkdir(exist_ok=True)
    path = d / "emu-em24.yaml"
    path.write_text(me.profile_yaml(extra=extra))
    return path


def test_judge_expected_values_and_patterns():
    reg = IdentityRegister(name="model_code", address=1, table="input", expected=[340, 341])
    assert judge(reg, 341).status == "ok"
    bad = judge(reg, 342)
    assert (
        bad.status == "mismatch" and bad.text() == "model_code = 342 (profile expects 340 or 341)"
    )
    fw = IdentityRegister(name="firmware", address=1, table="input", pattern=r"^1\.")
    assert judge(fw, "1.04").status == "ok" and judge(fw, "2.0").status == "mismatch"
    name = IdentityRegister(
        name="model", address=1, table="holding", type="string", length=4, expected="EM340"
    )
    assert judge(name, "em340\x00").status == "ok"
    assert judge(IdentityRegister(name="serial", address=1, table="input"), 7).status == "read"


def test_invalid_identity_is_a_clear_profile_error(tmp_path):
    path = _write(
        tmp_path,
        "identity:\n  registers:\n    - {name: fw, table: input, address: 1, pattern: '(['}\n",
    )
    with pytest.raises(ConfigError) as err:
        load_profile(path, get_plugin_manager())
    text = str(err.value) + " ".join(err.value.problems or [])
    assert "pattern" in text and "regular expression" in text


async def test_probe_reports_what_it_read_and_a_mismatch(meter, tmp_path):
    prof = load_profile(_write(tmp_path), get_plugin_manager())
    right = await meter()
    report = await probe_device(prof, right.host, right.port, 1)
    assert report["summary"]["identity"] == "ok"
    assert "identity: model_code = 341, firmware = 259" in render(report)
    wrong = await meter(id_code=340)
    report = await probe_device(prof, wrong.host, wrong.port, 1)
    assert report["summary"]["identity"] == "mismatch"
    assert "DOES NOT MATCH the profile: model_code = 340 (profile expects 341)" in render(report)


async def test_connection_test_fails_on_the_wrong_model(meter, tmp_path):
    path = _write(tmp_path)
    wrong = await meter(id_code=340)
    cfg = ModbusConfig.model_validate(
        {"profile": str(path), "host": wrong.host, "port": wrong.port}
    )
    with pytest.raises(AdapterError) as err:
        await ModbusAdapter.test_connection(cfg)
    assert "model_code = 340 (profile expects 341)" in str(err.value)
    right = await meter()
    cfg = ModbusConfig.model_validate(
        {"profile": str(path), "host": right.host, "port": right.port}
    )
    msg = await ModbusAdapter.test_connection(cfg)
    assert "model_code = 341, firmware = 259" in msg
    assert "EM24-style emulator" not in msg  # the profile's own text is not evidence


def _params(emu) -> dict:
    return {
        "meter": "main feed",
        "meter_profile": "emu-em24",
        "meter_host": emu.host,
        "meter_port": emu.port,
    }


async def test_identity_mismatch_fails_commissioning(meter, site_host, kit_settings, make_runtime):
    wrong = await meter(id_code=340)
    rt = await make_runtime(kit_settings, host=site_host)
    with pytest.raises(AdapterError) as err:
        await rt.recipe_engine.install("energy-per-shift", _params(wrong), check_duration_s=1)
    text = str(err.value)
    assert "nothing was installed" in text
    assert "model_code = 340 (profile expects 341)" in text
    assert not [i for i in rt.supervisor.instances.values() if i.owner]


async def test_commissioning_report_quotes_what_was_read(
    meter, site_host, kit_settings, make_runtime
):
    right = await meter()
    rt = await make_runtime(kit_settings, host=site_host)
    result = await rt.recipe_engine.install(
        "energy-per-shift", _params(right), wait_report=True, check_duration_s=1
    )
    ident = result["identification"]["meter"]
    assert "model_code = 341, firmware = 259" in ident
    assert "EM24-style emulator" not in ident
    # The recipe has acceptance checks: its commissioning report carries the same text.
    device = result["report"]["devices"]["meter"]
    assert "model_code = 341, firmware = 259" in device["identification"]
    await rt.recipe_engine.uninstall(result["deployment"])

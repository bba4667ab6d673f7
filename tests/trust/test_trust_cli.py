"""The trust commands end to end: keys, sign, plugin verify, kit write with confirmation."""

from __future__ import annotations

import asyncio
import json
import struct

from click.testing import CliRunner

import kit.trust.plugin
from kit.bus import KV_DEPLOYMENTS
from kit.cli import cli
from kit.plugins import get_plugin_manager
from kit.settings import ComponentSpec
from kit.testing import wait_for

from .test_trust_writes import ASSET, REGISTERS, RULE, RecPlugin


async def _invoke(args: list[str], env: dict, input: str | None = None):
    # The CLI runs its own event loop: run it in a thread while the runtime serves here.
    return await asyncio.to_thread(CliRunner().invoke, cli, args, env=env, input=input)


async def test_kit_write_asks_for_confirmation_and_writes(kit_settings, make_runtime, tmp_path):
    REGISTERS.clear()
    settings = kit_settings.model_copy(
        update={
            "components": [
                ComponentSpec(
                    name="plc-1", type="rec-adapter", asset=ASSET, config={"device": "plc"}
                )
            ]
        }
    )
    host = get_plugin_manager(
        load_entrypoints=False, extra=[("kit-trust", kit.trust.plugin), ("rec", RecPlugin())]
    )
    rt = await make_runtime(settings, host=host)
    await (await rt.bus.kv(KV_DEPLOYMENTS)).put("d1", json.dumps({"writes": [RULE]}).encode())
    await wait_for(lambda: rt.supervisor.instances["plc-1"].component is not None)
    env = {"KIT_NATS_URL": rt.url, "XDG_DATA_HOME": str(tmp_path / "xdg"), "USER": "carla"}

    declined = await _invoke(["write", ASSET, "speed_setpoint", "33.5"], env, input="n\n")
    assert declined.exit_code == 1 and "nothing was written" in declined.output, declined.output
    assert REGISTERS == {}

    refused = await _invoke(["write", ASSET, "speed_setpoint", "1000", "--yes"], env)
    assert refused.exit_code == 3 and "above the maximum" in refused.output

    ok = await _invoke(["write", ASSET, "speed_setpoint", "33.5"], env, input="y\n")
    assert ok.exit_code == 0, ok.output
    assert tuple(REGISTERS["plc"][100:102]) == struct.unpack(">HH", struct.pack(">f", 33.5))

    plugins = await _invoke(["status"], env)  # the runtime still answers
    assert plugins.exit_code == 0


def test_keys_sign_and_verify_cli(tmp_path, monkeypatch):
    from .test_trust_signatures import install_plugin

    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    pkg = install_plugin(site, "2.0.0", mod="kit_tinyplug")
    env = {"XDG_DATA_HOME": str(tmp_path / "xdg"), "KIT_LOAD_PLUGINS": "tinyplug"}
    r = CliRunner()
    assert r.invoke(cli, ["keys", "new", "v", "--dir", str(tmp_path / "k")], env=env).exit_code == 0
    out = r.invoke(
        cli, ["keys", "trust", str(tmp_path / "k" / "v.pub"), "--role", "vendor"], env=env
    )
    assert out.exit_code == 0 and "trusted vendor key" in out.output
    assert (
        r.invoke(cli, ["sign", str(pkg), "--key", str(tmp_path / "k" / "v.key")], env=env).exit_code
        == 0
    )
    out = r.invoke(cli, ["plugin", "verify", "tinyplug"], env=env)
    assert out.exit_code == 0 and "Signed" in out.output
    (pkg / "plugin.py").write_text("# replaced\n")
    out = r.invoke(cli, ["plugin", "verify", "tinyplug"], env=env)
    assert out.exit_code == 3 and "Modified" in out.output and "REFUSED" in out.output

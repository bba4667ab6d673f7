"""A site pays in memory only for what it configures (issue 20, docs/sizing.md).

Loading every installed plugin (what ``kit up`` does before reading its components) must not
import asyncua (~67 MiB RSS) or polars (~37 MiB): they load when an OPC UA component or a
historian is actually created. Checked in a fresh interpreter, since this test process has
long imported both.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("asyncua", "polars", "textual")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys, json; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return {m.split(".")[0] for m in json.loads(out.stdout.strip().splitlines()[-1])}


def test_loading_all_plugins_imports_no_heavy_library() -> None:
    mods = _modules_after(
        "from kit.plugins import get_plugin_manager\n"
        "import kit.runtime\n"
        "h = get_plugin_manager()\n"
        "assert {'opcua', 'historian', 'modbus', 'oee'} <= set(h.components.items)"
    )
    assert not (mods & set(HEAVY)), f"imported at plugin load: {sorted(mods & set(HEAVY))}"


def test_creating_an_opcua_component_builds_the_real_adapter() -> None:
    mods = _modules_after(
        "from kit.plugins import get_plugin_manager\n"
        "from kit.components import ComponentContext\n"
        "h = get_plugin_manager()\n"
        "cls = h.component('opcua').cls\n"
        "cfg = cls.Config.model_validate({'endpoint': 'opc.tcp://127.0.0.1:4840', 'profile': 'x'})\n"
        "obj = cls(cfg, ComponentContext('ua', None))\n"
        "from kit_opcua.adapter import OpcuaAdapter\n"
        "assert type(obj) is OpcuaAdapter and obj.cfg is cfg, type(obj)\n"
        "assert isinstance(obj, cls)"
    )
    assert "asyncua" in mods

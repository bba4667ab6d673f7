"""Node-RED (from npm, tests/interop) runs the documented flow docs/examples/node-red-flow.json
and receives the kit's KPIs over MQTT as a `kit users add --role viewer` account.

The one end-to-end proof of issue 17's Node-RED point: Node-RED takes seconds to start.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from kit.components import ComponentContext
from kit.settings import ComponentSpec, NatsSettings
from kit.testing import wait_for
from kit.testing_tools import interop_modules
from kit.trust.users import add_user

REPO = Path(__file__).resolve().parents[3]
FLOW = REPO / "docs" / "examples" / "node-red-flow.json"
RED = REPO / "tests" / "interop" / "node_modules" / "node-red" / "red.js"
ASSET = "test/assembly/line1/press1"


def _get(url: str) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 (loopback only)
            data: dict[str, Any] = json.loads(r.read())
            return data
    except (OSError, ValueError):
        return None  # not up yet


async def test_node_red_runs_the_documented_flow_and_receives_kpis(
    kit_settings, make_runtime, tmp_path, port_later
):
    interop_modules("node-red")  # npm ci from tests/interop's lock file on first use
    node = shutil.which("node")
    assert node and RED.is_file(), "Node.js and node-red are needed: run `npm ci` in tests/interop"
    data_dir = tmp_path / "site"
    pw = add_user(data_dir, "nodered", "viewer")
    settings = kit_settings.model_copy(
        update={
            "nats_url": None,
            "data_dir": data_dir,
            "nats": NatsSettings(port=0, mqtt_port=0),
            "components": [ComponentSpec(name="mqtt-out", type="kpi-topics", config={})],
        }
    )
    rt = await make_runtime(settings)
    out = rt.supervisor.instances["mqtt-out"].component
    await wait_for(lambda: out.connected, message="kpi-topics connected")
    energy = ComponentContext("energy", rt.bus, asset=ASSET)
    for window, v in (("hour:2026-12-06T05", 12.5), ("day:2026-12-06", 181.0)):
        await energy.publish_kpi("energy_kwh", v, unit="kWh", window=window, attrs={"final": False})
    await energy.publish_kpi("oee", 0.71)
    await wait_for(lambda: out.counts["published"] == 3, message="retained KPIs published")

    # The documented flow as a user imports it; only the broker address is this test's.
    flow = json.loads(FLOW.read_text())
    broker = next(n for n in flow if n["type"] == "mqtt-broker")
    broker.update(broker="127.0.0.1", port=str(rt.embedded.mqtt_port))
    user_dir = tmp_path / "node-red"
    user_dir.mkdir()
    (user_dir / "flows.json").write_text(json.dumps(flow))
    (user_dir / "flows_cred.json").write_text(
        json.dumps({broker["id"]: {"user": "nodered", "password": pw}})
    )
    http_port = port_later()
    (user_dir / "settings.js").write_text(
        "module.exports = {"
        f"uiHost: '127.0.0.1', uiPort: {http_port}, flowFile: 'flows.json', "
        "credentialSecret: false, disableEditor: true, "
        # Nothing leaves the machine: no version check or telemetry to the internet.
        "telemetry: {enabled: false}, diagnostics: {enabled: false}, "
        "logging: {console: {level: 'info', metrics: false, audit: false}}};"
    )
    log = (tmp_path / "node-red.log").open("wb")
    proc = subprocess.Popen(
        [node, str(RED), "--userDir", str(user_dir), "--settings", str(user_dir / "settings.js")],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "NODE_RED_ENABLE_PROJECTS": "false"},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{http_port}/kit/kpi"
    base = f"kit/out/kpi/{ASSET}"
    try:

        async def kpis(n: int) -> dict[str, Any] | None:
            got = await asyncio.to_thread(_get, url)
            return got if got and len(got) >= n else None

        # Retained values reach a client that connects after they were published …
        got = await wait_for(lambda: kpis(3), timeout=120, message="KPIs in Node-RED")
        assert got[f"{base}/energy_kwh/hour"]["value"] == 12.5
        assert got[f"{base}/energy_kwh/day"]["value"] == 181.0
        assert got[f"{base}/oee/now"]["value"] == 0.71
        # … and a new value arrives live on its own window's topic (no jumping gauge).
        await energy.publish_kpi("energy_kwh", 13.0, unit="kWh", window="hour:2026-12-06T05")

        async def hour_is_13() -> bool:
            got = await asyncio.to_thread(_get, url)
            return bool(got) and got[f"{base}/energy_kwh/hour"]["value"] == 13.0  # type: ignore[index]

        await wait_for(hour_is_13, timeout=30, message="live update in Node-RED")
        final = await asyncio.to_thread(_get, url)
        assert final is not None and final[f"{base}/energy_kwh/day"]["value"] == 181.0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, 10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            await asyncio.to_thread(proc.wait)
        log.close()
        print((tmp_path / "node-red.log").read_text()[-3000:])  # shown if the test failed
    assert proc.returncode is not None

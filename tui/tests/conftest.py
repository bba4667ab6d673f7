"""Fixtures for the TUI tests: a test-only plugin serving the control API endpoints the TUI
uses (recipes, deployments, alarms, OPC UA certs), registered with the real endpoints'
request/reply models (kit.api and the plugins' ``api`` modules) so its replies have the real
shapes — the runtime checks them; the real endpoints are exercised by ``test_tui_real_*.py``.

The plugin is real in every way that matters to the TUI: it is registered through the
``register_endpoints`` hook of a real runtime, its install starts real components in the
supervisor (a synthetic source and a small OEE-like analytics component publishing KPIs on
the bus), and its connection test opens a real TCP connection.

Also shared by every TUI test: the ``modbus_sim`` fixture (a simulated machine controller)
and, on ``sys.path``, the ``tui_helpers`` module.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

import kit
from kit.components import Analytics
from kit.errors import AdapterError, ConfigError, KitError
from kit.payloads import SampleBatch
from kit.settings import ComponentSpec

sys.path.insert(0, str(Path(__file__).parent))
from tui_helpers import PROFILE  # noqa: E402  (importable only from here on)

RECIPE = {
    "id": "oee-basic",
    "version": "1.0.0",
    "title": "OEE for one machine",
    "kpi": "oee",
    "summary": "Availability, performance and quality of one machine from its running signal and counters.",
    "needs": [
        {
            "name": "machine",
            "adapter": "modbus",
            "points": ["machine_running", "count_good", "count_reject"],
        }
    ],
}
PARAMS = [
    {
        "name": "host",
        "type": "host",
        "prompt": "IP address of the machine PLC",
        "default": "127.0.0.1",
    },
    {"name": "port", "type": "port", "prompt": "Modbus TCP port", "default": 502},
    {
        "name": "asset",
        "type": "text",
        "prompt": "Asset path",
        "default": "test/assembly/line9/press9",
    },
    {
        "name": "ideal_cycle_s",
        "type": "number",
        "prompt": "Ideal cycle time",
        "unit": "s",
        "min": 0.1,
        "max": 3600,
    },
]


class FakeOeeConfig(BaseModel):
    """Config of the stand-in OEE component."""

    model_config = ConfigDict(extra="forbid")
    ideal_cycle_s: float


class FakeOee(Analytics):
    """Publishes ``quality`` = good / (good + reject) and ``oee`` from its asset's counters."""

    name: ClassVar[str] = "fake_oee"
    Config: ClassVar[type[BaseModel]] = FakeOeeConfig

    async def run(self) -> None:
        """Recompute on each batch of the own asset."""
        done = asyncio.Event()

        async def on_batch(b: SampleBatch) -> None:
            vals = {p.name: p.value for p in b.points if p.quality == "good"}
            good, rej = vals.get("count_good"), vals.get("count_reject")
            if good is None or rej is None or good + rej == 0:
                return
            q = good / (good + rej)
            await self.ctx.publish_kpi("quality", q, window="rolling")
            await self.ctx.publish_kpi("oee", q * 0.9, window="rolling")

        await self.ctx.subscribe_samples(f"kit.data.{self.ctx.asset_path().tokens}", on_batch)
        await done.wait()


class FakeEndpoints:
    """A test plugin serving recipes.*, deployments.*, alarms.*, opcua.certs.* (see module docstring)."""

    def __init__(self) -> None:
        self.deployments: dict[str, dict[str, Any]] = {}
        self.alarms: dict[str, dict[str, Any]] = {}
        self.certs = {
            "AB12CD34EF56": {
                "thumbprint": "AB12CD34EF56",
                "subject": "CN=plc-17,O=ACME",
                "not_before": "2026-01-01T00:00:00Z",
                "not_after": "2031-01-01T00:00:00Z",
                "state": "rejected",
            }
        }
        self.calls: list[tuple[str, Any]] = []
        self.downtimes = [
            {"id": "dt-1", "start": "2026-11-22T07:05:00+00:00", "duration_s": 300, "reason": None}
        ]

    @kit.hookimpl
    def register_components(self, register: Any) -> None:
        register.add(FakeOee)

    @kit.hookimpl
    def register_endpoints(self, api: Any, runtime: Any) -> None:
        from kit_tui.data import plugin_api

        from kit.api import load_catalog

        catalog = load_catalog()

        def ep(name: str):
            spec = catalog.get(name) or plugin_api.spec(name)

            def deco(fn):
                async def handler(body: Any) -> Any:
                    body = body.model_dump(mode="json", by_alias=True)  # validated request
                    self.calls.append((name, body))
                    return await fn(body)

                api.add(spec, handler)
                return fn

            return deco

        @ep("recipes.list")
        async def _list(body):
            return {"recipes": [RECIPE]}

        @ep("recipes.show")
        async def _show(body):
            recipe = {"id": RECIPE["id"], "commissioning": {"duration_s": 30}}
            return {**RECIPE, "parameters": PARAMS, "text": "id: oee-basic\n", "recipe": recipe}

        @ep("recipes.match")
        async def _match(body):
            cands = [
                {"role": "machine", "asset": i.asset, "ok": True}
                for i in runtime.supervisor.instances.values()
                if i.type == "synthetic"
            ]
            return {"recipe": RECIPE["id"], "satisfied": bool(cands), "candidates": cands}

        @ep("recipes.test_connection")
        async def _test(body):
            p = body["params"]
            try:
                _r, w = await asyncio.wait_for(
                    asyncio.open_connection(p["host"], int(p["port"])), 2
                )
            except (TimeoutError, OSError) as exc:
                raise AdapterError(
                    f"machine at {p['host']}:{p['port']} did not answer ({exc.__class__.__name__}); "
                    "check the IP address, the port and that Modbus TCP is enabled"
                ) from None
            w.close()
            return {
                "devices": [{"name": "machine", "detail": f"TCP {p['host']}:{p['port']} answered"}]
            }

        @ep("recipes.plan")
        async def _plan(body):
            p = body["params"]
            if float(p.get("ideal_cycle_s", 0)) <= 0:
                # As the recipe engine words it: file:line: parameters.<name>: message.
                raise ConfigError(
                    "oee-basic.yaml: 1 problem(s)",
                    ["oee-basic.yaml:9: parameters.ideal_cycle_s: must be > 0"],
                )
            return {
                "recipe": RECIPE["id"],
                "version": RECIPE["version"],
                "deployment": body.get("deployment") or "oee-basic-1",
                "components": [
                    {"name": "oee-basic-src", "type": "synthetic", "asset": p["asset"]},
                    {"name": "oee-basic-oee", "type": "fake_oee", "asset": p["asset"]},
                ],
                "connections": [
                    {
                        "asset": "machine",
                        "path": p["asset"],
                        "adapter": "synthetic",
                        "settings": {"host": p["host"], "port": p["port"]},
                    }
                ],
                "subjects": {"kpi": [f"kit.kpi.{p['asset'].replace('/', '.')}.oee"]},
            }

        @ep("recipes.install")
        async def _install(body):
            p = body["params"]
            name = body.get("deployment") or "oee-basic-1"
            await runtime.add_component(
                ComponentSpec(
                    name=f"{name}-src",
                    type="synthetic",
                    asset=p["asset"],
                    config={"interval_s": 0.1, "seed": 7},
                ),
                owner=name,
            )
            await runtime.add_component(
                ComponentSpec(
                    name=f"{name}-oee",
                    type="fake_oee",
                    asset=p["asset"],
                    config={"ideal_cycle_s": p["ideal_cycle_s"]},
                ),
                owner=name,
            )
            self.deployments[name] = {
                "id": name,
                "deployment": name,
                "recipe": RECIPE["id"],
                "version": RECIPE["version"],
                "status": "running",
                "assets": [p["asset"]],
                "params": p,
            }
            self.alarms["a1"] = {
                "id": "a1",
                "asset": p["asset"],
                "priority": "high",
                "state": "unacknowledged",
                "message": "power above 14 kW",
                "acked": False,
                "raised_at": "2026-11-22T08:00:00+00:00",
            }
            return {"deployment": name, "components": [f"{name}-src", f"{name}-oee"]}

        @ep("deployments.list")
        async def _deps(body):
            return {"deployments": list(self.deployments.values())}

        @ep("deployments.show")
        async def _dep(body):
            d = self.deployments.get(body.get("deployment"))
            if d is None:
                raise KitError(f"no deployment {body.get('deployment')!r}")
            src = runtime.supervisor.instances.get(f"{d['deployment']}-src")
            batches = src.component.batches if src and src.component else 0
            return {
                **d,
                "assets": {"machine": {"path": d["assets"][0]}},  # the record's shape
                "recipe_id": d["recipe"],
                "markdown": f"# {d['deployment']}",
                "report": {
                    "result": "pass" if batches > 0 else "fail",
                    "checks": [
                        {
                            "title": "machine updates at least every 2 s",
                            "passed": batches > 0,
                            "detail": f"{batches} batches",
                        }
                    ],
                },
            }

        @ep("recipes.uninstall")
        async def _uninstall(body):
            name = body["deployment"]
            for inst in [i for i in runtime.supervisor.instances.values() if i.owner == name]:
                await runtime.supervisor.remove(inst.name)
            self.deployments.pop(name, None)
            return {"deployment": name, "removed": [f"{name}-src", f"{name}-oee"]}

        @ep("recipes.upgrade")
        async def _upgrade(body):
            d = self.deployments[body["deployment"]]
            old = d["version"]
            d.update(recipe=body["recipe"], version="1.1.0")
            return {"deployment": body["deployment"], "changed": True, "from": old, "to": "1.1.0"}

        # A bundle here is base64 JSON of the deployment records (the real one is a zip).
        def _bundle(text: str) -> dict[str, Any]:
            return json.loads(base64.b64decode(text))

        @ep("bundles.export")
        async def _export(body):
            deps = [self.deployments[n] for n in body["deployments"]]
            return {"bundle": base64.b64encode(json.dumps({"deployments": deps}).encode()).decode()}

        @ep("bundles.inspect")
        async def _inspect(body):
            data = _bundle(body["bundle"])
            return {"deployments": [{"id": d["deployment"]} for d in data["deployments"]]}

        @ep("bundles.install")
        async def _bundle_install(body):
            installed = []
            for d in _bundle(body["bundle"])["deployments"]:
                name = d["deployment"] + "-copy"
                self.deployments[name] = {**d, "id": name, "deployment": name}
                installed.append({"deployment": name})
            return {"installed": installed}

        @ep("oee.downtimes")
        async def _downtimes(body):
            return self.downtimes

        @ep("oee.assign_reason")
        async def _reason(body):
            for d in self.downtimes:
                if d["id"] == body["downtime_id"]:
                    d.update(reason=body["reason"], who=body["who"], component=body["component"])
                    return d
            raise KitError(f"no downtime {body['downtime_id']!r}")

        @ep("alarms.list")
        async def _alarms(body):
            return list(self.alarms.values())

        @ep("alarms.ack")
        async def _ack(body):
            a = self.alarms[body["id"]]
            a.update(state="acknowledged", acked=True, acked_by=body["who"])
            return a

        @ep("alarms.shelve")
        async def _shelve(body):
            a = self.alarms[body["id"]]
            a.update(state="shelved", duration_s=body["duration_s"])
            return a

        @ep("opcua.certs.list")
        async def _certs(body):
            return {"certificates": list(self.certs.values())}

        @ep("opcua.certs.trust")
        async def _trust(body):
            self.certs[body["thumbprint"]]["state"] = "trusted"
            return self.certs[body["thumbprint"]]

        @ep("opcua.certs.reject")
        async def _reject(body):
            self.certs[body["thumbprint"]]["state"] = "rejected"
            return self.certs[body["thumbprint"]]


@pytest.fixture
def fake_endpoints() -> FakeEndpoints:
    """A fresh instance of the endpoint plugin (register it with ``temp_plugin``)."""
    return FakeEndpoints()


@pytest.fixture
async def modbus_sim():
    """The Modbus simulator of the machine's controller (stopped at teardown)."""
    from kit.cli.sim_cmd import start_simulator

    sim = await start_simulator(PROFILE)
    try:
        yield sim
    finally:
        await sim.stop()

"""Fixtures for the TUI tests: a test-only plugin serving the control API endpoints the TUI
uses (recipes, deployments, alarms, OPC UA certs) with the alternative reply shapes the
screens accept; the real endpoints are exercised by ``test_tui_real_*.py``.

The plugin is real in every way that matters to the TUI: it is registered through the
``register_endpoints`` hook of a real runtime, its install starts real components in the
supervisor (a synthetic source and a small OEE-like analytics component publishing KPIs on
the bus), and its connection test opens a real TCP connection.

Also shared by every TUI test: the ``modbus_sim`` fixture (a simulated machine controller)
and, on ``sys.path``, the ``tui_helpers`` module.
"""

from __future__ import annotations

import asyncio
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
    "needs": [{"name": "machine", "points": ["machine_running", "count_good", "count_reject"]}],
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
                "status": "pending",
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
        def ep(name: str):
            def deco(fn):
                async def handler(body: Any) -> Any:
                    self.calls.append((name, body))
                    return await fn(body or {})

                api.add(name, handler)
                return fn

            return deco

        @ep("recipes.list")
        async def _list(body):
            return {"recipes": [RECIPE]}

        @ep("recipes.show")
        async def _show(body):
            return {**RECIPE, "parameters": PARAMS}

        @ep("recipes.match")
        async def _match(body):
            cands = [
                {"asset": i.asset, "ok": True}
                for i in runtime.supervisor.instances.values()
                if i.type == "synthetic"
            ]
            return {"satisfied": bool(cands), "candidates": cands}

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
                raise ConfigError("invalid parameters", ["ideal_cycle_s: must be > 0"])
            return {
                "components": [
                    {"name": "oee-basic-src", "type": "synthetic", "asset": p["asset"]},
                    {"name": "oee-basic-oee", "type": "fake_oee", "asset": p["asset"]},
                ],
                "connections": [f"{p['host']}:{p['port']}"],
                "subjects": [f"kit.kpi.{p['asset'].replace('/', '.')}.oee"],
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
                "ts": "2026-11-22T08:00:00+00:00",
            }
            return {"deployment": name}

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
                "report": {
                    "passed": batches > 0,
                    "checks": [
                        {
                            "name": "machine updates at least every 2 s",
                            "passed": batches > 0,
                            "value": f"{batches} batches",
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
            return {"uninstalled": name}

        @ep("recipes.upgrade")
        async def _upgrade(body):
            d = self.deployments[body["deployment"]]
            d.update(recipe=body["recipe"], version="1.1.0")
            return {"deployment": body["deployment"], "version": "1.1.0"}

        @ep("bundles.export")
        async def _export(body):
            deps = [self.deployments[n] for n in body["deployments"]]
            Path(body["path"]).write_text(json.dumps({"deployments": deps}))
            return {"path": body["path"]}

        @ep("bundles.inspect")
        async def _inspect(body):
            data = json.loads(Path(body["path"]).read_text())
            return {
                "path": body["path"],
                "deployments": [d["deployment"] for d in data["deployments"]],
            }

        @ep("bundles.install")
        async def _bundle_install(body):
            for d in json.loads(Path(body["path"]).read_text())["deployments"]:
                name = d["deployment"] + "-copy"
                self.deployments[name] = {**d, "deployment": name}
            return {"installed": True}

        @ep("oee.downtimes")
        async def _downtimes(body):
            return {"downtimes": self.downtimes}

        @ep("oee.assign_reason")
        async def _reason(body):
            for d in self.downtimes:
                if d["id"] == body["downtime_id"]:
                    d.update(reason=body["reason"], who=body["who"], component=body["component"])
            return {"ok": True}

        @ep("alarms.list")
        async def _alarms(body):
            return {"alarms": list(self.alarms.values()), "flood": False}

        @ep("alarms.ack")
        async def _ack(body):
            self.alarms[body["id"]]["state"] = "acknowledged"
            self.alarms[body["id"]]["acked_by"] = body["who"]
            return {"id": body["id"], "state": "acknowledged"}

        @ep("alarms.shelve")
        async def _shelve(body):
            self.alarms[body["id"]]["state"] = "shelved"
            self.alarms[body["id"]]["duration_s"] = body["duration_s"]
            return {"id": body["id"], "state": "shelved"}

        @ep("opcua.certs.list")
        async def _certs(body):
            return {"certs": list(self.certs.values())}

        @ep("opcua.certs.trust")
        async def _trust(body):
            self.certs[body["thumbprint"]]["status"] = "trusted"
            return {"thumbprint": body["thumbprint"], "status": "trusted"}

        @ep("opcua.certs.reject")
        async def _reject(body):
            self.certs[body["thumbprint"]]["status"] = "rejected"
            return {"thumbprint": body["thumbprint"], "status": "rejected"}


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

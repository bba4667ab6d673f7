"""A bus outage is not a component crash (issue 19.2).

An analytics component that reads its KV state fails while the server is away (the
request cannot be sent, or times out). Before, each failure counted towards the crash loop
and the component was marked ``failed`` for good after a few; now the supervisor sees the
outage, waits for the bus and starts the component afresh without counting a crash.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from chaos_helpers import until

import kit
from kit.components import Analytics
from kit.settings import ComponentSpec


class StateReader(Analytics):
    """Reads and writes its KV state in a loop, as analytics do on every window."""

    name: ClassVar[str] = "state_reader"

    async def run(self) -> None:
        n = 0
        while True:
            await self.ctx.save_state({"n": n})
            # Fails within about a request timeout: this test attacks the supervisor's
            # handling of a crash during an outage. With the default (120 s of retries) a
            # reader caught inside load_state rides the outage out there instead — fine in
            # the field, but then the test waited for a crash that never came (a CI flake).
            await self.ctx.load_state(timeout_s=1)
            n += 1
            self.rounds = n
            await asyncio.sleep(0.02)  # the component's own work cadence

    def metrics(self) -> dict[str, Any]:
        return {"rounds": getattr(self, "rounds", 0)}


class Plugin:
    @kit.hookimpl
    def register_components(self, register: Any) -> None:
        register.add(StateReader)


async def test_outage_longer_than_crash_loop_is_ridden_out(
    nats_server, kit_settings, make_runtime, temp_plugin
):
    settings = kit_settings.model_copy(
        update={
            "components": [
                ComponentSpec(name="reader", type="state_reader", asset="test/a/l/m", config={})
            ]
        }
    )
    rt = await make_runtime(settings, host=temp_plugin(Plugin()))
    inst = rt.supervisor.instances["reader"]
    await until(lambda: getattr(inst.component, "rounds", 0) >= 5, what="reading state")
    await nats_server.stop()
    # Down long enough for a crash loop of the old supervisor (4 failures, 0.05-0.5 s apart).
    await until(
        lambda: inst.status.value == "failed" or getattr(inst, "outage_pauses", 0) >= 1,
        what="component failed or paused for the outage",
    )
    assert inst.status.value == "backoff", inst.summary()
    await asyncio.sleep(3)  # the outage lasts: a duration under test, not a synchronisation
    assert inst.status.value == "backoff", inst.summary()
    await nats_server.start()
    await until(lambda: rt.bus.nc.is_connected, timeout=30, what="reconnected")
    before = rt.supervisor.instances["reader"]
    await until(
        lambda: before.status.value == "running" and getattr(before.component, "rounds", 0) >= 5,
        timeout=30,
        what="reading state again",
    )
    assert list(before.failures) == [], before.summary()  # nothing counted as a crash
    assert before.summary()["outage_pauses"] >= 1

"""The synthetic source publishes sample batches with the declared points (real nats-server)."""

from __future__ import annotations

import json

from kit.settings import ComponentSpec
from kit.testing import wait_for


async def test_publishes_batches_in_sequence(kit_settings, make_runtime):
    settings = kit_settings.model_copy(
        update={
            "components": [
                ComponentSpec(
                    name="m1",
                    type="synthetic",
                    asset="test/a/l/m1",
                    config={"interval_s": 0.05, "max_batches": 3, "seed": 7},
                )
            ]
        }
    )
    seen: list[dict] = []

    async def on_msg(msg) -> None:
        seen.append(json.loads(msg.data))

    rt = await make_runtime(settings)
    await rt.bus.nc.subscribe("kit.data.test.a.l.m1", cb=on_msg)
    await wait_for(lambda: len(seen) >= 2, message="two batches")
    seqs = [b["seq"] for b in seen]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    names = {p["name"] for p in seen[0]["points"]}
    assert {"count_good", "power_active_total_w", "machine_running"} <= names

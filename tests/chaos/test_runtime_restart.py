"""PENDING (rename to test_runtime_restart.py once the ``datapath`` branch is merged):
a runtime restarted inside the stream's duplicate window (120 s) must not lose the new
run's first batches as "duplicates" of the previous run's (issue 19.1).

Fails on the code before ``datapath``: sequence numbers restart at 0 and the message id
``<source>:<asset>:<seq>`` repeats, so JetStream drops the new run's first batches.
"""

from __future__ import annotations

from chaos_helpers import ASSET, chaos_settings, stored_seqs, until

from kit import subjects
from kit.runtime import Runtime


async def test_restart_inside_duplicate_window(tmp_path):
    data = tmp_path / "data"
    produced = 0
    for _run in range(2):
        rt = Runtime(chaos_settings(data, interval_s=0.02))
        await rt.start()
        try:
            inst = rt.supervisor.instances["m1"]
            await until(lambda i=inst: i.component and i.component.batches >= 50, what="load")
            bus = inst.context.bus
            await rt.supervisor.remove("m1")
            await bus.flush(timeout=20)
            produced += inst.component.batches
        finally:
            await rt.stop()
    rt = Runtime(chaos_settings(data).model_copy(update={"components": []}))
    await rt.start()
    try:
        stored = await stored_seqs(rt.bus, subjects.data_subject(subjects.AssetPath.parse(ASSET)))
    finally:
        await rt.stop()
    print(f"\nrestart in duplicate window: stored {len(stored)} of {produced}")
    assert len(stored) == produced

"""A component restarted through the control API (``components.restart``) under load: the
new instance's batches are stored, none dropped as duplicates of the old instance's, and
``kit status`` counts the restart."""

from __future__ import annotations

from chaos_helpers import ASSET, chaos_settings, stored_seqs, until

from kit import subjects
from kit.api import core
from kit.runtime import Runtime


async def test_component_restart_under_load(tmp_path):
    rt = Runtime(chaos_settings(tmp_path / "data", interval_s=0.02))
    await rt.start()
    try:
        inst = rt.supervisor.instances["m1"]
        await until(lambda: inst.component.batches >= 50, what="load")
        first = inst.component
        subject = subjects.data_subject(subjects.AssetPath.parse(ASSET))
        await rt.endpoints.restart(core.RestartRequest(name="m1"))
        await until(lambda: inst.component is not first, what="new instance")
        second = inst.component
        await until(lambda: second.batches >= 100, what="new instance producing")
        bus = inst.context.bus
        await rt.supervisor.remove("m1")
        await bus.flush(timeout=20)
        stored = len(await stored_seqs(rt.bus, subject))
        produced = first.batches + second.batches
        print(
            f"\ncomponent restart: stored {stored} of {produced} batches "
            f"({100 * stored / produced:.2f} %)"
        )
        assert stored == produced, (stored, first.batches, second.batches)
        st = await rt.endpoints.status(None)
        assert [c["restarts"] for c in st["components"] if c["name"] == "oee-m1"] == [0]
    finally:
        await rt.stop()

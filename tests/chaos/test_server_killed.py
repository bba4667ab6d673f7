"""kill -9 of the embedded nats-server under load (issue 19.2).

The runtime restarts it on the same port and store; components are not marked failed (a
bus outage is not a crash); every batch the producer counted is stored after recovery;
the runtime reports the restart (status, health metrics, an event).
"""

from __future__ import annotations

import os
import signal
import time

from chaos_helpers import (
    ASSET,
    chaos_settings,
    completeness,
    gaps,
    stored_events,
    stored_seqs,
    until,
)

from kit import subjects
from kit.runtime import Runtime


async def test_server_kill_9_under_load(tmp_path):
    rt = Runtime(chaos_settings(tmp_path / "data"))
    await rt.start()
    try:
        sup = rt.supervisor.instances
        src = sup["m1"]
        await until(lambda: src.component is not None and src.component.batches >= 50, what="load")
        assert rt.embedded is not None and rt.bus is not None
        old_pid, port = rt.embedded.process.pid, rt.embedded.port
        t0 = time.monotonic()
        os.kill(old_pid, signal.SIGKILL)
        await until(lambda: getattr(rt.embedded, "restarts", 0) == 1, what="server restarted")
        await until(lambda: rt.bus.nc.is_connected, what="runtime reconnected")
        recovery_s = time.monotonic() - t0
        assert rt.embedded.process.pid != old_pid and rt.embedded.port == port
        # Producing goes on after recovery, and the analytics keep running.
        after = src.component.batches
        await until(lambda: src.component.batches >= after + 100, what="producing again")
        await until(lambda: sup["oee-m1"].status.value == "running", what="oee running")
        for inst in sup.values():
            assert inst.status.value == "running", inst.summary()
        # Completeness: stop the producer, let its acks arrive, count what was stored.
        produced_bus = src.context.bus
        await rt.supervisor.remove("m1")
        produced = src.component.batches
        await produced_bus.flush(timeout=20)
        seqs = await stored_seqs(rt.bus, subjects.data_subject(subjects.AssetPath.parse(ASSET)))
        pct = completeness(seqs, produced)
        print(
            f"\nserver kill -9: recovery {recovery_s:.2f} s, completeness {pct:.2f} % "
            f"({len(set(seqs))}/{produced}), duplicates stored {len(seqs) - len(set(seqs))}"
        )
        assert gaps(seqs) == [] and len(set(seqs)) == produced, (produced, len(set(seqs)))
        # The runtime says what happened: status, and an event in the EVENTS stream.
        st = await rt.endpoints.status(None)
        assert st["bus"]["server_restarts"] == 1
        assert "signal 9" in st["bus"]["server_last_exit"]
        await until(lambda: rt.events, what="restart event")
        events = await stored_events(rt.bus)
        restarted = [e for e in events if e["type"] == "nats_server_restarted"]
        assert len(restarted) == 1 and "signal 9" in restarted[0]["message"]
        assert (tmp_path / "data" / "nats" / "nats-server.log").read_text().count(
            "Server is ready"
        ) == 2
    finally:
        await rt.stop()

"""kill -9 of the runtime under load, then a restart.

The embedded server dies with it (parent-death signal), the data directory's lock is
free, the next runtime starts cleanly and says the previous one did not stop; what the
killed runtime had stored is contiguous by sequence and covers every batch its producer
had counted before the kill (minus at most the few in flight: a killed process loses its
unacknowledged publishes, which is said in docs/reliability.md).

Whether the *restarted* runtime's first batches are stored (sequence numbers restart, and
the stream's duplicate window used to drop them) is the ``datapath`` branch's fix; its test
is ``pending_runtime_restart.py``.
"""

from __future__ import annotations

import json
import signal
import subprocess

from chaos_helpers import ASSET, chaos_settings, gaps, stored_events, stored_seqs, until
from lc_helpers import KIT, PtyProcess, env_for, free_port, nats_servers

from kit import subjects
from kit.runtime import Runtime

#: Batches that may be in flight (published, not yet acknowledged) at the kill.
IN_FLIGHT = 5


def _status(data) -> dict:
    r = subprocess.run(
        KIT + ["status", "--json"], env=env_for(data), capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


async def test_runtime_kill_9_then_restart(tmp_path):
    data = tmp_path / "data"
    cfg = tmp_path / "kit.yaml"
    cfg.write_text(
        f"site: chaos\nnats: {{port: {free_port()}}}\ncomponents:\n"
        f"  - {{name: m1, type: synthetic, asset: {ASSET}, config: {{interval_s: 0.02}}}}\n"
    )
    first = PtyProcess(KIT + ["--config", str(cfg), "up"], env_for(data))
    first.wait_for("kit runtime up")

    def batches() -> int:
        return _status(data)["components"][0]["metrics"]["batches"]

    counted = 0
    while counted < 100:
        counted = batches()
    first.proc.send_signal(signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL
    await until(lambda: nats_servers(data) == [], what="server died with the runtime")
    # The next runtime starts on the same data directory and says what happened.
    rt = Runtime(chaos_settings(data).model_copy(update={"components": []}))
    await rt.start()
    try:
        assert rt.unclean_previous is not None and rt.unclean_previous["pid"] == first.proc.pid
        st = await rt.endpoints.status(None)
        assert st["previous_run_unclean"]["pid"] == first.proc.pid
        await until(lambda: rt.events, what="event")
        events = [e["type"] for e in await stored_events(rt.bus)]
        assert "unclean_shutdown" in events
        seqs = await stored_seqs(rt.bus, subjects.data_subject(subjects.AssetPath.parse(ASSET)))
        print(
            f"\nruntime kill -9: stored {len(set(seqs))} batches, producer counted "
            f"{counted} before the kill"
        )
        assert gaps(seqs) == [] and min(seqs) == 0
        assert len(set(seqs)) >= counted - IN_FLIGHT
    finally:
        await rt.stop()
    assert nats_servers(data) == []

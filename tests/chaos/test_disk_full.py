"""Disk full under load (issue 19.3), on a real small file system.

The data directory lives on a 32 MiB tmpfs mounted by the test (CI runs as root). A file
fills the disk; JetStream's file store then fails with ENOSPC and stays broken even when
space returns. The runtime must say so (status, runtime health), keep what it holds
bounded, not mark components failed, recover once the file is removed (it restarts the
server), and store every batch the producer published.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
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
from kit.settings import ComponentSpec
from kit.storage import free_bytes


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


async def test_disk_full_reported_and_recovered(small_disk):
    settings = chaos_settings(small_disk / "data", interval_s=0.01)
    # Bigger batches (50 extra channels) fill the last megabyte in seconds.
    settings.components[0] = ComponentSpec(
        name="m1", type="synthetic", asset=ASSET, config={"interval_s": 0.01, "extra_points": 50}
    )
    # The historian writes its Parquet files on the same full disk.
    settings.components.append(
        ComponentSpec(
            name="historian",
            type="historian",
            asset=None,
            config={"flush_interval_s": 0.5, "flush_rows": 200},
        )
    )
    rt = Runtime(settings)
    await rt.start()
    filler = small_disk / "filler"
    try:
        src = rt.supervisor.instances["m1"]
        await until(lambda: src.component is not None and src.component.batches >= 20, what="load")
        health: list[dict] = []

        async def on_health(msg) -> None:
            health.append(json.loads(msg.data))

        await rt.bus.nc.subscribe("kit.health.runtime", cb=on_health)
        # Fill the disk, leaving half a megabyte.
        with open(filler, "wb") as f:
            f.truncate(0)
            free = free_bytes(small_disk)
            f.write(b"\0" * max(0, free - 512 * 1024))
        t_full = time.monotonic()
        await until(lambda: rt.storage.error is not None, timeout=90, what="storage error seen")
        detect_s = time.monotonic() - t_full
        st = await rt.endpoints.status(None)
        assert "no space left on device" in st["bus"]["storage_error"]
        await until(
            lambda: any(h["status"] == "degraded" and "no space" in h["detail"] for h in health),
            what="runtime health degraded",
        )
        # Bounded: the producer's connection never holds more than its window.
        pbus = src.context.bus
        assert len(pbus.acks.unacked) <= pbus.acks.max_pending
        for inst in rt.supervisor.instances.values():
            assert inst.status.value != "failed", inst.summary()
        # The server's log is kept in the data directory.
        log_text = (small_disk / "data" / "nats" / "nats-server.log").read_text()
        assert "Server is ready" in log_text
        # Space returns: the runtime recovers by itself.
        t_free = time.monotonic()
        os.unlink(filler)
        await until(lambda: rt.storage.recoveries == 1, timeout=60, what="recovered")
        await until(lambda: rt.storage.error is None and rt.bus.nc.is_connected, what="clear")
        recover_s = time.monotonic() - t_free
        after = src.component.batches
        await until(lambda: src.component.batches >= after + 100, timeout=60, what="producing")
        for inst in rt.supervisor.instances.values():
            assert inst.status.value == "running", inst.summary()
            assert list(inst.failures) == [], inst.summary()  # waited out, not crashes
        print(
            "\n(restarts, outage pauses): "
            + ", ".join(
                f"{i.name} {i.restarts}/{i.outage_pauses}" for i in rt.supervisor.instances.values()
            )
        )
        # Completeness: everything the producer published is stored.
        await rt.supervisor.remove("m1")
        produced = src.component.batches
        await pbus.flush(timeout=30)
        seqs = await stored_seqs(rt.bus, subjects.data_subject(subjects.AssetPath.parse(ASSET)))
        pct = completeness(seqs, produced)
        print(
            f"\ndisk full: detected after {detect_s:.2f} s, recovered {recover_s:.2f} s after "
            f"space returned, completeness {pct:.2f} % ({len(set(seqs))}/{produced})"
        )
        assert gaps(seqs) == [] and len(set(seqs)) == produced
        # The runtime says what happened, in the EVENTS stream too.
        await until(lambda: len(rt.events) >= 2, what="events")
        types = [e["type"] for e in await stored_events(rt.bus)]
        assert "storage_error" in types and "storage_recovered" in types
    finally:
        await rt.stop()
        filler.unlink(missing_ok=True)

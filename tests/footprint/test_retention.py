"""The retention estimate agrees with the server's own stream info after a known load.

Real nats-server on loopback. The samples carry explicit times (0 s and 10 s) so the rate
is the known load divided by a known window, independent of how fast this machine is.
"""

from __future__ import annotations

import pytest

from kit.bus import Bus
from kit.retention import estimate, sample, status_lines
from kit.settings import RetentionSettings

MSG = b"x" * 1000
N = 200
WINDOW = 10.0


async def _load(bus: Bus, n: int, start: int = 0) -> None:
    for i in range(n):
        await bus.publish(f"kit.data.s.a.l.m{i % 5}", MSG, msg_id=f"t:{start + i}")
    await bus.flush()


async def test_estimate_matches_stream_info_after_known_load(nats_server) -> None:
    bus = await Bus.connect(nats_server.url)
    try:
        await bus.provision(RetentionSettings(data_max_bytes=2_000_000, data_max_age_hours=72))
        before = await sample(bus.js, at=0.0)
        await _load(bus, N)
        after = await sample(bus.js, at=WINDOW)
        info = await bus.js.stream_info("KIT_DATA")
        est = {e.stream: e for e in estimate(before, after)}["KIT_DATA"]

        # Reference from the server's own accounting, computed here independently.
        assert info.state.messages == N
        ref_rate = info.state.bytes / WINDOW
        assert est.write_rate_bytes_s == pytest.approx(ref_rate)
        assert est.write_rate_bytes_s >= N * len(MSG) / WINDOW  # payload at least
        assert est.holds_hours == pytest.approx(2_000_000 / ref_rate / 3600)
        assert est.bytes_per_day == pytest.approx(ref_rate * 86400)
        # ~20 kB/s fills 2 MB in well under 72 h: the estimate must say so.
        assert est.holds_hours < 72 and est.warning and "KIT_DATA" in est.warning
        # Streams nothing was written to: no rate, no warning.
        kpi = {e.stream: e for e in estimate(before, after)}["KIT_KPI"]
        assert kpi.write_rate_bytes_s == 0 and kpi.holds_hours is None and kpi.warning is None
    finally:
        await bus.close()


async def test_rate_is_still_true_when_the_size_limit_is_discarding(nats_server) -> None:
    """A full stream stays at max_bytes: its byte count no longer grows with the writes."""
    bus = await Bus.connect(nats_server.url)
    try:
        await bus.provision(RetentionSettings(data_max_bytes=2_000_000))
        await _load(bus, 10)
        per_msg = (await bus.js.stream_info("KIT_DATA")).state.bytes / 10  # stored size of one
        await bus.provision(RetentionSettings(data_max_bytes=50_000))  # now discarding
        before = await sample(bus.js, at=0.0)
        await _load(bus, N, start=10)
        after = await sample(bus.js, at=WINDOW)
        info = await bus.js.stream_info("KIT_DATA")
        assert info.state.messages < N  # the limit discarded old messages
        est = {e.stream: e for e in estimate(before, after)}["KIT_DATA"]
        assert est.write_rate_bytes_s == pytest.approx(N * per_msg / WINDOW, rel=0.01)
        assert est.holds_hours == pytest.approx(50_000 / (N * per_msg / WINDOW) / 3600, rel=0.01)
        lines = status_lines(
            {
                "window_s": WINDOW,
                "disk_bytes_per_day": est.bytes_per_day,
                "streams": [est.__dict__],
                "warnings": [est.warning],
            }
        )
        assert lines[-1].startswith("WARNING: KIT_DATA")
    finally:
        await bus.close()


async def test_status_reply_carries_the_storage_estimate(kit_settings, make_runtime) -> None:
    from kit.control import ControlClient

    rt = await make_runtime(kit_settings)
    status = await ControlClient(rt.bus).call("status")
    streams = {s["stream"] for s in status["storage"]["streams"]}
    assert {"KIT_DATA", "KIT_KPI", "KIT_EVENTS"} <= streams
    data = next(s for s in status["storage"]["streams"] if s["stream"] == "KIT_DATA")
    assert data["max_bytes"] == kit_settings.retention.data_max_bytes
    assert data["retention_hours"] == kit_settings.retention.data_max_age_hours

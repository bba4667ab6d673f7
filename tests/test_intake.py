"""The one analytics intake: epochs and gaps (19.1), time quarantine (19.4), non-finite (19.5)."""

from datetime import UTC, datetime, timedelta

from kit import codec
from kit.bindings import Binding
from kit.components import ComponentContext
from kit.intake import Intake, SeqGate, TimeLimits
from kit.payloads import Point, Quality, SampleBatch
from kit.testing import FakeClock, wait_for

NOW = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)


def batch(seq, dt=0.0, epoch=None, points=(), source="plc", asset="s/a/l/m"):
    return SampleBatch(
        asset=asset,
        ts=NOW + timedelta(seconds=dt),
        seq=seq,
        epoch=epoch,
        source=source,
        points=list(points),
    )


def test_gaps_and_epoch_restarts_are_counted_not_confused():
    g = SeqGate()
    verdicts = [
        g.check(b)
        for b in (
            batch(0, 0, epoch=1),
            batch(1, 1, epoch=1),
            batch(4, 2, epoch=1),  # 2 and 3 lost upstream: a gap of two
            batch(4, 2, epoch=1),  # duplicate
            batch(3, 3, epoch=1),  # late
            batch(0, 1.5, epoch=2),  # new run (restart inside the window): accepted
            batch(1, 2.5, epoch=2),
        )
    ]
    assert verdicts == [None, None, None, "duplicate", "out_of_order", None, None]
    c = g.counters
    assert (c.batches, c.gaps, c.duplicates, c.out_of_order, c.source_restarts) == (5, 2, 1, 1, 1)


def test_far_timestamps_are_quarantined_and_do_not_move_the_position():
    now = NOW.timestamp()
    g = SeqGate(TimeLimits(ahead_s=300, behind_s=86400))
    assert g.check(batch(0, 0, epoch=1), now) is None
    assert g.check(batch(1, 10 * 365 * 86400, epoch=1), now) == "ts_future"
    assert g.check(batch(2, -2 * 86400, epoch=1), now) == "ts_past"
    assert g.check(batch(3, 299, epoch=1), now) is None  # within tolerance
    c = g.counters
    assert (c.quarantined_future, c.quarantined_past, c.batches) == (1, 1, 2)
    assert g.last["plc|s/a/l/m"][2] == now + 299


def test_saved_positions_from_the_future_are_forgotten_at_load():
    poisoned = {"last": {"plc|s/a/l/m": [1, 5, NOW.timestamp() + 10 * 365 * 86400]}}
    g = SeqGate()
    g.restore(poisoned, NOW.timestamp())
    assert g.last == {} and g.counters.quarantined_future == 1
    assert g.accept(batch(0, 0, epoch=2), NOW.timestamp())
    # The older shape ([seq, ts] per key) still restores.
    h = SeqGate()
    h.restore({"plc|s/a/l/m": [7, NOW.timestamp()]}, NOW.timestamp())
    assert h.last == {"plc|s/a/l/m": (None, 7, NOW.timestamp())}


def test_non_finite_values_never_become_readings():
    it = Intake({"t": Binding(point="t")}, "s/a/l/m")
    raw = (
        b'{"schema":"kit.samples/1","asset":"s/a/l/m","ts":"2026-11-23T08:00:00Z","seq":0,'
        b'"source":"x","points":[{"name":"t","value":NaN},{"name":"t","value":-Infinity},'
        b'{"name":"t","value":1e999},{"name":"t","value":2.5}]}'
    )
    decoded = codec.decode_batch(raw)  # a forged/foreign producer: the decoder marks them bad
    assert [(p.quality, p.reason) for p in decoded.points[:3]] == [(Quality.bad, "non_finite")] * 3
    # A batch built without validation (model_construct) is caught at intake too.
    unvalidated = SampleBatch.model_construct(
        asset="s/a/l/m",
        ts=NOW,
        seq=1,
        epoch=None,
        source="x",
        points=[Point.model_construct(name="t", value=float("nan"), quality=Quality.good)],
    )
    got = [r.value for r in it.filter([decoded, unvalidated])]
    assert got == [None, None, None, 2.5, None]
    assert it.counters.non_finite == 4


async def test_quarantine_is_announced_once_per_source_and_reason(bus):
    clock = FakeClock(NOW)
    ctx = ComponentContext("oee-x", bus, asset="s/a/l/m", clock=clock)
    events = []

    async def cb(msg):
        events.append(codec.decode_event(msg.data))

    await bus.nc.subscribe("kit.event.data.>", cb=cb)
    await bus.sync_subscriptions()
    g = SeqGate()
    for i in range(5):
        assert not await g.admit(batch(i, 10 * 365 * 86400, epoch=1), ctx)
    assert await g.admit(batch(5, 1, epoch=1), ctx)
    await wait_for(lambda: events, message="quarantine event")
    await bus.sync_subscriptions()
    assert [(e.type, e.data["reason"], e.data["source"]) for e in events] == [
        ("batch_quarantined", "ts_future", "plc")
    ]
    assert g.counters.quarantined_future == 5

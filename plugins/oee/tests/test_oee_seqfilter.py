"""The (source, seq) filter shared by the analytics components."""

from kit_oee.seqfilter import SeqFilter


def test_duplicates_late_batches_and_producer_restart():
    f = SeqFilter()
    assert [f.accept("plc|a", s, t) for s, t in ((0, 10), (1, 11), (1, 11), (0, 10), (2, 12))] == [
        True,
        True,
        False,
        False,
        True,
    ]
    assert (f.duplicates, f.out_of_order) == (1, 1)
    # The producer restarted: numbering starts again at 0, with newer timestamps.
    assert f.accept("plc|a", 0, 20) and f.accept("plc|a", 1, 21)
    assert f.restarts == 1
    # Independent numbering per source|asset key.
    assert f.accept("plc|b", 0, 5)
    g = SeqFilter(f.to_state())
    assert not g.accept("plc|a", 1, 21) and g.accept("plc|a", 2, 22)

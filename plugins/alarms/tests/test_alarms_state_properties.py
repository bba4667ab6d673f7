"""Property test: any sequence of process changes and operator actions keeps the alarm
state machine consistent with ISA-18.2 (checked against an independent model)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from kit_alarms.states import AlarmOperationError, AlarmStatus, State

ACTIONS = st.lists(
    st.sampled_from(
        ["on", "off", "ack", "shelve", "unshelve", "expire", "suppress", "release", "oos", "ios"]
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(ACTIONS)
def test_state_machine_matches_reference_model(actions: list[str]) -> None:
    a = AlarmStatus(id="c/r")
    # Reference: ISA-18.2 states as a plain table-driven model.
    ref = {"cond": False, "acked": True, "shelved": False, "supp": False, "oos": False}
    annunciations = 0
    t = 0.0
    for act in actions:
        t += 1.0
        hidden_before = ref["shelved"] or ref["supp"] or ref["oos"]
        allowed = {
            "ack": not hidden_before and not ref["acked"],
            "shelve": not ref["oos"],
            "unshelve": ref["shelved"],
        }.get(act, True)
        try:
            if act == "on":
                a.set_condition(True, t)
                if not ref["cond"] and not hidden_before:
                    ref["acked"], annunciations = False, annunciations + 1
                ref["cond"] = True
            elif act == "off":
                a.set_condition(False, t)
                ref["cond"] = False
            elif act == "ack":
                a.ack(t, "op")
                assert not hidden_before and not ref["acked"], (
                    "ack accepted in a state that has nothing to ack"
                )
                ref["acked"] = True
            elif act == "shelve":
                a.shelve(t, "op", 5.0)
                assert not ref["oos"]
                ref["shelved"] = True
            elif act in ("unshelve", "expire"):
                if act == "unshelve":
                    a.unshelve(t, "op")
                    assert ref["shelved"]
                elif a.expire_shelve(t + 10.0) is None:
                    assert not ref["shelved"]
                    continue
                ref["shelved"] = False
            elif act in ("suppress", "release"):
                a.set_suppressed(act == "suppress", t)
                ref["supp"] = act == "suppress"
            else:
                a.set_out_of_service(act == "oos", t, "tech")
                ref["oos"] = act == "oos"
        except AlarmOperationError:
            assert not allowed, f"{act} refused although the reference allows it"
            continue
        hidden_after = ref["shelved"] or ref["supp"] or ref["oos"]
        if hidden_before and not hidden_after:
            # Back into annunciation: an active condition is annunciated afresh.
            ref["acked"] = not ref["cond"]
            annunciations += ref["cond"]
        expected = (
            State.out_of_service
            if ref["oos"]
            else State.suppressed
            if ref["supp"]
            else State.shelved
            if ref["shelved"]
            else (State.acknowledged if ref["acked"] else State.unacknowledged)
            if ref["cond"]
            else (State.normal if ref["acked"] else State.returned_unacknowledged)
        )
        assert a.state is expected, (actions, act)
        assert a.occurrences == annunciations

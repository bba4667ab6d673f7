"""Fuzzing the bus payload decoders: anything on the wire is a payload or MalformedMessage.

``kit.codec.decode_*`` are what every consumer calls on bytes from the bus (another site's
gateway, a forged message, a buggy vendor plugin). The promise (kit/codec.py) is that
anything that is not a valid payload raises :class:`kit.codec.MalformedMessage`, which the
bus counts and skips (``Bus.subscribe``); no other exception may escape, or the consumer's
callback dies. Hypothesis drives random bytes, random JSON, valid payloads with one field
replaced by a random JSON value, and huge or deeply nested structures; a last test sends
such messages through a real nats-server to a real subscription and checks they are
counted and skipped while the valid message behind them still arrives.
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from kit import codec, subjects
from kit.payloads import Event, Health, KpiValue, Point, SampleBatch, utcnow

DECODERS = {
    "batch": codec.decode_batch,
    "kpi": codec.decode_kpi,
    "event": codec.decode_event,
    "health": codec.decode_health,
}
TS = "2026-01-01T00:00:00Z"
VALID = {
    "batch": {
        "schema": "kit.samples/1",
        "asset": "s/a/l/m",
        "ts": TS,
        "seq": 3,
        "source": "src",
        "points": [{"name": "p", "value": 1.5, "unit": "W"}],
    },
    "kpi": {"schema": "kit.kpi/1", "asset": "s/a/l/m", "kpi": "oee", "ts": TS, "source": "oee"},
    "event": {"kind": "alarm", "asset": "s/a/l/m", "ts": TS, "source": "a", "type": "hi"},
    "health": {"component": "c", "status": "running", "ts": TS},
}
FUZZ = settings(
    max_examples=300,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Seen outcomes per decoder, printed at the end of the run (``-s``).
OUTCOMES: dict[str, int] = {"decoded": 0, "malformed": 0}


def _outcome(kind: str, data: bytes) -> str:
    """Decode ``data``; "decoded" or "malformed" — any other exception fails the test."""
    try:
        DECODERS[kind](data)
    except codec.MalformedMessage:
        OUTCOMES["malformed"] += 1
        return "malformed"
    OUTCOMES["decoded"] += 1
    return "decoded"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**4200)  # json.dumps stops at 4,300 digits
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


def test_valid_payloads_decode():
    """The reference payloads decode (the fuzz below starts from them)."""
    for kind, body in VALID.items():
        assert _outcome(kind, json.dumps(body).encode()) == "decoded", kind


@FUZZ
@given(kind=st.sampled_from(sorted(DECODERS)), data=st.binary(max_size=300))
def test_random_bytes(kind, data):
    """Arbitrary bytes (invalid UTF-8, truncated JSON, nothing at all)."""
    _outcome(kind, data)


@FUZZ
@given(kind=st.sampled_from(sorted(DECODERS)), value=json_values)
def test_random_json(kind, value):
    """Any JSON document (lists, scalars, mappings of anything) — never a payload crash."""
    _outcome(kind, json.dumps(value).encode())


@FUZZ
@given(kind=st.sampled_from(sorted(DECODERS)), data=st.data())
def test_valid_payload_with_one_field_replaced(kind, data):
    """A valid payload with one field (or one point's field) replaced by any JSON value."""
    body = json.loads(json.dumps(VALID[kind]))
    target = body
    if kind == "batch" and data.draw(st.booleans()):
        target = body["points"][0]
    key = data.draw(st.sampled_from(sorted(target)) | st.text(max_size=6))
    target[key] = data.draw(json_values)
    outcome = _outcome(kind, json.dumps(body).encode())
    if key in ("ts", "asset", "source") and not isinstance(target[key], str):
        assert outcome == "malformed"  # a required text field that is not text


@FUZZ
@given(
    kind=st.sampled_from(sorted(DECODERS)),
    depth=st.integers(min_value=1, max_value=100_000),
    style=st.sampled_from(["list", "dict"]),
)
def test_deep_nesting_in_a_free_form_field(kind, depth, style):
    """``attrs``/``data``/point values nested up to 100,000 levels deep."""
    open_, close = ("[", "]") if style == "list" else ('{"a":', "}")
    nested = open_ * depth + "1" + close * depth
    body = json.dumps(VALID[kind])[:-1] + ', "attrs": ' + nested + ', "data": ' + nested + "}"
    _outcome(kind, body.encode())
    point = json.dumps(VALID["batch"]).replace("1.5", nested)
    _outcome("batch", point.encode())


@FUZZ
@example(value=10**400, seq=1)
@example(value=None, seq=2**64)
@given(
    value=json_values,
    seq=st.integers(min_value=0, max_value=10**4000) | st.sampled_from([2**63 - 1, 2**63, 2**64]),
)
def test_decoded_batches_pass_the_shared_intake(value, seq):
    """What decodes is safe for consumers: the analytics intake (kit.intake) takes any
    decoded batch — a 300-digit integer value, a huge seq — without an exception, and its
    state stays JSON for the state store (orjson, 64-bit integers)."""
    import orjson

    from kit.bindings import Binding
    from kit.intake import Intake

    body = dict(VALID["batch"], seq=seq, points=[{"name": "p", "value": value}])
    try:
        batch = codec.decode_batch(json.dumps(body).encode())
    except codec.MalformedMessage:
        return
    intake = Intake({"x": Binding(point="p")}, "s/a/l/m")
    # Was OverflowError in intake.readings (float(10**400)) and TypeError in orjson (seq 2**64).
    if intake.accept(batch):
        readings = list(intake.readings(batch))
        assert len(readings) == 1
        r = readings[0]
        assert r.value is None or isinstance(r.value, float)
    orjson.dumps(intake.state())


def test_huge_structures():
    """A batch of 200,000 points and a 5,000-digit integer: decoded or refused, no crash."""
    many = dict(VALID["batch"], points=[{"name": f"p{i}", "value": i} for i in range(200_000)])
    assert _outcome("batch", json.dumps(many).encode()) == "decoded"
    big = json.dumps(dict(VALID["batch"], seq=0)).replace('"seq": 0', '"seq": ' + "9" * 5000)
    assert _outcome("batch", big.encode()) in ("decoded", "malformed")
    big_value = json.dumps(VALID["batch"]).replace("1.5", "9" * 5000)
    assert _outcome("batch", big_value.encode()) in ("decoded", "malformed")


def test_round_trip_of_fuzzed_valid_batches():
    """Whatever decodes re-encodes to bytes that decode to the same model."""
    for model in (
        SampleBatch(
            asset="s/a/l/m",
            ts=utcnow(),
            seq=1,
            source="s",
            points=[Point(name="x", value="é\u0000")],
        ),
        KpiValue(asset="s/a/l/m", kpi="k", ts=utcnow(), source="s", attrs={"n": [1, {"a": None}]}),
        Event(
            kind="alarm", asset="s/a/l/m", ts=utcnow(), source="s", type="hi", data={"x": 10**40}
        ),
        Health(component="c", status="running", ts=utcnow()),
    ):
        wire = codec.encode(model)
        kind = {SampleBatch: "batch", KpiValue: "kpi", Event: "event", Health: "health"}[
            type(model)
        ]
        assert DECODERS[kind](wire) == model


async def test_malformed_messages_are_counted_and_skipped_on_the_bus(bus, wait):
    """Through a real nats-server: 6 malformed messages are counted, the valid one behind
    them reaches the handler, and the subscription keeps working."""
    subject = subjects.data_subject(subjects.AssetPath.parse("s/a/l/m"))
    got: list[SampleBatch] = []

    async def handler(batch, _msg):
        got.append(batch)

    await bus.subscribe(subject, codec.decode_batch, handler)
    bad = [
        b"",
        b"\xff\xfe not json",
        b"[" * 50_000 + b"]" * 50_000,
        json.dumps(dict(VALID["batch"], seq=-1)).encode(),
        json.dumps(dict(VALID["batch"], points="all")).encode(),
        json.dumps(dict(VALID["batch"], ts=1e300)).encode(),
    ]
    before = bus.malformed.total
    for data in bad:
        await bus.publish_core(subject, data)
    await bus.publish_core(subject, json.dumps(VALID["batch"]).encode())
    await wait(lambda: got, message="the valid batch behind the malformed ones")
    assert bus.malformed.total - before == len(bad)
    assert got[0].seq == VALID["batch"]["seq"] and len(got) == 1
    print(f"\npayload fuzz outcomes so far: {OUTCOMES}")

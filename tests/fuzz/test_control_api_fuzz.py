"""Fuzz of the control API: every registered endpoint of a real runtime gets nasty bodies.

A corpus (not JSON, invalid UTF-8, 10,000-level nesting, huge numbers, NaN, wrong types,
nulls, lists for objects, oversized strings, unicode, a YAML alias bomb) and hypothesis-made
bodies are sent to *every* endpoint the runtime registered (core and plugins', on a real
nats-server) and to a guarded-write subject ``kit.cmd.<asset>``. Every reply must be a well-formed envelope — success (its result valid for the
endpoint's reply model) or a structured error that is not an internal one — and the runtime
must keep serving (``ping`` answers after each round). Counts are printed for the record
(run with ``-s``): inputs, clean errors, successes, crashes.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit.api import SCHEMA, ErrorReply, OkReply

TIMEOUT_S = 60.0  # generous: the runtime may be slow on a loaded CI machine


def _nest(depth: int, open_: bytes, close: bytes, inner: bytes = b"1") -> bytes:
    return open_ * depth + inner + close * depth


ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
    for p, c in zip("abcde", "bcdef")
)

WHOLE_BODIES: list[bytes] = [
    b"",
    b" ",
    b"{",
    b"}",
    b"null",
    b"true",
    b"0",
    b"-1",
    b'"text"',
    b"[]",
    b"[{}]",
    b"\xff\xfe\x00garbage",
    b'{"\\ud800": 1}',
    b"NaN",
    b'{"x": Infinity}',
    b"1e400",
    b"9" * 5000,
    _nest(10_000, b"[", b"]"),
    _nest(10_000, b'{"a":', b"}"),
    b'{"a": ' + _nest(10_000, b"[", b"]") + b"}",
    '{"\u202e\u0000": "\U0001f4a5"}'.encode(),
    b'{"a": 1, "a": 2}',
    json.dumps({"text": ALIAS_BOMB}).encode(),
]

FIELD_VALUES: list[bytes] = [
    b"null",
    b"[]",
    b"{}",
    b"true",
    b"-1",
    b"1.7e308",
    b"1" * 400,  # a 400-digit integer
    b'""',
    b'"' + b"x" * 300_000 + b'"',
    b'"\\u0000\\u202e\xf0\x9f\x92\xa5"',
    _nest(500, b"[", b"]"),
    _nest(5_000, b"[", b"]"),
]


def _field_bodies(fields: list[str]) -> list[bytes]:
    """Every field of the request model set to each nasty value at once."""
    if not fields:
        fields = ["unexpected"]
    out = []
    for v in FIELD_VALUES:
        out.append(b"{" + b",".join(json.dumps(f).encode() + b":" + v for f in fields) + b"}")
    return out


def _request_fields(rt: Any, name: str) -> list[str]:
    if name == CMD:
        from kit.api.writes import CmdRequest

        return list(CmdRequest.model_fields)
    spec = rt.control.specs.get(name)
    if spec is None:
        return []
    return [f.alias or n for n, f in spec.request.model_fields.items()]


#: Guarded writes on kit.cmd.<asset> take bodies too (kit.trust.writes); fuzzed as one more
#: "endpoint" with the CmdRequest fields.
CMD = "kit.cmd.test.area.line1.press1"


async def _send(rt: Any, name: str, data: bytes) -> str:
    """``ok``, ``error`` or a description of the crash."""
    subject = name if name.startswith("kit.cmd.") else f"kit.control.{name}"
    try:
        msg = await rt.bus.nc.request(subject, data, timeout=TIMEOUT_S)
    except Exception as exc:  # no reply at all: the endpoint or the runtime broke
        return f"no reply ({type(exc).__name__})"
    try:
        raw = orjson.loads(msg.data)
    except orjson.JSONDecodeError:
        return f"reply is not JSON: {msg.data[:80]!r}"
    if not isinstance(raw, dict) or raw.get("schema") != SCHEMA:
        return f"reply without schema {SCHEMA}: {str(raw)[:120]}"
    if raw.get("ok") is True:
        env = OkReply.model_validate(raw)
        spec = rt.control.specs.get(name)
        if spec is not None:
            spec.parse_reply(env.result)  # raises if the result breaks the reply model
        return "ok"
    try:
        err = ErrorReply.model_validate(raw)
    except Exception as exc:
        return f"malformed error envelope: {exc}"
    if err.kind == "internal":
        return f"internal error: {err.error}"
    if not err.problems or not all(p.message for p in err.problems):
        return f"error without problems: {raw}"
    if "Traceback" in err.error or "Error:" in err.error.split(" ", 1)[0]:
        return f"raw exception text: {err.error[:120]}"
    return "error"


async def _alive(rt: Any) -> None:
    assert await _send(rt, "ping", b"") == "ok", "the runtime stopped serving"


@pytest.fixture
async def fuzz_runtime(kit_settings, make_runtime, request):
    """A real runtime with every installed plugin (entry points) on a real nats-server.

    Yields ``(runtime, endpoint names, counts)``; a test that fills the counts gets them
    printed when it ends (the hypothesis test runs every example within one fixture).
    """
    rt = await make_runtime(kit_settings)
    names = [*sorted(rt.control.handlers), CMD]
    # The first-party plugins must be there, or this fuzzes less than it claims.
    for expected in ("status", "recipes.validate", "writes.request", "alarms.ack"):
        assert expected in names
    counts: Counter[str] = Counter()
    yield rt, names, counts
    if counts["inputs"]:
        print(
            f"\ncontrol API fuzz ({request.node.name}): {len(names)} endpoints, "
            f"{counts['inputs']} inputs, "
            f"{counts['error']} clean errors, {counts['ok']} successes, "
            f"{counts['crashes']} crashes"
        )


async def test_corpus_against_every_endpoint(fuzz_runtime):
    rt, names, stats = fuzz_runtime
    crashes: list[str] = []
    for name in names:
        for data in WHOLE_BODIES + _field_bodies(_request_fields(rt, name)):
            verdict = await _send(rt, name, data)
            stats["inputs"] += 1
            stats[verdict if verdict in ("ok", "error") else "crashes"] += 1
            if verdict not in ("ok", "error"):
                crashes.append(f"{name} <- {data[:60]!r}: {verdict}")
        await _alive(rt)
    assert not crashes, "\n".join(crashes[:20])
    assert stats["inputs"] == stats["error"] + stats["ok"]


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
async def test_hypothesis_bodies_against_every_endpoint(fuzz_runtime, data):
    rt, names, counts = fuzz_runtime
    name = data.draw(st.sampled_from(names), label="endpoint")
    fields = _request_fields(rt, name)
    keys = st.sampled_from(fields) | st.text(max_size=8) if fields else st.text(max_size=8)
    body = data.draw(
        st.one_of(
            JSON_VALUES.map(lambda v: json.dumps(v).encode()),  # NaN/Infinity/big ints as is
            st.dictionaries(keys, JSON_VALUES, max_size=len(fields) + 2).map(
                lambda v: json.dumps(v).encode()
            ),
            st.binary(max_size=64),
        ),
        label="body",
    )
    verdict = await _send(rt, name, body)
    counts["inputs"] += 1
    counts[verdict if verdict in ("ok", "error") else "crashes"] += 1
    assert verdict in ("ok", "error"), f"{name} <- {body[:80]!r}: {verdict}"
    await _alive(rt)

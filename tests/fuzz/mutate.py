"""Structural mutations of the shipped YAML files, for fuzzing the kit's loaders.

A mutant is the bytes of a seed file (a shipped recipe, hardware profile, manifest,
``kit_quality.yaml`` or a site config) with one mutation applied. Mutations work on lines of
the form ``key: value`` so the result is mostly still YAML and reaches the validators, not
only the parser:

* ``byte_flip`` / ``control_char`` / ``bad_encoding`` — damage the bytes (a flipped bit, a
  C0 control character, Latin-1 or a UTF-16 BOM, invalid UTF-8);
* ``deep_nesting`` — a value nested 200 … 20,000 levels (flow or block style);
* ``alias_bomb`` — "billion laughs": nine anchors each aliasing the previous nine times;
* ``type_swap`` / ``top_level_swap`` — a value (any, or a top-level one such as ``id`` or
  ``protocol``) replaced by a mapping, a list, null, a bool, a float, a date, a ``${…}``
  placeholder with a format-like text;
* ``placeholder_swap`` / ``numeric_placeholder`` — ``${…}`` placeholders where values were,
  a text parameter where a number is expected;
* ``huge_int`` — 5,000-digit decimal or 20,000-digit hex integers, 1e999;
* ``bad_regex`` / ``default_vs_pattern`` — an invalid ``pattern``, a default that fails its
  own pattern;
* ``drop_line`` / ``dup_line`` — a missing or duplicated key.

Deterministic for a given ``random.Random``; ``python tests/fuzz/mutate.py N SEED`` prints
a summary of N mutants of every seed (for reproducing by hand).
"""

from __future__ import annotations

import random
import re
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_KV = re.compile(rb"^(?P<indent>\s*(?:- )?)(?P<key>[A-Za-z_][\w.-]*):(?P<sep>[ \t]*)(?P<value>.*)$")


def seeds() -> dict[str, list[Path]]:
    """Seed files by loader kind: the shipped files each loader reads."""
    return {
        "recipe": sorted((REPO / "recipes").glob("*.yaml")),
        "profile": [
            p
            for p in sorted((REPO / "hardware_profiles").rglob("*.yaml"))
            if "schema" not in p.parts
        ],
        "manifest": sorted(REPO.glob("*/*/src/*/kit_manifest.yaml"))
        + sorted(REPO.glob("tui/src/*/kit_manifest.yaml")),
        "quality": sorted(REPO.glob("*/*/src/*/kit_quality.yaml")),
        "settings": [Path(__file__).with_name("seeds") / "kit.yaml"],
        # A recipe carried in a bundle (tests/fuzz/harness.py wraps the mutant).
        "bundle": sorted((REPO / "recipes").glob("*.yaml")),
    }


def _kv_lines(lines: list[bytes]) -> list[int]:
    return [i for i, line in enumerate(lines) if _KV.match(line)]


def _set_value(lines: list[bytes], i: int, value: bytes) -> None:
    m = _KV.match(lines[i])
    assert m is not None
    lines[i] = m.group("indent") + m.group("key") + b": " + value


def _pick_kv(rng: random.Random, lines: list[bytes]) -> int | None:
    cands = _kv_lines(lines)
    return rng.choice(cands) if cands else None


def byte_flip(rng: random.Random, data: bytes) -> bytes:
    """XOR one to three random bytes with a random bit."""
    buf = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        if buf:
            buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    return bytes(buf)


def control_char(rng: random.Random, data: bytes) -> bytes:
    """Insert a C0 control character (not tab/newline) or DEL somewhere."""
    ch = rng.choice([0, 1, 7, 8, 11, 12, 27, 31, 127])
    pos = rng.randrange(len(data) + 1)
    return data[:pos] + bytes([ch]) + data[pos:]


def bad_encoding(rng: random.Random, data: bytes) -> bytes:
    """Latin-1 text, an invalid UTF-8 sequence, a UTF-16 file, or a stray BOM."""
    kind = rng.randrange(4)
    if kind == 0:
        return data.replace(b"e", b"\xe9", 1)  # Latin-1 é
    if kind == 1:
        pos = rng.randrange(len(data) + 1)
        return (
            data[:pos] + rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"]) + data[pos:]
        )
    if kind == 2:
        return data.decode("utf-8").encode("utf-16")
    return b"\xef\xbb\xbf\xef\xbb\xbf" + data


def deep_nesting(rng: random.Random, data: bytes) -> bytes:
    """Replace a value with one nested 200 … 20,000 levels deep."""
    lines = data.split(b"\n")
    i = _pick_kv(rng, lines)
    depth = rng.choice([200, 1000, 3000, 20000])
    if i is None:
        return b"[" * depth + b"]" * depth
    style = rng.randrange(3)
    if style == 0:
        value = b"[" * depth + b"1" + b"]" * depth
    elif style == 1:
        value = b"{a: " * depth + b"1" + b"}" * depth
    else:  # block style: one key per line, each indented one more space
        value = b"\n" + b"\n".join(b" " * (k + 1) + b"k:" for k in range(min(depth, 3000))) + b" 1"
    _set_value(lines, i, value)
    return b"\n".join(lines)


def alias_bomb(rng: random.Random, data: bytes) -> bytes:
    """Replace a value with a billion-laughs mapping (9 levels of 9 aliases by default)."""
    lines = data.split(b"\n")
    i = _pick_kv(rng, lines)
    levels, width = rng.choice([(9, 9), (12, 6), (30, 2)])
    parts = [b"l0: &l0 [" + b",".join([b"lol"] * width) + b"]"]
    for k in range(1, levels):
        parts.append(b"l%d: &l%d [" % (k, k) + b",".join([b"*l%d" % (k - 1)] * width) + b"]")
    value = b"{" + b", ".join(parts) + b"}"
    if i is None:
        return value
    _set_value(lines, i, value)
    return b"\n".join(lines)


_SWAPS = [
    b"{a: 1, b: [2, 3]}",
    b"[1, 2, 3]",
    b"[]",
    b"{}",
    b"null",
    b"true",
    b"1.5e308",
    b"-0.0",
    b".nan",
    b"2026-01-01",
    b'"${x}"',
    b'"${port:>5}"',
    b'"{value:.2f}"',
    b'"%s%s%s"',
    b'"${}"',
    b"!!binary aGVsbG8=",
    b"!!python/object:os.system ls",
    b'"' + b"x" * 5000 + b'"',
    b"-1",
    b"0",
    b"~",
    b"? complex key",
]


def type_swap(rng: random.Random, data: bytes) -> bytes:
    """Replace a value with one of another type (mapping, list, null, date, placeholder …)."""
    lines = data.split(b"\n")
    i = _pick_kv(rng, lines)
    if i is None:
        return data
    _set_value(lines, i, rng.choice(_SWAPS))
    return b"\n".join(lines)


def top_level_swap(rng: random.Random, data: bytes) -> bytes:
    """Replace a top-level value (``id``, ``protocol``, ``site`` …) with one of another type."""
    lines = data.split(b"\n")
    cands = [i for i in _kv_lines(lines) if not lines[i][:1].isspace()]
    if not cands:
        return data
    _set_value(lines, rng.choice(cands), rng.choice(_SWAPS))
    return b"\n".join(lines)


def numeric_placeholder(rng: random.Random, data: bytes) -> bytes:
    """Replace a number with a ``${…}`` placeholder of a parameter that is not a number."""
    lines = data.split(b"\n")
    cands = [
        i
        for i in _kv_lines(lines)
        if re.fullmatch(rb"-?[0-9.]+", _KV.match(lines[i]).group("value").strip())  # type: ignore[union-attr]
    ]
    names = re.findall(rb"^  (\w+): \{type: (?:text|choice|host|profile)", data, re.M) or [b"site"]
    if not cands:
        return data
    _set_value(lines, rng.choice(cands), b'"${%s}"' % rng.choice(names))
    return b"\n".join(lines)


def placeholder_swap(rng: random.Random, data: bytes) -> bytes:
    """Replace a value with a ``${…}`` placeholder (known, unknown, or with format syntax)."""
    lines = data.split(b"\n")
    i = _pick_kv(rng, lines)
    if i is None:
        return data
    names = re.findall(rb"\$\{(\w+)\}", data) or [b"site"]
    name = rng.choice(names)
    value = rng.choice(
        [b'"${%s}"' % name, b'"${%s:g}"' % name, b'"x${%s}y"' % name, b'"${nope}"', b"${%s}" % name]
    )
    _set_value(lines, i, value)
    return b"\n".join(lines)


def huge_int(rng: random.Random, data: bytes) -> bytes:
    """Replace a value with a 5,000-digit integer, a 20,000-digit hex integer or 1e999."""
    lines = data.split(b"\n")
    i = _pick_kv(rng, lines)
    if i is None:
        return data
    value = rng.choice(
        [b"9" * 5000, b"-" + b"1" * 4400, b"0x" + b"f" * 20000, b"1e999", b"1_0" * 3000]
    )
    _set_value(lines, i, value)
    return b"\n".join(lines)


def bad_regex(rng: random.Random, data: bytes) -> bytes:
    """An invalid regular expression in a ``pattern`` (or a new text parameter with one)."""
    bad = rng.choice([b'"(["', b'"a{2,1}"', b'"*x"', b'"(?P<1>x)"', b'"\\\\"'])
    lines = data.split(b"\n")
    hits = [i for i, line in enumerate(lines) if re.search(rb"pattern:", line)]
    if hits:
        i = rng.choice(hits)
        lines[i] = re.sub(rb'pattern: *("[^"]*"|[^,}\n]*)', b"pattern: " + bad, lines[i])
        return b"\n".join(lines)
    return _add_param(data, b"{type: text, prompt: p, pattern: " + bad + b"}")


def default_vs_pattern(rng: random.Random, data: bytes) -> bytes:
    """A text parameter whose default does not match its own pattern (or other bounds)."""
    param = rng.choice(
        [
            b'{type: text, prompt: p, default: "no spaces allowed", pattern: "[a-z]+"}',
            b"{type: integer, prompt: p, default: 500, min: 0, max: 10}",
            b"{type: choice, prompt: p, choices: [a, b], default: c}",
            b"{type: port, prompt: p, default: 70000}",
            b"{type: duration, prompt: p, default: soon}",
            b'{type: host, prompt: p, default: "not a host!"}',
            b"{type: text, prompt: p, default: toolong, max_length: 2}",
        ]
    )
    return _add_param(data, param)


def _add_param(data: bytes, param: bytes) -> bytes:
    lines = data.split(b"\n")
    for i, line in enumerate(lines):
        if line.startswith(b"parameters:"):
            lines.insert(i + 1, b"  fuzzed: " + param)
            return b"\n".join(lines)
    return data + b"\nparameters:\n  fuzzed: " + param + b"\n"


def drop_line(rng: random.Random, data: bytes) -> bytes:
    """Remove one line."""
    lines = data.split(b"\n")
    if lines:
        del lines[rng.randrange(len(lines))]
    return b"\n".join(lines)


def dup_line(rng: random.Random, data: bytes) -> bytes:
    """Duplicate one ``key: value`` line (a duplicate key)."""
    lines = data.split(b"\n")
    i = _pick_kv(rng, lines)
    if i is not None:
        lines.insert(i, lines[i])
    return b"\n".join(lines)


MUTATIONS: dict[str, Callable[[random.Random, bytes], bytes]] = {
    f.__name__: f
    for f in (
        byte_flip,
        control_char,
        bad_encoding,
        deep_nesting,
        alias_bomb,
        type_swap,
        top_level_swap,
        numeric_placeholder,
        placeholder_swap,
        huge_int,
        bad_regex,
        default_vs_pattern,
        drop_line,
        dup_line,
    )
}


def mutants(n: int, seed: int) -> list[tuple[str, Path, str, bytes]]:
    """``n`` mutants as ``(kind, seed file, mutation name, bytes)``, deterministic in ``seed``.

    Kinds and mutations are drawn round-robin so a small ``n`` still covers every pair.
    """
    rng = random.Random(seed)
    by_kind = seeds()
    kinds = sorted(k for k, files in by_kind.items() if files)
    names = sorted(MUTATIONS)
    out = []
    for k in range(n):
        kind = kinds[k % len(kinds)]
        name = names[(k // len(kinds)) % len(names)]
        src = rng.choice(by_kind[kind])
        out.append((kind, src, name, MUTATIONS[name](rng, src.read_bytes())))
    return out


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    for kind, src, name, data in mutants(count, int(sys.argv[2]) if len(sys.argv) > 2 else 0):
        print(f"{kind:<9} {name:<19} {src.relative_to(REPO)} ({len(data)} bytes)")

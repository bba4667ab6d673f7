"""Fuzzing the YAML loaders: every bad file is a clean ``file:line: field: message`` error.

Three parts:

* the corpus (``tests/fuzz/corpus/``): one minimal input per crash class the fuzzer found
  (issue 19 item 7), kept forever; each must give a well-shaped error naming its problem;
* the limits of :mod:`kit.yamlfiles` at their boundaries (one under passes, one over is
  refused with the limit named);
* a seeded mutation run (``tests/fuzz/mutate.py``) over every loader plus a hypothesis run
  over the parser: every outcome is success or :class:`kit.errors.ConfigError` of the right
  shape, never another exception. Counts and the slowest load are printed (``-s``); time is
  not asserted — the alias-bomb bound is asserted by its error instead.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kit import yamlfiles
from kit.errors import ConfigError
from kit.plugins import get_plugin_manager
from kit.recipes import bundle

from . import harness, mutate

CORPUS = Path(__file__).with_name("corpus")

#: corpus file → (field, fragment of the message) the error must carry.
EXPECTED = {
    "recipe--control-char.yaml": ("invalid YAML", "control character U+0007"),
    "profile--deep-nesting.yaml": ("points[0]", "kit.yamlfiles.MAX_DEPTH"),
    "settings--not-utf8.yaml": ("invalid YAML", "not UTF-8 text (byte 0xe9"),
    "recipe--default-fails-pattern.yaml": ("parameters.machine", "does not match the pattern"),
    "manifest--huge-int.yaml": ("version", "kit.yamlfiles.MAX_INT_DIGITS"),
    "recipe--format-code-placeholder.yaml": ("checks[0].every_s", "is not a number"),
    "recipe--invalid-regex.yaml": ("parameters.machine.pattern", "not a valid regular expression"),
    "profile--mapping-for-scalar.yaml": ("protocol", "unknown protocol"),
    "recipe--alias-bomb.yaml": ("assets.m.connection", "kit.yamlfiles.MAX_NODES"),
    "quality--control-char.yaml": ("invalid YAML", "control character U+0000"),
}


@pytest.fixture(scope="module")
def host():
    """The installed plugins (adapters provide the profile models, plugins the configs)."""
    return get_plugin_manager()


def _place(tmp_path: Path, kind: str, name: str, data: bytes) -> Path:
    # kit_quality.yaml is found by its name in a directory.
    path = tmp_path / ("kit_quality.yaml" if kind == "quality" else name)
    path.write_bytes(data)
    return path


def _error(kind: str, path: Path, host) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        harness.load(kind, path, host)
    return info.value


def test_corpus_is_complete():
    """Every corpus file has an expectation and every expectation a file."""
    assert sorted(p.name for p in CORPUS.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_input_gives_a_clean_error(name, tmp_path, host):
    """Each input that once crashed a loader now gives ``file:line: field: message``."""
    kind = name.split("--")[0]
    path = _place(tmp_path, kind, name, (CORPUS / name).read_bytes())
    exc = _error(kind, path, host)
    assert harness.well_shaped(exc), harness.problems_of(exc)
    field, fragment = EXPECTED[name]
    hits = [
        m
        for m in (harness.SHAPE.match(p) for p in harness.problems_of(exc))
        if m
        and m["file"] == str(path)
        and m["field"].startswith(field)
        and fragment in m["message"]
    ]
    assert hits, harness.problems_of(exc)
    assert int(hits[0]["line"]) >= 1


@pytest.mark.parametrize("name", ["recipe--control-char.yaml", "recipe--alias-bomb.yaml"])
def test_corpus_recipe_in_a_bundle_gives_a_clean_error(name, host):
    """The same recipes carried in a bundle (the file named as inside the bundle)."""
    data = harness.make_bundle((CORPUS / name).read_bytes(), name)
    with pytest.raises(ConfigError) as info:
        harness.load_bundle_recipe(data, host)
    assert harness.well_shaped(info.value), harness.problems_of(info.value)
    assert harness.problems_of(info.value)[0].startswith(f"recipes/{name}:")


def test_not_utf8_recipe_in_a_bundle(host):
    """A Latin-1 recipe inside a bundle: named, with its line (was a UnicodeDecodeError)."""
    text = "id: x\nversion: 1.0.0\ntitle: Usine Montr\u00e9al\n".encode("latin-1")
    with pytest.raises(ConfigError) as info:
        bundle.bundle_recipes(harness.make_bundle(text, "r.yaml"))
    assert str(info.value).startswith("recipes/r.yaml:3: invalid YAML: not UTF-8 text")


def _zip(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in files.items():
            z.writestr(k, v)
    return out.getvalue()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"deployments": "all"}, "deployments"),
        ({"deployments": [{"id": 1, "recipe_file": "recipes/a.yaml"}]}, "deployments[0].id"),
        (
            {"deployments": [{"id": "d", "recipe_file": "recipes/missing.yaml"}]},
            "deployments[0].recipe_file",
        ),
        ({"deployments": [], "profiles": [{"id": "p"}]}, "profiles[0].file"),
        ([1, 2], "(top level)"),
    ],
)
def test_malformed_bundle_json_is_a_clean_error(body, field):
    """A bundle.json of the wrong shape (was KeyError/TypeError) names the field."""
    raw = json.dumps(body).encode()
    recipe = b"id: a\n"
    digests = {"bundle.json": raw, "recipes/a.yaml": recipe}
    import hashlib

    manifest = {
        "format": "kit-bundle/1",
        "files": {k: hashlib.sha256(v).hexdigest() for k, v in digests.items()},
    }
    data = _zip({"manifest.json": json.dumps(manifest).encode(), **digests})
    with pytest.raises(bundle.BundleError) as info:
        bundle.bundle_recipes(data, "b.kitbundle")
    lines = harness.problems_of(info.value)
    assert any(p.startswith(f"b.kitbundle/bundle.json:1: {field}") for p in lines), lines


def test_zip_bomb_bundle_is_refused_before_unpacking():
    """A bundle that unpacks past MAX_UNPACKED_BYTES is refused from the zip directory."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("manifest.json", b"{}")
        z.writestr("big.bin", bytes(bundle.MAX_UNPACKED_BYTES + 1))
    data = out.getvalue()
    assert len(data) < bundle.MAX_UNPACKED_BYTES // 100  # small on the wire
    with pytest.raises(bundle.BundleError, match="MAX_UNPACKED_BYTES"):
        bundle.open_bundle(data, "bomb.kitbundle")


# -- the limits at their boundaries -----------------------------------------------------------


def _nested(depth: int) -> str:
    return "a: " + "[" * depth + "]" * depth + "\n"


def test_depth_limit_boundary():
    """A value MAX_DEPTH steps (keys and list positions) deep loads; one more is refused
    naming the limit, the field path shortened."""
    # The innermost list of _nested(d) is d steps deep: "a" and d - 1 list positions.
    assert yamlfiles.parse_yaml(_nested(yamlfiles.MAX_DEPTH), "f.yaml") is not None
    with pytest.raises(ConfigError, match=r"^f\.yaml:1: a\[0\].*…: nested deeper than 64 levels"):
        yamlfiles.parse_yaml(_nested(yamlfiles.MAX_DEPTH + 1), "f.yaml")


def test_node_limit_counts_alias_expansion():
    """Aliases count as what they repeat: 10 × 10 × 1,001 values is over the limit even
    though the text is short; the same count without aliases is not."""
    width = yamlfiles.MAX_NODES // 100
    text = (
        f"base: &b [{', '.join(['x'] * width)}]\n"
        "ten: &t [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "hundred: [*t, *t, *t, *t, *t, *t, *t, *t, *t, *t]\n"
    )
    with pytest.raises(ConfigError) as info:
        yamlfiles.parse_yaml(text, "bomb.yaml")
    assert str(info.value).startswith("bomb.yaml:3: hundred: expands to more than")
    assert "kit.yamlfiles.MAX_NODES" in str(info.value)
    # One level less of aliasing is well under the bound and loads, shared not copied.
    ok = yamlfiles.parse_yaml(text.rsplit("hundred", 1)[0], "ok.yaml")
    assert len(ok["ten"]) == 10 and ok["ten"][0] is ok["ten"][9]


def test_integer_digits_boundary():
    """An integer of MAX_INT_DIGITS characters loads; one more is refused (quoted is text)."""
    n = yamlfiles.MAX_INT_DIGITS
    assert yamlfiles.parse_yaml(f"x: {'9' * n}\n", "f.yaml")["x"] == int("9" * n)
    with pytest.raises(ConfigError, match=r"^f\.yaml:1: x: integer of 101 characters"):
        yamlfiles.parse_yaml(f"x: {'9' * (n + 1)}\n", "f.yaml")
    assert yamlfiles.parse_yaml(f"x: '{'9' * 5000}'\n", "f.yaml")["x"] == "9" * 5000


def test_file_size_limit(tmp_path):
    """A file over MAX_BYTES is refused without being parsed."""
    p = tmp_path / "big.yaml"
    p.write_bytes(b"# " + b"x" * yamlfiles.MAX_BYTES + b"\n")
    with pytest.raises(ConfigError, match=r"big\.yaml:1: invalid YAML: the file is larger"):
        yamlfiles.load_yaml(p)
    p.write_bytes(b"# " + b"x" * (yamlfiles.MAX_BYTES - 100) + b"\na: 1\n")
    assert yamlfiles.load_yaml(p) == {"a": 1}


def test_utf8_bom_is_accepted(tmp_path):
    """A UTF-8 file saved with a byte-order mark (Windows editors) still loads."""
    p = tmp_path / "bom.yaml"
    p.write_bytes(b"\xef\xbb\xbfa: 1\n")
    assert yamlfiles.load_yaml(p) == {"a": 1}


# -- mutation and hypothesis runs ------------------------------------------------------------

MUTANTS = 300
SEED = 19


def test_mutation_run_never_crashes(tmp_path, host, capsys):
    """300 seeded mutants of the shipped files through every loader: success or a clean
    error, never another exception; prints the counts and the slowest load."""
    counts = {"inputs": 0, "clean errors": 0, "successes": 0, "crashes": 0}
    crashes: list[str] = []
    slowest = (0.0, "")
    for i, (kind, src, name, data) in enumerate(mutate.mutants(MUTANTS, SEED)):
        d = tmp_path / str(i)
        d.mkdir()
        path = _place(d, kind, src.name, data)
        counts["inputs"] += 1
        t0 = time.perf_counter()
        try:
            harness.load(kind, path, host)
            counts["successes"] += 1
        except ConfigError as exc:
            if harness.well_shaped(exc):
                counts["clean errors"] += 1
            else:
                counts["crashes"] += 1
                crashes.append(
                    f"{kind}/{name}/{src.name}: badly shaped: {harness.problems_of(exc)[:2]}"
                )
        except Exception as exc:  # noqa: BLE001 -- any other exception is the finding
            counts["crashes"] += 1
            crashes.append(f"{kind}/{name}/{src.name}: {type(exc).__name__}: {str(exc)[:200]}")
        took = time.perf_counter() - t0
        if took > slowest[0]:
            slowest = (took, f"{kind}/{name}/{src.name}")
    with capsys.disabled():
        print(
            f"\nYAML fuzz (seed {SEED}): {counts['inputs']} inputs, {counts['clean errors']} clean "
            f"errors, {counts['successes']} successes, {counts['crashes']} crashes; "
            f"slowest load {slowest[0]:.3f} s ({slowest[1]})"
        )
    assert crashes == []
    assert counts["inputs"] == MUTANTS
    # The run exercised both outcomes (a mutator that only broke the parser would not).
    assert counts["successes"] > 0 and counts["clean errors"] > 0


YAMLISH = st.text(
    alphabet=st.sampled_from(
        list("ab:-[]{},&*!|>'\"#\n \t0123456789.e_x") + ["\x00", "\x07", "é", "\ufeff"]
    ),
    max_size=200,
)


@settings(
    max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(text=YAMLISH)
def test_parser_on_arbitrary_text(text):
    """Arbitrary YAML-ish text: parsed, or a ConfigError of the right shape."""
    try:
        yamlfiles.parse_yaml(text, "h.yaml")
    except ConfigError as exc:
        assert harness.well_shaped(exc), harness.problems_of(exc)
        assert str(exc).startswith("h.yaml:")

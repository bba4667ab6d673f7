"""Subject builders and token sanitising (pure)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit import subjects
from kit.subjects import AssetPath, sanitize_token


@pytest.mark.parametrize(
    "name,token",
    [
        ("Line 3", "line_3"),
        ("Presse-Ü", "presse-u"),
        ("a.b>c*d", "a_b_c_d"),
        ("  CNC  2 ", "cnc_2"),
        ("already_ok-1", "already_ok-1"),
    ],
)
def test_sanitize(name, token):
    assert sanitize_token(name) == token


def test_sanitize_rejects_empty():
    with pytest.raises(ValueError, match="no usable subject token"):
        sanitize_token("***")


@given(st.text(min_size=1))
def test_sanitized_tokens_are_always_valid(text):
    try:
        tok = sanitize_token(text)
    except ValueError:
        return
    assert subjects.is_token(tok)
    assert "." not in tok and "*" not in tok and ">" not in tok


def test_subject_builders_round_trip():
    path = AssetPath.of("Werk Süd", "Assembly", "Line 1", "Press #1")
    assert subjects.data_subject(path) == "kit.data.werk_sud.assembly.line_1.press_1"
    assert subjects.kpi_subject(path, "OEE") == "kit.kpi.werk_sud.assembly.line_1.press_1.oee"
    assert (
        subjects.event_subject("alarm", path) == "kit.event.alarm.werk_sud.assembly.line_1.press_1"
    )
    assert subjects.cmd_subject(path) == "kit.cmd.werk_sud.assembly.line_1.press_1"
    for subj in (
        subjects.data_subject(path),
        subjects.kpi_subject(path, "x"),
        subjects.event_subject("a", path),
    ):
        assert subjects.path_from_subject(subj) == path
    assert AssetPath.parse("werk_sud/assembly/line_1/press_1") == path


def test_asset_path_needs_four_parts():
    with pytest.raises(ValueError, match="4 parts"):
        AssetPath.parse("a/b/c")

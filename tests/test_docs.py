"""Docs that are generated from code stay fresh, and every hook is documented."""

import importlib.util
import inspect
from pathlib import Path

from kit import hookspecs

ROOT = Path(__file__).resolve().parent.parent


def _load(script: str):
    spec = importlib.util.spec_from_file_location(script, ROOT / "scripts" / f"{script}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_hook_has_a_heading_with_its_signature():
    text = (ROOT / "docs" / "plugin_hooks.md").read_text()
    for name, fn in inspect.getmembers(hookspecs, inspect.isfunction):
        if hasattr(fn, "kit_spec"):
            assert f"## {name}\n" in text, f"docs/plugin_hooks.md lacks a heading for hook {name}"
            assert f"def {name}(" in text


def test_plugin_hooks_page_is_fresh():
    assert (ROOT / "docs" / "plugin_hooks.md").read_text() == _load(
        "gen_plugin_hooks_doc"
    ).render(), "run: uv run python scripts/gen_plugin_hooks_doc.py"


def test_cli_reference_is_fresh():
    assert (ROOT / "docs" / "cli.md").read_text() == _load("gen_cli_doc").render(), (
        "run: uv run python scripts/gen_cli_doc.py"
    )


def test_docs_index_links_resolve():
    index = (ROOT / "docs" / "index.md").read_text()
    import re

    for target in re.findall(r"\]\(([^)#]+\.md)\)", index):
        assert (ROOT / "docs" / target).exists(), f"docs/index.md links to missing {target}"

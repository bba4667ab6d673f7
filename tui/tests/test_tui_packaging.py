"""Packaging rules: ``kit`` never imports textual; ``kit tui`` arrives through the entry point."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner


def test_kit_and_its_cli_do_not_import_textual():
    code = (
        "import sys, kit, kit.cli, kit.runtime, kit.control, kit.plugins;"
        "from kit.plugins import get_plugin_manager; get_plugin_manager();"
        "import kit_tui.plugin;"
        "print(sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"


def test_kit_tui_command_is_registered_by_the_plugin():
    from kit.cli import cli

    result = CliRunner().invoke(cli, ["tui", "--help"])
    assert result.exit_code == 0, result.output
    assert "--url" in result.output and "terminal UI" in result.output


def test_kit_tui_without_a_runtime_says_how_to_start_one(tmp_path):
    from kit.cli import cli

    result = CliRunner().invoke(cli, ["tui"], env={"KIT_DATA_DIR": str(tmp_path)})
    assert result.exit_code != 0
    assert "kit up" in result.output

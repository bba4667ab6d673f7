"""Shared helpers of the Modbus profile error tests: write a profile, find a line, collect problems."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from kit.errors import ConfigError
from kit.profiles import load_profile

HEADER = """\
id: test-device
vendor: Test
model: T1
protocol: modbus
source: {title: Test manual, section: "1.2"}
connection:
  addressing: modicon
points:
"""


def write(
    tmp_path: Path, points: str, header: str = HEADER, tail: str = ""
) -> tuple[Path, list[str]]:
    text = header + textwrap.dedent(points) + textwrap.dedent(tail)
    path = tmp_path / "device.yaml"
    path.write_text(text, encoding="utf-8")
    return path, text.splitlines()


def line_of(lines: list[str], needle: str, start: int = 0) -> int:
    """1-based number of the first line at or after ``start`` that contains ``needle``."""
    for i in range(start, len(lines)):
        if needle in lines[i]:
            return i + 1
    raise AssertionError(needle)


def problems(path: Path, host) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load_profile(path, host)
    return exc.value.problems

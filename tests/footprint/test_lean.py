"""kit.lean: the malloc arena limit is applied by `kit up` and yields to the operator's own."""

from __future__ import annotations

import subprocess
import sys

CODE = "from kit.lean import limit_malloc_arenas; print(limit_malloc_arenas())"


def _run(env_extra: dict[str, str]) -> str:
    import os

    env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"} | env_extra
    return subprocess.run(
        [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_limit_is_set_on_glibc_and_the_operator_setting_wins() -> None:
    import platform

    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        assert _run({}) == "False"  # nothing to limit elsewhere
        return
    assert _run({}) == "True"
    assert _run({"MALLOC_ARENA_MAX": "4"}) == "False"


def test_kit_up_applies_it_before_the_runtime() -> None:
    import inspect

    from kit.cli import core_cmds

    src = inspect.getsource(core_cmds.up.callback)
    assert src.index("limit_malloc_arenas()") < src.index("Runtime(")

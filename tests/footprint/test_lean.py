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


async def test_embedded_server_runs_with_a_memory_limit(tmp_path) -> None:
    """The real server process gets GOMEMLIMIT from nats.memory_limit_mib; an explicit one wins."""
    from pathlib import Path

    from kit.natsserver import EmbeddedNats, server_env
    from kit.settings import NatsSettings

    srv = EmbeddedNats(NatsSettings(port=0, memory_limit_mib=40), tmp_path)
    await srv.start()
    try:
        assert srv.process is not None
        environ = Path(f"/proc/{srv.process.pid}/environ").read_bytes().split(b"\0")
        assert b"GOMEMLIMIT=40MiB" in environ
        assert b"GOGC=50" in environ  # nats.gc_percent's default
    finally:
        await srv.stop()
    assert server_env(NatsSettings(), {"GOGC": "200"})["GOGC"] == "200"
    assert "GOGC" not in server_env(NatsSettings(gc_percent=None), {})
    assert server_env(NatsSettings(), {"GOMEMLIMIT": "1GiB"})["GOMEMLIMIT"] == "1GiB"
    assert "GOMEMLIMIT" not in server_env(NatsSettings(memory_limit_mib=None), {})

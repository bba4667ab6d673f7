"""The plugin host calls hooks through pluggy by keyword: opt-in arguments, isolation, tracing.

Vendor plugins arrive through the real entry-point path (a dist-info on ``sys.path``).
"""

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from kit.control import ControlClient
from kit.plugins import get_plugin_manager
from tests.test_plugins import make_dist

#: Implements two hooks with fewer arguments than their specs (api only; none at all).
LITE = """
import kit

STARTED = []

@kit.hookimpl
def register_endpoints(api):
    async def hello(body):
        return {"hello": body, "started": len(STARTED)}
    api.add("acme.hello", hello)

@kit.hookimpl
def runtime_started():
    STARTED.append(True)
"""

#: Fails in one hook; must be reported and skipped without stopping the others.
BAD = """
import kit

@kit.hookimpl
def runtime_started(runtime):
    raise RuntimeError("acme-bad exploded on start")
"""


@pytest.fixture
def vendors(tmp_path, monkeypatch):
    root = tmp_path / "site-packages"
    root.mkdir()
    make_dist(root, "acme-lite", "acme-lite", "acme_lite_mod", LITE)
    make_dist(root, "acme-bad", "acme-bad", "acme_bad_mod", BAD)
    monkeypatch.syspath_prepend(str(root))
    return root


async def test_reduced_argument_hooks_work_and_are_traced(
    vendors, kit_settings, make_runtime, monkeypatch, caplog
):
    monkeypatch.setenv("KIT_TRACE_PLUGINS", "1")
    caplog.set_level(logging.INFO, logger="kit.plugins")
    host = get_plugin_manager()
    rt = await make_runtime(kit_settings, host=host)

    # The reduced-argument implementations ran: the endpoint exists, runtime_started fired.
    reply = await ControlClient(rt.bus).call("acme.hello", "plant")
    assert reply == {"hello": "plant", "started": 1}

    # The failing plugin is named and skipped; acme-lite kept working.
    assert [(b.name, b.distribution) for b in host.broken] == [("acme-bad", "acme-bad")]
    assert "runtime_started" in host.broken[0].error
    assert "acme-bad exploded on start" in host.broken[0].error
    assert not host.pm.has_plugin("acme-bad") and host.pm.has_plugin("acme-lite")
    status = await ControlClient(rt.bus).call("status")
    assert [b["name"] for b in status["broken_plugins"]] == ["acme-bad"]

    # KIT_TRACE_PLUGINS saw the calls, each naming the one plugin it went to.
    trace = [r.getMessage() for r in caplog.records if r.getMessage().startswith("hook: ")]
    assert "hook: register_endpoints(api=ControlAPI, runtime=Runtime) -> acme-lite" in trace
    assert "hook: runtime_started(runtime=Runtime) -> acme-lite" in trace
    assert any(t.startswith("hook: runtime_started -> acme-bad raised RuntimeError") for t in trace)


def test_zero_argument_collection_hook_is_called(vendors):
    """A plugin may implement a hook with no arguments at all (here: a side effect only)."""
    make_dist(
        vendors,
        "acme-noarg",
        "acme-noarg",
        "acme_noarg_mod",
        """
        import kit
        CALLS = []
        @kit.hookimpl
        def register_resources():
            CALLS.append("called")
        """,
    )
    host = get_plugin_manager()
    import acme_noarg_mod

    assert acme_noarg_mod.CALLS == ["called"]
    assert "acme-noarg" not in {b.name for b in host.broken}


def test_broken_resources_registration_keeps_nothing(vendors, tmp_path):
    """A plugin failing half-way through register_resources leaves no directory behind."""
    half = tmp_path / "half-profiles"
    make_dist(
        vendors,
        "acme-half",
        "acme-half",
        "acme_half_mod",
        f"""
        import kit
        @kit.hookimpl
        def register_resources(register):
            register.profiles({str(half)!r})
            raise ValueError("then it broke")
        """,
    )
    host = get_plugin_manager()
    assert "acme-half" in {b.name for b in host.broken}
    assert half not in host.profile_dirs()
    assert host.profile_dirs()  # the shipped profiles are still there


def test_kit_plugins_trace_on_the_command_line(vendors):
    env = {
        "PYTHONPATH": str(vendors),
        "PATH": str(Path(sys.executable).parent),
        "KIT_TRACE_PLUGINS": "1",
    }
    r = subprocess.run(
        [sys.executable, "-m", "kit", "-v", "plugins"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "hook: register_components(register=ComponentRegistry) -> synthetic" in r.stderr
    assert "hook: register_resources(register=ResourceRegistry) -> kit-resources" in r.stderr
    lite = next(line for line in r.stdout.splitlines() if line.startswith("acme-lite"))
    assert "register_endpoints" in lite and "runtime_started" in lite

"""Plugin loading: entry points, broken vendor packages, operator switches, registries."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import kit
from kit.components import Source
from kit.errors import PluginError
from kit.plugins import get_plugin_manager


def make_dist(root: Path, dist: str, ep_name: str, module: str, code: str) -> None:
    """Write a minimal installed distribution (dist-info + module) into ``root``."""
    (root / module).mkdir()
    (root / module / "__init__.py").write_text(textwrap.dedent(code))
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[kit]\n{ep_name} = {module}\n")


@pytest.fixture
def vendor_path(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def test_builtin_plugins_load_through_entry_points():
    host = get_plugin_manager()
    names = {p.name for p in host.info()}
    assert {"synthetic", "kit-resources"} <= names
    syn = next(p for p in host.info() if p.name == "synthetic")
    assert syn.distribution == "kit-synthetic" and "register_components" in syn.hooks
    assert host.component("synthetic").plugin == "synthetic"
    assert not host.broken


def test_broken_import_is_reported_and_skipped(vendor_path, capsys):
    make_dist(
        vendor_path,
        "acme-broken",
        "acme",
        "acme_broken_mod",
        "raise RuntimeError('boom at import')\n",
    )
    host = get_plugin_manager()
    assert [(b.name, b.distribution) for b in host.broken] == [("acme", "acme-broken")]
    assert "boom at import" in host.broken[0].error
    assert "acme" in capsys.readouterr().err
    assert host.component("synthetic")  # the others still work


def test_unknown_hook_is_reported_and_skipped(vendor_path):
    make_dist(
        vendor_path,
        "acme-typo",
        "acme-typo",
        "acme_typo_mod",
        """
        import kit
        @kit.hookimpl
        def register_componentz(register):
            pass
    """,
    )
    host = get_plugin_manager()
    assert [b.name for b in host.broken] == ["acme-typo"]
    assert "register_componentz" in host.broken[0].error
    assert not host.pm.has_plugin("acme-typo")


def test_failing_registration_is_reported_and_cleaned(vendor_path):
    make_dist(
        vendor_path,
        "acme-fail",
        "acme-fail",
        "acme_fail_mod",
        """
        import kit
        from kit.components import Source
        class Half(Source):
            name = "half"
            async def run(self): pass
        @kit.hookimpl
        def register_components(register):
            register.add(Half)
            raise ValueError("second registration failed")
    """,
    )
    host = get_plugin_manager()
    assert [b.name for b in host.broken] == ["acme-fail"]
    with pytest.raises(PluginError, match="unknown component type 'half'"):
        host.component("half")


def test_name_clash_names_both_plugins():
    class Clash(Source):
        name = "synthetic"

        async def run(self):
            pass

    class P:
        @kit.hookimpl
        def register_components(self, register):
            register.add(Clash)

    host = get_plugin_manager(extra=[("clasher", P())])
    assert host.broken and "synthetic" in host.broken[0].error and "clasher" in host.broken[0].error


def test_unknown_type_suggests_closest():
    host = get_plugin_manager()
    with pytest.raises(PluginError, match=r"did you mean 'synthetic'.*installed:"):
        host.component("synthetc")


def test_operator_switches(monkeypatch):
    monkeypatch.setenv("KIT_DISABLE_PLUGINS", "synthetic")
    assert "synthetic" not in {p.name for p in get_plugin_manager().info()}
    monkeypatch.delenv("KIT_DISABLE_PLUGINS")
    monkeypatch.setenv("KIT_LOAD_PLUGINS", "synthetic")
    assert {p.name for p in get_plugin_manager().info()} == {"synthetic"}


def test_kit_plugins_cli_reports_broken_vendor(tmp_path):
    make_dist(
        tmp_path, "acme-broken", "acme", "acme_broken_mod", "raise ImportError('missing dep xyz')\n"
    )
    env = {"PYTHONPATH": str(tmp_path), "PATH": str(Path(sys.executable).parent)}
    r = subprocess.run(
        [sys.executable, "-m", "kit", "plugins"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "synthetic" in r.stdout
    assert "acme" in r.stdout and "BROKEN" in r.stdout and "missing dep xyz" in r.stdout

"""Site state travels on the component context, never through module globals or os.environ."""

import importlib
import os

import pytest
from click.testing import CliRunner

from kit.components import Source
from kit.settings import ComponentSpec
from kit.testing import wait_for

SEEN: dict[str, object] = {}


class Peek(Source):
    """Records what its context carries."""

    name = "peek"

    async def run(self) -> None:
        SEEN["ctx"] = self.ctx
        await self.ctx.clock.sleep(3600)


class PeekPlugin:
    import kit

    @kit.hookimpl
    def register_components(self, register):
        register.add(Peek)


@pytest.mark.parametrize(
    "module, name",
    [
        ("kit_modbus.plugin", "_LIBRARY"),
        ("kit_opcua.plugin", "RUNTIME_DATA_DIR"),
        ("kit.recipes.bundle", "trusted_keys"),
        ("kit_historian.plugin", "_runtime_data_dir"),
    ],
)
def test_module_globals_are_gone(module, name):
    assert not hasattr(importlib.import_module(module), name)


def test_recipe_cache_module_is_gone():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("kit.recipes.cache")


async def test_context_carries_data_dir_library_and_trust_store(
    kit_settings, make_runtime, temp_plugin
):
    settings = kit_settings.model_copy(
        update={"components": [ComponentSpec(name="p", type="peek", asset="t/a/l/p")]}
    )
    rt = await make_runtime(settings, host=temp_plugin(PeekPlugin()))
    await wait_for(lambda: "ctx" in SEEN, message="component started")
    ctx = SEEN.pop("ctx")
    assert ctx.data_dir == settings.data_dir
    assert ctx.library is rt.library  # one library object for the whole site
    assert ctx.library.profile_dir == settings.data_dir / "profiles"
    assert "eastron-sdm630" in ctx.library.profiles().profiles
    assert ctx.trust_store().keys == rt.trust_store().keys
    assert rt.recipe_engine.runtime is rt


def test_cli_config_is_not_written_to_the_environment(tmp_path, monkeypatch):
    from kit.cli import cli

    monkeypatch.delenv("KIT_CONFIG", raising=False)
    cfg = tmp_path / "kit.yaml"
    cfg.write_text(f"site: s\ndata_dir: {tmp_path / 'd'}\n")
    for args in (["--config", str(cfg), "version"], ["version", "--config", str(cfg)]):
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 0, r.output
        assert "KIT_CONFIG" not in os.environ


async def test_historian_writes_under_its_runtimes_data_dir(kit_settings, make_runtime):
    """Two runtimes in one process: each historian's Parquet tree is under its own data
    directory (the historian once remembered the last started runtime's in a module global)."""
    roots = []
    for n in range(2):
        settings = kit_settings.model_copy(
            update={
                "data_dir": kit_settings.data_dir.parent / f"site{n}",
                "components": [ComponentSpec(name="h", type="historian")],
            }
        )
        rt = await make_runtime(settings)
        inst = rt.supervisor.instances["h"]
        await wait_for(lambda inst=inst: inst.component is not None, message="historian started")
        roots.append((inst.component.root, settings.data_dir))
    for root, data_dir in roots:
        assert root == data_dir / "history"

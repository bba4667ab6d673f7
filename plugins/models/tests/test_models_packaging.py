"""kit-models is found through its entry point, adds `kit model`, and ships a matching manifest."""

from __future__ import annotations

from importlib import resources

from ruamel.yaml import YAML

from kit.plugins import get_plugin_manager


def test_entry_point_registers_the_component_and_commands() -> None:
    host = get_plugin_manager()
    assert host.component("model_scoring").cls.__module__ == "kit_models.plugin"
    assert not [b for b in host.broken if "models" in str(b.__dict__)]
    from kit.cli import cli

    assert {"list", "show", "train", "verify", "promote", "retire"} <= set(
        cli.get_command(None, "model").commands  # type: ignore[union-attr]
    )


def test_manifest_matches_the_package() -> None:
    text = resources.files("kit_models").joinpath("kit_manifest.yaml").read_text()
    m = YAML(typ="safe").load(text)
    assert m["name"] == "kit-models" and m["components"] == ["model_scoring"]
    assert m["kinds"] == ["analytics"] and m["device_writes"] is False
    assert m["docs"] == "docs/plugins/models.md"
    assert m["standards"] and all(s["claim"] and s["evidence"] for s in m["standards"])

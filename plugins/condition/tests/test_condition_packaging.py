"""kit-condition is found through its entry point and ships a manifest that matches it."""

from __future__ import annotations

from importlib import resources

from ruamel.yaml import YAML

from kit.plugins import get_plugin_manager


def test_entry_point_registers_the_component() -> None:
    host = get_plugin_manager()
    assert host.component("condition").cls.__module__ == "kit_condition.plugin"
    assert not [b for b in host.broken if "condition" in str(b.__dict__)]


def test_manifest_matches_the_package() -> None:
    text = resources.files("kit_condition").joinpath("kit_manifest.yaml").read_text()
    m = YAML(typ="safe").load(text)
    assert (
        m["name"] == "kit-condition"
        and m["components"] == ["condition"]
        and m["kinds"] == ["analytics"]
    )
    assert m["device_writes"] is False and m["docs"] == "docs/plugins/condition.md"
    assert m["standards"] and all(s["claim"] and s["evidence"] for s in m["standards"])

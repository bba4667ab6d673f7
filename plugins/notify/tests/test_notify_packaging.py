"""kit-notify is found through its entry point and ships a manifest that matches it."""

from __future__ import annotations

from importlib import resources

from ruamel.yaml import YAML

from kit.plugins import get_plugin_manager


def test_entry_point_registers_both_sinks() -> None:
    host = get_plugin_manager()
    assert host.component("notify").cls.__module__ == "kit_notify.plugin"
    assert host.component("kpi-topics").cls.__module__ == "kit_notify.kpi_topics"
    assert not [b for b in host.broken if "notify" in str(b.__dict__)]


def test_manifest_matches_the_package() -> None:
    text = resources.files("kit_notify").joinpath("kit_manifest.yaml").read_text()
    m = YAML(typ="safe").load(text)
    assert m["name"] == "kit-notify" and m["components"] == ["notify", "kpi-topics"]
    assert m["kinds"] == ["sink"] and m["device_writes"] is False
    # What the components really do on the bus: read events and KPIs, publish kit.out only.
    assert m["publishes"] == ["kit.out.>"]
    assert m["subscribes"] == ["kit.event.>", "kit.kpi.>"]

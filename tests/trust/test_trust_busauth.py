"""Permissions derived from manifests and bindings; role endpoint lists; nats.conf authorization."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

import kit
from kit.bindings import Binding
from kit.components import Analytics
from kit.settings import ComponentSpec
from kit.trust.busauth import BusAuth, endpoints_for, narrow_subscriptions, role_permissions
from kit.trust.permissions import permissions_for


class Inputs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    good: Binding = Binding(point="count_good")
    energy: Binding | None = None


class Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inputs: Inputs = Inputs()


class Oeeish(Analytics):
    name: ClassVar[str] = "oeeish"
    Config: ClassVar[type[BaseModel]] = Cfg


class P:
    kit_manifest = {
        "name": "kit-oeeish",
        "version": "1.0.0",
        "vendor": "t",
        "contact": "t@example.org",
        "kinds": ["analytics"],
        "components": ["oeeish"],
        "publishes": ["kit.kpi.>", "kit.event.>"],
        "subscribes": ["kit.data.>"],
    }

    @kit.hookimpl
    def register_components(self, register):
        register.add(Oeeish)


def test_bindings_narrow_subscriptions_to_bound_assets(temp_plugin):
    host = temp_plugin(P(), name="oeeish", load_entrypoints=False)
    cfg = Cfg.model_validate(
        {
            "inputs": {
                "good": "count_good",
                "energy": {"point": "energy_kwh", "asset": "s/a/l/meter"},
            }
        }
    )
    spec = ComponentSpec(name="oee-press", type="oeeish", asset="s/a/l/press")
    perms = permissions_for(host, spec, cfg)
    subs = perms["subscribe"]["allow"]
    assert "kit.data.s.a.l.press" in subs and "kit.data.s.a.l.meter" in subs
    assert "kit.data.>" not in subs
    pubs = perms["publish"]["allow"]
    # Publishing is narrowed to the instance's own asset (issue 19 item 10).
    assert "kit.kpi.s.a.l.press.*" in pubs and "kit.health.oee-press" in pubs
    assert "kit.kpi.>" not in pubs and "kit.event.*.s.a.l.press" in pubs
    assert not any(p.startswith("kit.data") or p.startswith("kit.control") for p in pubs)
    assert "$KV.KIT_STATE.oee-press.>" in pubs


def test_narrowing_keeps_other_subjects():
    assert narrow_subscriptions(["kit.data.>", "kit.event.alarm.>"], {"s/a/l/m"}) == [
        "kit.data.s.a.l.m",
        "kit.event.alarm.>",
    ]
    assert narrow_subscriptions(["kit.data.>"], set()) == ["kit.data.>"]


def test_roles_are_cumulative_and_viewer_cannot_write():
    viewer, tech = endpoints_for("viewer"), endpoints_for("technician")
    assert set(viewer) < set(tech)
    assert "writes.confirm" in tech and "writes.confirm" not in viewer
    pubs = role_permissions("viewer")["publish"]["allow"]
    assert "kit.control.status" in pubs and not any(
        p.startswith("kit.cmd") or p == ">" for p in pubs
    )
    assert role_permissions("admin")["publish"]["allow"] == [">"]


def test_auth_file_is_private_and_stable(tmp_path):
    a = BusAuth.load_or_create(tmp_path)
    assert (a.auth_file.stat().st_mode & 0o777) == 0o600
    b = BusAuth.load_or_create(tmp_path)
    assert a.passwords == b.passwords  # the CLI reads the same passwords the runtime wrote
    a.add_component("c1", {"publish": {"allow": ["kit.data.>"]}, "subscribe": {"allow": []}})
    conf = "\n".join(a.conf_lines())
    assert '"c-c1"' in conf and a.components["c1"][0] in conf

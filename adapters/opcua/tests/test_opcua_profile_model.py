"""The OPC UA profile model, the shipped profiles, status mapping and the browse renderer (no network)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from asyncua import ua
from kit_opcua.browse import FoundVariable, alias_for, render_profile, snake
from kit_opcua.profile import NodeAddress, OpcuaProfile
from kit_opcua.quality import severity, to_point
from pydantic import ValidationError

from kit.plugins import get_plugin_manager
from kit.profiles import load_profile

BASE = {
    "id": "t",
    "vendor": "v",
    "model": "m",
    "protocol": "opcua",
    "source": {"title": "test"},
    "namespaces": {"plc": "urn:test:plc"},
}


def prof(**points_and_more) -> OpcuaProfile:
    return OpcuaProfile.model_validate(BASE | points_and_more)


def test_shipped_opcua_profiles_load_cite_sources_and_are_unverified(library):
    ours = [p for p in library.profiles.values() if p.protocol == "opcua"]
    assert {
        "siemens-s7-1500-db",
        "beckhoff-twincat3-tf6100",
        "codesys-v3",
        "generic-machine-machinery",
    } <= {p.id for p in ours}
    assert not [x for x in library.problems if "opcua" in x]
    for p in ours:
        assert p.source.title and p.verified is False
        assert p.points and all(pt.semantic for pt in p.points)
        # Every namespace is named by URI: no point uses an index.
        assert not any(
            pt.node and pt.node.startswith("ns=") and not pt.node.startswith("ns=0;")
            for pt in p.points
        )


def test_node_address_forms():
    a = NodeAddress.parse('nsu=http://x/y;s="DB"."m"')
    assert (a.namespace, a.id_type, a.identifier) == ("http://x/y", "s", '"DB"."m"')
    assert NodeAddress.parse("i=2258").namespace == 0
    assert NodeAddress.parse("plc;i=5").namespace == "plc"
    with pytest.raises(ValueError, match="namespace indices change"):
        NodeAddress.parse("ns=3;s=x")
    with pytest.raises(ValueError, match="non-negative integer"):
        NodeAddress.parse("plc;i=abc")


def test_profile_errors_name_the_point():
    with pytest.raises(ValidationError, match="namespace alias 'other' is not declared"):
        prof(points=[{"name": "x_a", "node": "other;s=x"}])
    with pytest.raises(ValidationError, match="exactly one of `node` and `browse_path`"):
        prof(points=[{"name": "x_a"}])
    with pytest.raises(ValidationError, match="use a namespace alias, not an index"):
        prof(points=[{"name": "x_a", "browse_path": ["3:Foo"]}])
    with pytest.raises(ValidationError, match="defined twice"):
        prof(points=[{"name": "x_a", "node": "plc;s=x"}, {"name": "x_a", "node": "plc;s=y"}])
    with pytest.raises(ValidationError, match="no such point"):
        prof(
            points=[{"name": "x_a", "node": "plc;s=x"}],
            simulation={"points": {"x_b": {"kind": "sine"}}},
        )
    p = prof(
        points=[{"name": "x_a", "node": "plc;s=x", "deadband": {"type": "percent", "value": 2}}]
    )
    assert p.address(p.points[0]) == NodeAddress(
        namespace="urn:test:plc", id_type="s", identifier="x"
    )
    assert p.semantic_points() == {"x_a"}


def test_profile_file_errors_have_file_and_line(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text(
        "id: bad\nvendor: v\nmodel: m\nprotocol: opcua\nsource: {title: t}\npoints:\n"
        "  - name: x_a\n    node: 'ns=4;s=x'\n"
    )
    from kit.errors import ConfigError

    with pytest.raises(ConfigError) as exc:
        load_profile(f, get_plugin_manager())
    assert f"{f}:" in str(exc.value) and "namespace indices change" in str(exc.value)


def test_status_code_mapping():
    assert severity(ua.StatusCodes.Good).value == "good"
    assert severity(ua.StatusCodes.UncertainInitialValue).value == "uncertain"
    assert severity(ua.StatusCodes.BadCommunicationError).value == "bad"
    assert severity(0xC0000000).value == "bad"  # reserved severity 11 counts as bad
    ts = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)
    bad = to_point(
        "x",
        ua.DataValue(
            ua.Variant(1.5),
            StatusCode=ua.StatusCode(ua.StatusCodes.BadNodeIdUnknown),
            SourceTimestamp=ts,
        ),
        "W",
    )
    assert (bad.quality.value, bad.value, bad.reason, bad.ts) == (
        "bad",
        None,
        "BadNodeIdUnknown",
        ts,
    )
    unc = to_point(
        "x",
        ua.DataValue(
            ua.Variant(2.0), StatusCode=ua.StatusCode(ua.StatusCodes.UncertainLastUsableValue)
        ),
        None,
    )
    assert (unc.quality.value, unc.value, unc.reason) == (
        "uncertain",
        2.0,
        "UncertainLastUsableValue",
    )
    good = to_point("x", ua.DataValue(ua.Variant(3), SourceTimestamp=ts.replace(tzinfo=None)), None)
    assert (
        good.quality.value == "good" and good.value == 3 and good.ts == ts
    )  # naive UTC made aware
    assert (
        to_point("x", ua.DataValue(ua.Variant(None)), None).quality.value == "bad"
    )  # Good but empty


def test_browse_render_is_a_valid_profile(tmp_path):
    found = [
        FoundVariable(["PLC", "Motor Speed"], "urn:acme:plc", "s", "Motor.Speed", "Double", "rpm"),
        FoundVariable(["PLC", "motorSpeed"], "urn:acme:plc", "s", "motorSpeed", "Int32", None),
        FoundVariable(["Server", "x"], 0, "i", "2258", "DateTime", None),
        FoundVariable(["Other", "it's"], "http://other.example/ns", "i", "7", None, None),
    ]
    text = render_profile(
        found,
        url="opc.tcp://h:4840",
        profile_id="acme-plc",
        vendor="ACME (Inc)",
        model="P 1",
        version="1.2",
    )
    from kit.yamlfiles import load_yaml

    f = tmp_path / "d.yaml"
    f.write_text(text)
    p = OpcuaProfile.model_validate(load_yaml(f))
    assert [pt.name for pt in p.points] == ["x_motor_speed", "x_motor_speed_2", "x_x", "x_it_s"]
    assert p.points[0].unit == "rpm" and p.points[0].type == "Double"
    assert p.address(p.points[0]).namespace == "urn:acme:plc"
    assert p.points[2].node == "i=2258"
    assert snake("DB1.Value[3]") == "db1_value_3" and snake("9lives") == "9lives"
    assert alias_for("urn:acme:plc", {"plc"}) == "plc2"


def test_semantic_names_and_units_checked_against_the_vocabulary():
    with pytest.raises(
        ValidationError, match="unknown semantic name 'temprature_c'.*did you mean 'temperature_c'"
    ):
        prof(points=[{"name": "temprature_c", "node": "plc;s=x"}])
    with pytest.raises(ValidationError, match="unit 'kW' does not match 'power_active_total_w'"):
        prof(points=[{"name": "power_active_total_w", "node": "plc;s=x", "unit": "kW"}])
    p = prof(
        points=[
            {"name": "power_active_total_w", "node": "plc;s=x"},
            {"name": "x_anything", "node": "plc;s=y"},
        ]
    )
    assert p.points[0].unit == "W"  # filled from the vocabulary


def test_identification_against_build_info_and_deadband_filters():
    from kit_opcua.adapter import build_filter
    from kit_opcua.profile import Identification

    ident = Identification(manufacturer_name="siemens", product_name="S7-1500|S7-1200")
    assert ident.mismatches("Siemens AG", "SIMATIC S7-1500 CPU 1511", "V3.1") == []
    assert ident.mismatches("Beckhoff", "TwinCAT", "4") == [
        "manufacturer_name 'Beckhoff' does not match 'siemens'",
        "product_name 'TwinCAT' does not match 'S7-1500|S7-1200'",
    ]
    p = prof(
        points=[
            {"name": "x_a", "node": "plc;s=a", "deadband": {"type": "percent", "value": 2.5}},
            {"name": "x_b", "node": "plc;s=b", "deadband": {"type": "absolute", "value": 0.5}},
            {"name": "x_c", "node": "plc;s=c"},
        ]
    )
    pct, ab, none = (build_filter(pt) for pt in p.points)
    assert (pct.DeadbandType, pct.DeadbandValue) == (2, 2.5)
    assert (ab.DeadbandType, ab.DeadbandValue) == (1, 0.5)
    assert pct.Trigger == ua.DataChangeTrigger.StatusValue and none is None

"""The manifest model, its committed JSON Schema, and the shipped manifests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.errors import ConfigError
from kit.trust.manifest import (
    SCHEMA_FILE,
    json_schema,
    load_manifest,
    manifest_path_for_module,
    version_in_range,
)

ROOT = Path(__file__).resolve().parents[2]


def test_committed_schema_is_fresh():
    committed = json.loads(SCHEMA_FILE.read_text())
    assert committed == json.loads(json.dumps(json_schema())), (
        "kit/trust/manifest.schema.json is stale: run `python -c 'from kit.trust.manifest import write_schema; write_schema()'`"
    )


def test_every_first_party_manifest_is_valid():
    found = sorted(ROOT.glob("*/*/src/*/kit_manifest.yaml")) + sorted(
        ROOT.glob("*/src/*/kit_manifest.yaml")
    )
    assert found, "no first-party manifests found"
    for p in found:
        m = load_manifest(p)
        assert m.name.startswith("kit-")
        pyproject = (p.parents[2] / "pyproject.toml").read_text()
        assert f'name = "{m.name}"' in pyproject and f'version = "{m.version}"' in pyproject


def test_loader_finds_manifest_next_to_entry_point_module():
    p = manifest_path_for_module("kit_synthetic.plugin")
    assert p is not None and p.name == "kit_manifest.yaml" and p.parent.name == "kit_synthetic"


def test_errors_name_file_line_and_field(tmp_path):
    bad = tmp_path / "kit_manifest.yaml"
    bad.write_text(
        "name: kit-x\nversion: 1.0.0\nvendor: v\ncontact: c@example.org\nkinds: [gadget]\n"
        "publishes: ['kit..data']\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_manifest(bad)
    text = "\n".join(exc.value.problems)
    assert f"{bad}:5: kinds[0]" in text and f"{bad}:6: publishes" in text


def test_dishonest_claim_is_rejected(tmp_path):
    p = tmp_path / "kit_manifest.yaml"
    p.write_text(
        "name: kit-x\nversion: 1.0.0\nvendor: v\ncontact: c@example.org\nkinds: [adapter]\n"
        "standards:\n  - claim: OPC UA certified\n    evidence: tests/x.py\n"
    )
    with pytest.raises(ConfigError, match="self-assessed"):
        load_manifest(p)


@pytest.mark.parametrize(
    "version,spec,ok",
    [
        ("1.0", ">=1.0,<2", True),
        ("2.0", ">=1.0,<2", False),
        ("1.4.2", ">=1.4,<1.5", True),
        ("0.9", ">=1.0", False),
    ],
)
def test_version_ranges(version, spec, ok):
    assert version_in_range(version, spec) is ok

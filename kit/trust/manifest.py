"""The plugin manifest (``kit_manifest.yaml``): what a plugin is and what it may do.

Every plugin distribution ships the manifest next to its entry-point module
(``src/kit_<x>/kit_manifest.yaml``). The runtime turns ``publishes``/``subscribes`` into
NATS permissions for the plugin's components (least privilege), ``kit certify`` checks the
manifest is *truthful* (what the plugin really does on the bus stays within it), and the
signature binds ``name@version`` and ``kit_api`` so an old signature cannot vouch for a new
release. The JSON Schema is committed as ``kit/trust/manifest.schema.json``.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kit.errors import PluginError
from kit.yamlfiles import load_model

MANIFEST_FILE = "kit_manifest.yaml"
SCHEMA_FILE = Path(__file__).with_name("manifest.schema.json")

_SUBJECT = re.compile(r"^([A-Za-z0-9_$-]+|\*)(\.([A-Za-z0-9_$-]+|\*))*(\.>)?$|^>$")
_DIST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_VERSION = re.compile(r"^\d+(\.\d+)*([a-z0-9.+-]*)$")
_SPEC = re.compile(r"^\s*(>=|<=|==|~=|!=|<|>)\s*\d+(\.\d+)*\s*$")


class StandardClaim(BaseModel):
    """A claim about a standard, with the evidence that backs it (a test or a document)."""

    model_config = ConfigDict(extra="forbid")

    claim: str = Field(min_length=3)
    """What is claimed, honestly worded ("self-assessed", "tested against")."""
    evidence: str = Field(min_length=1)
    """Path of the test or document that supports the claim."""

    @field_validator("claim")
    @classmethod
    def _honest(cls, v: str) -> str:
        # A plugin cannot be "certified" by a body through a self-written manifest.
        low = v.lower()
        if "certified" in low and "self" not in low and "not certified" not in low:
            raise ValueError(
                "a claim may not say 'certified' unless qualified (e.g. 'self-assessed'); "
                "say 'tested against …' or 'self-assessed against …'"
            )
        return v


class PluginManifest(BaseModel):
    """What a plugin declares about itself. Checked by ``kit certify`` and enforced on the bus."""

    model_config = ConfigDict(extra="forbid")

    name: str
    """Distribution name (e.g. ``kit-modbus``)."""
    version: str
    """Distribution version; must equal the installed metadata version."""
    vendor: str = Field(min_length=1)
    contact: str = Field(min_length=3)
    """Where to report problems (URL or e-mail)."""
    kit_api: str = ">=1.0,<2"
    """Range of the kit plugin API this plugin works with (e.g. ``>=1.0,<2``)."""
    kinds: list[Literal["adapter", "analytics", "sink", "source"]] = Field(default_factory=list)
    """Kinds of the components it registers (empty for a plugin that only adds commands or endpoints)."""
    components: list[str] = Field(default_factory=list)
    """Component type names the plugin registers."""
    publishes: list[str] = Field(default_factory=list)
    """NATS subjects (wildcards allowed) its components publish to."""
    subscribes: list[str] = Field(default_factory=list)
    """NATS subjects (wildcards allowed) its components subscribe to."""
    device_writes: bool = False
    """Whether it can write to devices (only through guarded writes)."""
    profiles: list[str] = Field(default_factory=list)
    """Hardware profile ids it supports (``*`` = any of its protocol)."""
    standards: list[StandardClaim] = Field(default_factory=list)
    docs: str | None = None
    """Documentation page (path in the repository or URL)."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _DIST.match(v):
            raise ValueError(f"{v!r} is not a valid distribution name")
        return v

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, v: object) -> object:
        # YAML reads `version: 1.0` as a float; a version is text.
        return str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v

    @field_validator("version")
    @classmethod
    def _version(cls, v: str) -> str:
        if not _VERSION.match(v):
            raise ValueError(f"{v!r} is not a version like 1.2.3")
        return v

    @field_validator("kit_api")
    @classmethod
    def _api(cls, v: str) -> str:
        parts = [p for p in v.split(",")]
        if not parts or not all(_SPEC.match(p) for p in parts):
            raise ValueError(f"{v!r} is not a version range like '>=1.0,<2'")
        return v

    @field_validator("publishes", "subscribes")
    @classmethod
    def _subjects(cls, v: list[str]) -> list[str]:
        for s in v:
            if not _SUBJECT.match(s):
                raise ValueError(
                    f"{s!r} is not a NATS subject (tokens separated by '.', wildcards '*' and '>')"
                )
        return v

    def api_allows(self, version: str) -> bool:
        """Whether ``version`` of the kit plugin API is inside :attr:`kit_api`."""
        return version_in_range(version, self.kit_api)


def _vtuple(v: str) -> tuple[int, ...]:
    nums = [int(x) for x in re.findall(r"\d+", v)[:4]]
    return tuple(nums + [0] * (4 - len(nums)))


def version_in_range(version: str, spec: str) -> bool:
    """Minimal PEP 440-style check of ``version`` against ``spec`` (``>=1.0,<2``)."""
    v = _vtuple(version)
    for part in spec.split(","):
        m = re.match(r"\s*(>=|<=|==|~=|!=|<|>)\s*(.+)", part)
        if not m:
            return False
        op, other = m.group(1), _vtuple(m.group(2))
        ok = {
            ">=": v >= other,
            "<=": v <= other,
            "==": v == other,
            "!=": v != other,
            "<": v < other,
            ">": v > other,
            "~=": v >= other,
        }[op]
        if not ok:
            return False
    return True


def load_manifest(path: Path | str) -> PluginManifest:
    """Load and validate a manifest file.

    Raises:
        ConfigError: every problem as ``file:line: field: message``.
    """
    return load_model(PluginManifest, path)


def manifest_path_for_module(module: str) -> Path | None:
    """The ``kit_manifest.yaml`` next to the entry-point module ``module`` (or its package).

    ``kit_x.plugin`` → ``<dir of kit_x/plugin.py>/kit_manifest.yaml``, falling back to the
    top-level package directory. Finding the module does not import it.
    """
    candidates = [module, module.split(".")[0]]
    for mod in candidates:
        try:
            spec = importlib.util.find_spec(mod)
        except (ImportError, ValueError):
            continue
        if spec is None:
            continue
        if spec.submodule_search_locations:
            base = Path(list(spec.submodule_search_locations)[0])
        elif spec.origin:
            base = Path(spec.origin).parent
        else:
            continue
        p = base / MANIFEST_FILE
        if p.is_file():
            return p
    return None


def manifest_for_module(module: str) -> PluginManifest:
    """Load the manifest of the plugin whose entry point is ``module``.

    Raises:
        PluginError: no manifest ships with the module.
        ConfigError: the manifest is invalid.
    """
    p = manifest_path_for_module(module)
    if p is None:
        raise PluginError(f"plugin module {module!r} ships no {MANIFEST_FILE} next to it")
    return load_manifest(p)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of :class:`PluginManifest` (committed as ``manifest.schema.json``)."""
    schema = PluginManifest.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://fast-track-kit.org/schemas/kit_manifest.schema.json"
    return schema


def write_schema(path: Path = SCHEMA_FILE) -> None:
    """Regenerate the committed JSON Schema."""
    path.write_text(json.dumps(json_schema(), indent=2, sort_keys=True) + "\n")

"""The OPC UA flavour of a hardware profile (``protocol: opcua``).

OPC UA servers assign namespace *indices* at start-up, so the same PLC variable can be
``ns=3`` today and ``ns=4`` after a firmware update. A profile therefore never names an
index: a point's node is written with a namespace URI (``nsu=<uri>;s=…``) or with an alias
declared once under ``namespaces`` (``plc;s=…``), and the adapter resolves the index from the
server's NamespaceArray at every connect. Namespace 0 (the OPC UA standard nodes) may be
written plainly (``i=2258``).

Points may also be given as a browse path from the Objects folder, each element
``<alias or 0>:<BrowseName>``, for servers whose NodeIds are generated.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kit.profiles import Profile

#: OPC UA built-in scalar types a point may declare (names as in Part 6, asyncua VariantType).
DataType = Literal[
    "Boolean",
    "SByte",
    "Byte",
    "Int16",
    "UInt16",
    "Int32",
    "UInt32",
    "Int64",
    "UInt64",
    "Float",
    "Double",
    "String",
    "DateTime",
]

#: Deprecated or insecure policies: refused unless the site sets ``allow_insecure``.
SECURE_POLICIES = ("Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss")
INSECURE_POLICIES = ("None", "Basic128Rsa15", "Basic256")

_ID = re.compile(r"^(?P<type>[isgb])=(?P<id>.+)$", re.S)
_NAME = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NodeAddress(BaseModel):
    """A parsed node reference: namespace (URI, alias, or 0) and identifier (``s=…``, ``i=…``)."""

    model_config = ConfigDict(frozen=True)

    namespace: str | int
    """Namespace URI, alias from the profile's ``namespaces``, or 0 for the standard namespace."""
    id_type: Literal["i", "s", "g", "b"]
    identifier: str

    @classmethod
    def parse(cls, text: str) -> NodeAddress:
        """Parse ``nsu=<uri>;s=<id>``, ``<alias>;s=<id>`` or ``i=<n>`` (namespace 0).

        Raises:
            ValueError: a namespace index other than 0, or a malformed identifier.
        """
        text = text.strip()
        ns: str | int = 0
        rest = text
        if text.startswith("ns="):
            head, _, rest = text.partition(";")
            if head != "ns=0":
                raise ValueError(
                    f"{text!r}: namespace indices change between servers; write the namespace "
                    "by URI (nsu=<uri>;s=…) or by an alias declared under `namespaces`"
                )
        elif text.startswith("nsu="):
            head, sep, rest = text.partition(";")
            if not sep:
                raise ValueError(f"{text!r}: expected nsu=<uri>;<i|s|g|b>=<identifier>")
            ns = head[4:]
        elif not _ID.match(text):
            head, sep, rest = text.partition(";")
            if not sep:
                raise ValueError(
                    f"{text!r}: expected <alias>;s=<identifier>, nsu=<uri>;s=<identifier> or i=<n>"
                )
            ns = head
        m = _ID.match(rest)
        if not m:
            raise ValueError(
                f"{text!r}: identifier must be i=<number>, s=<string>, g=<guid> or b=<base64>"
            )
        if m["type"] == "i" and not m["id"].isdigit():
            raise ValueError(f"{text!r}: a numeric identifier (i=) must be a non-negative integer")
        return cls(namespace=ns, id_type=m["type"], identifier=m["id"])

    def __str__(self) -> str:
        if self.namespace == 0:
            return f"{self.id_type}={self.identifier}"
        return f"nsu={self.namespace};{self.id_type}={self.identifier}"


class Deadband(_Strict):
    """DataChangeFilter deadband (OPC 10000-4 §7.22.2)."""

    type: Literal["absolute", "percent"]
    """``absolute`` in the value's unit; ``percent`` of the server's EURange (the server must
    expose EURange, otherwise it rejects the item and the adapter reports why)."""
    value: float = Field(ge=0)


class OpcuaPoint(_Strict):
    """One variable of the device."""

    name: str = Field(pattern=_NAME)
    """Semantic name from docs/vocabulary.md (``count_good``, ``temperature_c``; vendor-specific
    extras start with ``x_``). It is the name published on the bus."""
    node: str | None = None
    """``nsu=<uri>;s=<id>``, ``<alias>;s=<id>`` or ``i=<n>`` (namespace 0). Exactly one of
    ``node`` and ``browse_path``."""
    browse_path: list[str] | None = None
    """Browse names from the Objects folder, each ``<alias|0>:<BrowseName>`` (aliases, never
    URIs or indices, so the colon is unambiguous)."""
    type: DataType | None = None
    """Expected OPC UA data type (the simulator serves this type)."""
    unit: str | None = None
    """Unit symbol; when empty and ``unit_from_server`` is set, read from EUInformation."""
    unit_from_server: bool = False
    """Read the unit from the variable's EngineeringUnits (EUInformation.DisplayName)."""
    sampling_interval_ms: float | None = Field(None, ge=-1)
    """Requested sampling interval; 0 = fastest, -1 = the publishing interval. Default from
    ``defaults``. The server's revised value is used and reported."""
    queue_size: int | None = Field(None, ge=0)
    deadband: Deadband | None = None
    access: Literal["read", "read_write"] = "read"
    description: str = ""

    @model_validator(mode="after")
    def _check(self) -> OpcuaPoint:
        if (self.node is None) == (self.browse_path is None):
            raise ValueError(f"point {self.name!r}: give exactly one of `node` and `browse_path`")
        if self.node is not None:
            NodeAddress.parse(self.node)
        for el in self.browse_path or []:
            ns, sep, name = el.partition(":")
            if not sep or not ns or not name:
                raise ValueError(
                    f"point {self.name!r}: browse_path element {el!r} must be <alias|0>:<BrowseName>"
                )
            if ns.isdigit() and ns != "0":
                raise ValueError(
                    f"point {self.name!r}: browse_path element {el!r}: use a namespace alias, "
                    "not an index (indices change between servers)"
                )
        return self

    @property
    def semantic(self) -> str:
        """The semantic name (the point's name): what recipes bind to."""
        return self.name


class Defaults(_Strict):
    """Subscription defaults of the profile, overridable per point."""

    publishing_interval_ms: float = Field(500, gt=0)
    sampling_interval_ms: float = Field(250, ge=-1)
    queue_size: int = Field(1, ge=0)


class Identification(_Strict):
    """Expected BuildInfo of the server (regular expressions, matched case-insensitively)."""

    manufacturer_name: str | None = None
    product_name: str | None = None
    software_version: str | None = None

    def mismatches(
        self, manufacturer_name: str, product_name: str, software_version: str
    ) -> list[str]:
        """Fields of the server's BuildInfo that do not match (empty list = this device)."""
        out = []
        for field, actual in (
            ("manufacturer_name", manufacturer_name),
            ("product_name", product_name),
            ("software_version", software_version),
        ):
            pattern = getattr(self, field)
            if pattern and not re.search(pattern, actual or "", re.I):
                out.append(f"{field} {actual!r} does not match {pattern!r}")
        return out


class SimValue(_Strict):
    """How the simulator changes one point."""

    kind: Literal["constant", "counter", "sine", "ramp", "random", "toggle", "cycle"] = "sine"
    value: Any = None
    """Constant value, or the start value of a counter/ramp."""
    min: float = 0.0
    max: float = 100.0
    period_s: float = Field(60.0, gt=0)
    step: float = 1.0
    """Increment per update (counter/ramp); a counter increments with probability ``rate``."""
    rate: float = Field(1.0, ge=0, le=1)
    values: list[Any] | None = None
    """Values visited in turn (``cycle``), each held ``period_s / len(values)``."""
    while_point: str | None = None
    """Counter/ramp: advance only while this point (e.g. ``machine_running``) is true — a
    machine makes parts only while it runs."""
    min_interval_s: float | None = Field(None, gt=0)
    """Counter: at most one increment per this many seconds (a machine's cycle is never
    faster than its ideal cycle time, so OEE performance stays ≤ 100 %)."""


class Simulation(_Strict):
    """What ``kit sim`` serves for this profile."""

    update_interval_ms: float = Field(200, gt=0)
    build_info: Identification | None = None
    """BuildInfo the simulated server reports (defaults to the profile's vendor/model)."""
    points: dict[str, SimValue] = Field(default_factory=dict)
    """Per point name; points not listed follow a default by type."""


class OpcuaProfile(Profile):
    """A hardware profile read over OPC UA."""

    protocol: Literal["opcua"] = "opcua"
    port: int = Field(4840, ge=1, le=65535)
    """Default TCP port of the server."""
    namespaces: dict[str, str] = Field(default_factory=dict)
    """Alias → namespace URI, used by points (``plc;s=…``)."""
    defaults: Defaults = Field(default_factory=Defaults)
    identification: Identification | None = None
    points: list[OpcuaPoint]
    simulation: Simulation = Field(default_factory=Simulation)
    notes: list[str] = Field(default_factory=list)
    """What a technician must do on the device (enable the server, publish variables, …)."""

    SECURE: ClassVar[tuple[str, ...]] = SECURE_POLICIES

    @field_validator("namespaces")
    @classmethod
    def _aliases(cls, v: dict[str, str]) -> dict[str, str]:
        for alias, uri in v.items():
            if not re.match(r"^[A-Za-z][A-Za-z0-9_-]*$", alias) or alias in ("ns", "nsu"):
                raise ValueError(
                    f"namespace alias {alias!r}: letters, digits, _ and - only (not ns/nsu)"
                )
            if not uri:
                raise ValueError(f"namespace alias {alias!r}: empty URI")
        return v

    @model_validator(mode="after")
    def _check_points(self) -> OpcuaProfile:
        from kit import vocabulary

        seen: set[str] = set()
        for p in self.points:
            if p.name in seen:
                raise ValueError(f"point {p.name!r} is defined twice")
            seen.add(p.name)
            msg = vocabulary.check_name(p.name) or vocabulary.check_unit(p.name, p.unit)
            if msg:
                raise ValueError(f"point {p.name!r}: {msg}")
            if p.unit is None and not p.unit_from_server and (meaning := vocabulary.lookup(p.name)):
                p.unit = meaning.unit  # the vocabulary fixes the unit of a standard name
            for ns in self._namespaces_of(p):
                if isinstance(ns, str) and ns not in self.namespaces:
                    raise ValueError(
                        f"point {p.name!r}: namespace alias {ns!r} is not declared under `namespaces` "
                        f"(declared: {', '.join(sorted(self.namespaces)) or 'none'})"
                    )
        unknown = set(self.simulation.points) - seen
        if unknown:
            raise ValueError(f"simulation.points: no such point(s): {', '.join(sorted(unknown))}")
        for name, sim in self.simulation.points.items():
            if sim.while_point is not None and sim.while_point not in seen:
                raise ValueError(
                    f"simulation.points.{name}.while_point: no point {sim.while_point!r}"
                )
        return self

    def _namespaces_of(self, p: OpcuaPoint) -> list[str | int]:
        if p.node is not None:
            # nsu= carries the URI itself; anything else non-zero is an alias to check.
            return (
                [] if p.node.strip().startswith("nsu=") else [NodeAddress.parse(p.node).namespace]
            )
        return [
            0 if el.split(":", 1)[0] == "0" else el.split(":", 1)[0] for el in p.browse_path or []
        ]

    def namespace_uri(self, ns: str | int) -> str | int:
        """Resolve an alias to its URI (URIs and 0 are returned unchanged)."""
        if isinstance(ns, str) and ns in self.namespaces:
            return self.namespaces[ns]
        return ns

    def address(self, point: OpcuaPoint) -> NodeAddress | None:
        """The point's node with its namespace alias resolved to a URI (None for browse paths)."""
        if point.node is None:
            return None
        a = NodeAddress.parse(point.node)
        return NodeAddress(
            namespace=self.namespace_uri(a.namespace), id_type=a.id_type, identifier=a.identifier
        )

    def browse_elements(self, point: OpcuaPoint) -> list[tuple[str | int, str]]:
        """The point's browse path as ``(namespace URI or 0, BrowseName)`` pairs."""
        out: list[tuple[str | int, str]] = []
        for el in point.browse_path or []:
            ns, _, name = el.partition(":")
            out.append((0 if ns == "0" else self.namespace_uri(ns), name))
        return out

    def render_points(self) -> list[str]:
        """Text lines for `kit profile show`: namespaces, defaults and every point."""
        d = self.defaults
        lines = [
            f"connect:  opc.tcp://<host>:{self.port}, publishing {d.publishing_interval_ms:g} ms, "
            f"sampling {d.sampling_interval_ms:g} ms, queue {d.queue_size}"
        ]
        lines += [f"ns:       {alias} = {uri}" for alias, uri in self.namespaces.items()]
        if self.identification:
            ident = self.identification.model_dump(exclude_none=True)
            lines.append("expects:  " + ", ".join(f"{k} ~ {v!r}" for k, v in ident.items()))
        lines.append(f"points ({len(self.points)}):")
        lines.append(
            f"  {'SEMANTIC':<32} {'TYPE':<8} {'UNIT':<6} {'SAMPLE':>7} {'DEADBAND':<12} NODE"
        )
        for p in self.points:
            db = (
                f"{p.deadband.value:g}{'%' if p.deadband.type == 'percent' else ''}"
                if p.deadband
                else "-"
            )
            where = p.node if p.node is not None else "/".join(p.browse_path or [])
            sample = (
                p.sampling_interval_ms
                if p.sampling_interval_ms is not None
                else d.sampling_interval_ms
            )
            lines.append(
                f"  {p.name:<32} {p.type or '-':<8} {p.unit or '-':<6} {sample:>7g} {db:<12} {where}"
            )
        lines += [f"note:     {n}" for n in self.notes]
        return lines

    def point(self, name: str) -> OpcuaPoint:
        """The point called ``name`` (KeyError if absent)."""
        for p in self.points:
            if p.name == name:
                return p
        raise KeyError(name)

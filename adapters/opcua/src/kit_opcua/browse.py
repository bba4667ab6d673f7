"""``kit browse``: walk a server's address space and draft an OPC UA profile.

The draft names every variable by namespace URI + identifier (never by index), with its
data type and unit (EUInformation), so the technician only has to give points semantic
names and delete what is not needed. Pure helpers (naming, YAML rendering) are separate
from the network walk so they can be tested alone.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from asyncua import Client, ua

from kit_opcua.connection import read_identity

# The server's own diagnostics: not device data.
_SKIP = {ua.NodeId(ua.ObjectIds.Server)}  # type: ignore[arg-type]
_TYPE_NAMES = {
    ua.VariantType.Boolean.value: "Boolean",
    ua.VariantType.SByte.value: "SByte",
    3: "Byte",
    4: "Int16",
    5: "UInt16",
    6: "Int32",
    7: "UInt32",
    8: "Int64",
    9: "UInt64",
    10: "Float",
    11: "Double",
    12: "String",
    13: "DateTime",
}


@dataclass
class FoundVariable:
    """One variable met while browsing."""

    path: list[str]
    """Browse names from Objects down to the variable."""
    namespace_uri: str | int
    id_type: str
    identifier: str
    data_type: str | None
    unit: str | None


def snake(text: str) -> str:
    """A point-name-shaped version of a browse name (``"Motor Speed"`` → ``motor_speed``)."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    s = re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_").lower()
    return s or "point"


def alias_for(uri: str, taken: set[str]) -> str:
    """A short alias for a namespace URI (last meaningful word), unique in ``taken``."""
    words = [
        w
        for w in re.split(r"[^A-Za-z0-9]+", uri)
        if w
        and w.lower() not in ("http", "https", "urn", "www", "com", "org", "ua", "opcfoundation")
    ]
    base = re.sub(r"[^A-Za-z0-9_-]", "", (words[-1] if words else "ns").lower())[:16] or "ns"
    if not base[0].isalpha():
        base = f"ns{base}"
    alias, n = base, 2
    while alias in taken or alias in ("ns", "nsu"):
        alias, n = f"{base}{n}", n + 1
    taken.add(alias)
    return alias


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def render_profile(
    found: list[FoundVariable], *, url: str, profile_id: str, vendor: str, model: str, version: str
) -> str:
    """The draft profile as YAML text (comments tell the technician what to do)."""
    aliases: dict[str, str] = {}
    taken: set[str] = set()
    for v in found:
        if v.namespace_uri != 0 and v.namespace_uri not in aliases:
            aliases[str(v.namespace_uri)] = alias_for(str(v.namespace_uri), taken)
    names: set[str] = set()
    lines = [
        f"# Draft written by `kit browse {url}` on {dt.date.today().isoformat()}.",
        "# Rename each x_ point to its standard semantic name from docs/vocabulary.md (count_good,",
        "# temperature_c …) where one fits, delete points you do not need,",
        "# then check it with `kit profiles` and copy it to hardware_profiles/opcua/.",
        f"id: {profile_id}",
        f"vendor: {_q(vendor or 'unknown')}",
        f"model: {_q(model or 'unknown')}",
        f"firmware: {_q(version)}" if version else "# firmware: unknown",
        "protocol: opcua",
        "category: other",
        "source:",
        f"  title: {_q(f'kit browse of {url}')}",
        "verified: false",
        "identification:",
        f"  manufacturer_name: {_q(re.escape(vendor))}" if vendor else "  manufacturer_name: null",
        f"  product_name: {_q(re.escape(model))}" if model else "  product_name: null",
        "namespaces:" if aliases else "namespaces: {}",
    ]
    lines += [f"  {a}: {_q(uri)}" for uri, a in aliases.items()]
    lines.append("points:" if found else "points: []")
    for v in found:
        # x_ (vendor-specific) keeps the draft valid until the technician picks standard names.
        name = "x_" + snake(v.path[-1])
        base, n = name, 2
        while name in names:
            name, n = f"{base}_{n}", n + 1
        names.add(name)
        ns = "" if v.namespace_uri == 0 else f"{aliases[str(v.namespace_uri)]};"
        lines.append(f"  - name: {name}   # {'/'.join(v.path)}")
        lines.append(f"    node: {_q(ns + v.id_type + '=' + v.identifier)}")
        if v.data_type:
            lines.append(f"    type: {v.data_type}")
        if v.unit:
            lines.append(f"    unit: {_q(v.unit)}")
    return "\n".join(lines) + "\n"


async def walk(client: Client, max_nodes: int = 5000, max_depth: int = 12) -> list[FoundVariable]:
    """Browse from Objects (skipping the Server object) and collect scalar variables."""
    ns_array = await client.get_namespace_array()
    found: list[FoundVariable] = []
    seen: set[ua.NodeId] = set()
    stack: list[tuple[Any, list[str], int]] = [(client.nodes.objects, [], 0)]
    while stack and len(found) < max_nodes:
        node, path, depth = stack.pop()
        if depth > max_depth:
            continue
        try:
            refs = await node.get_children_descriptions(refs=ua.ObjectIds.HierarchicalReferences)
        except ua.UaStatusCodeError:
            continue
        for ref in reversed(refs):
            nid = ref.NodeId
            if nid in seen or nid in _SKIP:
                continue
            seen.add(nid)
            child = client.get_node(nid)
            name = ref.BrowseName.Name
            if ref.NodeClass == ua.NodeClass.Variable:
                if name in ("EngineeringUnits", "EURange", "InstrumentRange"):
                    continue
                found.append(await _describe(client, child, path + [name], ns_array))
            if ref.NodeClass in (ua.NodeClass.Object, ua.NodeClass.Variable):
                stack.append((child, path + [name], depth + 1))
    return found


async def _describe(
    client: Client, node: Any, path: list[str], ns_array: list[str]
) -> FoundVariable:
    nid = node.nodeid
    uri: str | int = 0 if nid.NamespaceIndex == 0 else ns_array[nid.NamespaceIndex]
    kind = {
        ua.NodeIdType.Numeric: "i",
        ua.NodeIdType.TwoByte: "i",
        ua.NodeIdType.FourByte: "i",
        ua.NodeIdType.String: "s",
        ua.NodeIdType.Guid: "g",
        ua.NodeIdType.ByteString: "b",
    }[nid.NodeIdType]
    ident = str(nid.Identifier)
    if kind == "b":
        import base64

        ident = base64.b64encode(nid.Identifier).decode()
    dtype = None
    try:
        dt_id = await node.read_data_type()
        if dt_id.NamespaceIndex == 0:
            dtype = _TYPE_NAMES.get(dt_id.Identifier)
    except Exception:  # no DataType attribute readable: leave it for the technician
        pass
    unit = None
    try:
        eu = await node.get_child(ua.QualifiedName("EngineeringUnits", 0))
        info = await eu.read_value()
        unit = info.DisplayName.Text if info is not None else None
    except Exception:  # most variables have no EngineeringUnits
        pass
    return FoundVariable(path, uri, kind, ident, dtype, unit)


async def draft(
    client: Client, url: str, profile_id: str, max_nodes: int = 5000
) -> tuple[str, int]:
    """Browse and render: returns the YAML text and the number of variables found."""
    ident = await read_identity(client)
    found = await walk(client, max_nodes=max_nodes)
    text = render_profile(
        found,
        url=url,
        profile_id=profile_id,
        vendor=ident.manufacturer_name,
        model=ident.product_name,
        version=ident.software_version,
    )
    return text, len(found)

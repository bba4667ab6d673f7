"""Hardware profiles: the protocol-neutral envelope and the library loader.

A profile is one YAML file per device model (docs/profiles.md). The envelope (vendor,
model, source, verified, …) is validated here; the protocol-specific parts (connection,
points, simulation) by the ``Profile`` model of the adapter whose ``protocol`` matches —
an adapter component class declares ``protocol = "modbus"`` and ``Profile = ModbusProfile``
(a subclass of :class:`Profile`). So a vendor adding a protocol adds its profile format too.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from kit.errors import ConfigError
from kit.yamlfiles import load_yaml, problem, suggest, validate_data


class Source(BaseModel):
    """Where the register map comes from."""

    model_config = ConfigDict(extra="forbid")

    title: str
    """Manual or document title (and revision)."""
    section: str | None = None
    """Chapter, table or page."""
    url: str | None = None


class Profile(BaseModel):
    """Protocol-neutral part of a hardware profile. Adapters subclass it for their points."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    """Unique id, e.g. ``eastron-sdm630``; recipes and ``kit sim`` refer to it."""
    vendor: str
    model: str
    description: str = ""
    firmware: str | None = None
    """Firmware range the map applies to, e.g. ``>=2.0``."""
    protocol: str
    """Adapter protocol that reads this device: ``modbus``, ``opcua`` …"""
    category: str = "other"
    """``energy_meter``, ``drive``, ``remote_io``, ``plc``, ``sensor``, ``controller`` …"""
    source: Source
    verified: bool = False
    """True only when checked against a real device; unverified values are marked in points."""

    #: Set by the loader: file the profile came from (for messages).
    path: ClassVar[None] = None

    def semantic_points(self) -> set[str]:
        """Semantic names this profile provides (recipes bind to these)."""
        return {p.semantic for p in getattr(self, "points", []) if getattr(p, "semantic", None)}


class _Envelope(Profile):
    """Envelope check only: protocol-specific sections are accepted as-is here."""

    model_config = ConfigDict(extra="allow")


def protocol_models(host: Any) -> dict[str, type[Profile]]:
    """``protocol → Profile model`` from the registered adapter component classes."""
    out: dict[str, type[Profile]] = {}
    for reg in host.components.items.values():
        proto = getattr(reg.cls, "protocol", None)
        model = getattr(reg.cls, "Profile", None)
        if proto and isinstance(model, type) and issubclass(model, Profile):
            out[proto] = model
    return out


def load_profile(path: Path | str, host: Any) -> Profile:
    """Load and validate one profile file (envelope, then the protocol's own model).

    Raises:
        ConfigError: every problem as ``file:line: field: message``.
    """
    path = Path(path)
    root = load_yaml(path)
    name = str(path)
    if not isinstance(root, dict):
        raise ConfigError(
            f"{name}:1: (top level): a profile is a mapping with id, vendor, model, protocol, points"
        )
    models = protocol_models(host)
    proto = root.get("protocol")
    if not isinstance(proto, str) or proto not in models:  # a mapping here is unhashable
        raise ConfigError(
            f"{name}: 1 problem(s)",
            [
                problem(
                    name,
                    root,
                    ["protocol"],
                    f"unknown protocol {proto!r}{suggest(str(proto), models)}; "
                    f"installed adapters speak: {', '.join(sorted(models)) or 'none'}",
                )
            ],
        )
    return validate_data(models[proto], root, name)


class ProfileLibrary:
    """Every profile from a list of directories, the first holder of an id winning.

    ``sources`` is ``[(directory, origin)]`` in precedence order (see :mod:`kit.library`:
    ``site``, ``shipped``, ``plugin``); by default the directories plugins registered. A
    site file that uses the id of a shipped or plugin file shadows it (``shadowed``); any
    other duplicate id is a problem.
    """

    def __init__(
        self,
        host: Any,
        sources: list[tuple[Path, str]] | None = None,
        loader: Callable[[Path], Profile] | None = None,
    ) -> None:
        """``loader(path)`` loads one file (default :func:`load_profile`; the site library
        passes a per-file cache so a change re-validates only the changed file)."""
        self.host = host
        self._load = loader or (lambda f: load_profile(f, host))
        self.sources = (
            sources if sources is not None else [(Path(d), "plugin") for d in host.profile_dirs()]
        )
        self.profiles: dict[str, Profile] = {}
        self.files: dict[str, Path] = {}
        self.origins: dict[str, str] = {}
        """``id → site | shipped | plugin``."""
        self.shadowed: dict[str, list[Path]] = {}
        """``id → files`` a site profile hides (``kit profiles`` flags them)."""
        self.problems: list[str] = []

    def load(self) -> ProfileLibrary:
        """Load every ``*.yaml`` profile; invalid files are collected in ``problems``."""
        for d, origin in self.sources:
            for f in sorted(Path(d).rglob("*.yaml")):
                try:
                    prof = self._load(f)
                except ConfigError as exc:
                    self.problems.extend(exc.problems or [str(exc)])
                    continue
                if prof.id in self.profiles:
                    if self.origins[prof.id] == "site" and origin != "site":
                        self.shadowed.setdefault(prof.id, []).append(f)
                        continue
                    self.problems.append(
                        f"{f}:1: id: duplicate profile id {prof.id!r} (also in {self.files[prof.id]})"
                    )
                    continue
                self.profiles[prof.id] = prof
                self.files[prof.id] = f
                self.origins[prof.id] = origin
        return self

    def get(self, profile_id: str) -> Profile:
        """The profile ``profile_id``.

        Raises:
            ConfigError: unknown id, with the closest match.
        """
        if profile_id not in self.profiles:
            raise ConfigError(
                f"unknown profile {profile_id!r}{suggest(profile_id, self.profiles)}; "
                "`kit profiles` lists them"
            )
        return self.profiles[profile_id]

    def by_protocol(self, protocol: str) -> list[Profile]:
        """Profiles of one protocol (``modbus``, ``opcua`` …), sorted by id."""
        return [p for _, p in sorted(self.profiles.items()) if p.protocol == protocol]

    def providing(self, points: set[str] | list[str]) -> list[Profile]:
        """Profiles that provide every semantic point in ``points`` (recipes match assets by
        meaning, so one recipe fits every device with those points), sorted by id."""
        wanted = set(points)
        return [p for _, p in sorted(self.profiles.items()) if wanted <= p.semantic_points()]

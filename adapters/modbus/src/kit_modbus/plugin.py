"""The ``modbus`` adapter component and its hook implementations.

Placeholder adapter: it declares the contract (name, protocol, Profile, Config) so the profile
library can validate Modbus profiles; the polling implementation lands on the adapter branch.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

import kit
from kit.components import Adapter
from kit_modbus.profile import ModbusProfile


class ModbusConfig(BaseModel):
    """One Modbus device: which profile, and where it is."""

    model_config = ConfigDict(extra="forbid")

    profile: str
    """Hardware profile id, e.g. ``eastron-sdm630``."""
    profile_params: dict[str, Any] = Field(default_factory=dict)
    """Values for a parameterised profile (e.g. ``start_address``)."""
    host: str
    port: int | None = Field(None, ge=1, le=65535)
    """TCP port; default from the profile (502)."""
    unit_id: int | None = Field(None, ge=0, le=255)
    """Unit id; default from the profile."""
    points: list[str] | None = None
    """Subset of the profile's semantic points to poll (default: all)."""


class ModbusAdapter(Adapter):
    """Polls a Modbus device described by a hardware profile."""

    name: ClassVar[str] = "modbus"
    protocol: ClassVar[str] = "modbus"
    Profile: ClassVar[type] = ModbusProfile
    Config: ClassVar[type[BaseModel]] = ModbusConfig
    summary: ClassVar[str] = "Modbus TCP/RTU device described by a hardware profile"

    async def run(self) -> None:
        """Not implemented on this branch."""
        raise NotImplementedError("the Modbus polling loop is built on the modbus-adapter branch")


@kit.hookimpl
def register_components(register) -> None:
    """Register the Modbus adapter."""
    register.add(ModbusAdapter)

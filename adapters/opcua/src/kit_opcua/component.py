"""The registered ``opcua`` component type, without importing asyncua.

asyncua (and the cryptography it loads) adds about 67 MiB RSS and a second of import time to
every runtime, even on sites with no OPC UA server (issue 20, docs/sizing.md). The runtime
registers this light class: its name, config model and profile model are what validation,
``kit plugins`` and recipes need. Creating an instance — i.e. a site configured an OPC UA
component — imports :mod:`kit_opcua.adapter` and builds the real
:class:`~kit_opcua.adapter.OpcuaAdapter` (a subclass of this one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel

from kit.components import Adapter
from kit_opcua.config import OpcuaConfig
from kit_opcua.profile import OpcuaProfile

if TYPE_CHECKING:  # annotations only: importing these loads asyncua
    from kit_opcua.adapter import OpcuaAdapter
    from kit_opcua.simulator import OpcuaSimulator


def _impl() -> type[OpcuaAdapter]:
    from kit_opcua.adapter import OpcuaAdapter

    return OpcuaAdapter


class OpcuaComponent(Adapter[OpcuaConfig]):
    """Reads an OPC UA server with subscriptions (read-polling fallback), securely, and
    recovers by itself after server restarts and network outages."""

    name: ClassVar[str] = "opcua"
    protocol: ClassVar[str] = "opcua"
    summary: ClassVar[str] = (
        "OPC UA client: subscriptions with deadband, read fallback, certificate trust, auto-recovery"
    )
    Config: ClassVar[type[BaseModel]] = OpcuaConfig
    Profile: ClassVar[type] = OpcuaProfile

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        # The real adapter subclasses this class, so Python then runs its __init__ as usual.
        return super().__new__(_impl() if cls is OpcuaComponent else cls)

    @classmethod
    async def test_connection(cls, config: BaseModel, library: Any = None) -> str:
        """See :meth:`kit_opcua.adapter.OpcuaAdapter.test_connection`. ``library`` is passed
        on: its data directory holds the site's certificate store and profiles."""
        return await _impl().test_connection(config, library=library)

    scan_ports: ClassVar[tuple[int, ...]] = (4840,)
    """Ports ``kit scan`` tries as OPC UA without being told."""

    @classmethod
    def scan_prepare(cls) -> None:
        """``kit scan`` calls this before its sweep, outside the event loop: importing asyncua
        takes seconds on a small host, and inside the sweep that stalls every other
        connection until their connects time out."""
        import kit_opcua.scan  # noqa: F401

    @classmethod
    async def scan_endpoint(cls, host: str, port: int, **kw: Any) -> dict[str, Any]:
        """``kit scan``: GetEndpoints of one server (:func:`kit_opcua.scan.scan_endpoint`;
        the certificate is reported, never trusted). Imports asyncua only when called."""
        from kit_opcua.scan import scan_endpoint

        return await scan_endpoint(host, port, **kw)

    @classmethod
    def simulator(
        cls, profile: OpcuaProfile, host: str = "127.0.0.1", port: int = 0, **options: Any
    ) -> OpcuaSimulator:
        """See :meth:`kit_opcua.adapter.OpcuaAdapter.simulator`."""
        return _impl().simulator(profile, host=host, port=port, **options)

"""Hook implementations of the OPC UA plugin: the component, CLI commands, control endpoints."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import kit

if TYPE_CHECKING:
    from kit_opcua.pki import Pki


@kit.hookimpl
def register_components(register: Any) -> None:
    """Register the ``opcua`` adapter (light class: asyncua loads only when one is configured)."""
    from kit_opcua.component import OpcuaComponent

    register.add(OpcuaComponent)


@kit.hookimpl
def register_commands(cli: Any) -> None:
    """Add ``kit opcua certs|trust|reject`` and ``kit browse``."""
    from kit_opcua.cli import browse, opcua

    cli.add_command(opcua)
    cli.add_command(browse)


def _pki(runtime: Any) -> Pki:
    from kit_opcua.pki import Pki

    return Pki(runtime.settings.data_dir)


@kit.hookimpl
def register_endpoints(api: Any, runtime: Any) -> None:
    """``opcua.certs.list``, ``opcua.certs.trust {thumbprint}``, ``opcua.certs.reject {thumbprint}``."""

    from kit_opcua import api as opcua_api

    async def certs_list(_body: Any) -> dict[str, Any]:
        pki = _pki(runtime)
        own = None
        if pki.cert_file.is_file():
            from kit_opcua.pki import load_cert, thumbprint

            c = load_cert(pki.cert_file)
            own = {
                "thumbprint": thumbprint(c),
                "subject": c.subject.rfc4514_string(),
                "file": str(pki.cert_file),
                "not_after": c.not_valid_after_utc.isoformat(),
            }
        return {"own": own, "certificates": [c.as_dict() for c in pki.list()]}

    async def certs_trust(b: opcua_api.ThumbprintRequest) -> dict[str, Any]:
        return _pki(runtime).trust(b.thumbprint).as_dict()

    async def certs_reject(b: opcua_api.ThumbprintRequest) -> dict[str, Any]:
        return _pki(runtime).reject(b.thumbprint).as_dict()

    api.add(opcua_api.LIST, certs_list)
    api.add(opcua_api.TRUST, certs_trust)
    api.add(opcua_api.REJECT, certs_reject)

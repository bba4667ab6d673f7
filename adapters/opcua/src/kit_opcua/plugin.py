"""Hook implementations of the OPC UA plugin: the component, CLI commands, control endpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kit
from kit.errors import KitError

#: The running runtime's data directory (set by ``runtime_started``); components use it for pki/.
RUNTIME_DATA_DIR: Path | None = None


@kit.hookimpl
def register_components(register: Any) -> None:
    """Register the ``opcua`` adapter (light class: asyncua loads only when one is configured)."""
    from kit_opcua.component import OpcuaComponent

    register.add(OpcuaComponent)


@kit.hookimpl
def runtime_started(runtime: Any) -> None:
    """Remember the data directory so every OPC UA component shares one certificate store."""
    global RUNTIME_DATA_DIR
    RUNTIME_DATA_DIR = Path(runtime.settings.data_dir)


@kit.hookimpl
def register_commands(cli: Any) -> None:
    """Add ``kit opcua certs|trust|reject`` and ``kit browse``."""
    from kit_opcua.cli import browse, opcua

    cli.add_command(opcua)
    cli.add_command(browse)


def _pki(runtime: Any):
    from kit_opcua.pki import Pki

    return Pki(runtime.settings.data_dir)


@kit.hookimpl
def register_endpoints(api: Any, runtime: Any) -> None:
    """``opcua.certs.list``, ``opcua.certs.trust {thumbprint}``, ``opcua.certs.reject {thumbprint}``."""

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

    def _thumb(body: Any) -> str:
        t = (body or {}).get("thumbprint") if isinstance(body, dict) else None
        if not t or not isinstance(t, str):
            raise KitError('give {"thumbprint": "<hex>"} (see opcua.certs.list)')
        return t

    async def certs_trust(body: Any) -> dict[str, Any]:
        return _pki(runtime).trust(_thumb(body)).as_dict()

    async def certs_reject(body: Any) -> dict[str, Any]:
        return _pki(runtime).reject(_thumb(body)).as_dict()

    api.add("opcua.certs.list", certs_list)
    api.add("opcua.certs.trust", certs_trust)
    api.add("opcua.certs.reject", certs_reject)

"""JSON Schema of Modbus hardware profiles, for editor completion and validation.

``hardware_profiles/schema/modbus-profile.schema.json`` is generated from
:class:`kit_modbus.profile.ModbusProfile`; regenerate with
``uv run python -m kit_modbus.profile_schema`` (a test fails when the file is stale).
Profiles point at it with ``# yaml-language-server: $schema=schema/modbus-profile.schema.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kit.builtin import shipped_dir
from kit_modbus.profile import ModbusProfile

SCHEMA_ID = "urn:fast-track-kit:schema:modbus-profile"


def schema_path() -> Path:
    """Where the schema file lives (next to the shipped profiles)."""
    return shipped_dir("hardware_profiles") / "schema" / "modbus-profile.schema.json"


def render() -> str:
    """The schema as stable, pretty-printed JSON text."""
    schema = ModbusProfile.model_json_schema(mode="validation")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}
    return json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the schema file (or, with ``--check``, exit 1 when it is stale)."""
    argv = sys.argv[1:] if argv is None else argv
    path = schema_path()
    text = render()
    if "--check" in argv:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            print(
                f"{path} is stale; run: uv run python -m kit_modbus.profile_schema", file=sys.stderr
            )
            return 1
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

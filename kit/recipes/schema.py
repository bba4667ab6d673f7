"""JSON Schema of the recipe format, written to ``recipes/schema/recipe.schema.json``.

Editors (VS Code with the YAML extension) use it for completion and inline errors; a test
keeps the committed file identical to what the models generate. Regenerate with
``python -m kit.recipes.schema``.
"""

from __future__ import annotations

import json
from pathlib import Path

from kit.builtin import shipped_dir
from kit.recipes.model import Recipe


def schema_text() -> str:
    """The schema as formatted JSON text (stable key order, trailing newline)."""
    schema = Recipe.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_path() -> Path:
    """Where the committed schema lives."""
    return shipped_dir("recipes") / "schema" / "recipe.schema.json"


def main() -> None:
    """Write the schema file."""
    path = schema_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

"""Readable ``key: value`` lines for nested data (deployment records, device identities).

Detail panes used to print nested values as Python dicts or compact JSON
(``{'host': '10.0.0.5', 'port': 502}``); a technician reads indented fields instead.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape

#: Lines at most (a detail pane is a few rows high; the rest is summarised).
MAX_LINES = 40


def scalar(value: Any) -> str:
    """One value as text: ``yes``/``no`` for booleans, ``—`` for nothing, floats without noise."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list, tuple))


def field_lines(data: Any, indent: int = 0, markup: bool = True) -> list[str]:
    """``key: value`` lines for ``data``; nested mappings and lists indented below their key.

    A list of plain values stays on one line (``a, b, c``); a list of mappings becomes ``•``
    items. Keys are bold when ``markup`` (Rich markup, values escaped).
    """
    pad = "  " * indent
    out: list[str] = []

    def key(k: Any) -> str:
        return f"[b]{escape(str(k))}[/b]" if markup else str(k)

    def val(v: Any) -> str:
        return escape(scalar(v)) if markup else scalar(v)

    if isinstance(data, dict):
        for k, v in data.items():
            if _is_scalar(v):
                out.append(f"{pad}{key(k)}: {val(v)}")
            elif isinstance(v, (list, tuple)) and all(_is_scalar(x) for x in v):
                out.append(f"{pad}{key(k)}: {', '.join(val(x) for x in v) or '—'}")
            elif not v:
                out.append(f"{pad}{key(k)}: —")
            else:
                out.append(f"{pad}{key(k)}:")
                out += field_lines(v, indent + 1, markup)
    elif isinstance(data, (list, tuple)):
        for item in data:
            if _is_scalar(item):
                out.append(f"{pad}• {val(item)}")
            else:
                inner = field_lines(item, indent + 1, markup)
                if inner:
                    out.append(f"{pad}• {inner[0].lstrip()}")
                    out += inner[1:]
    else:
        out.append(f"{pad}{val(data)}")
    if indent == 0 and len(out) > MAX_LINES:
        out = [*out[:MAX_LINES], f"… {len(out) - MAX_LINES} more line(s)"]
    return out

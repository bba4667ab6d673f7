"""Tables the screens share: a row-cursor :class:`DataTable` built from (key, label) pairs."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.widgets import DataTable


def row_table(table_id: str, columns: Iterable[tuple[str, str]], **options: Any) -> DataTable:
    """A DataTable with a row cursor and ``columns`` as ``(key, label)`` pairs, in order.

    The column keys are what the screens update cells by, so they stay stable when a
    label is reworded."""
    table: DataTable = DataTable(id=table_id, cursor_type="row", **options)
    for key, label in columns:
        table.add_column(label, key=key)
    return table

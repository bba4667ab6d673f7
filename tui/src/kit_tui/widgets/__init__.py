"""Reusable widgets of the TUI (each with its own DEFAULT_CSS)."""

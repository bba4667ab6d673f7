"""Textual-free data layer of the TUI: the live store, the runtime link, formatting.

Nothing in this package imports textual, so it is unit-testable on its own and could be
reused by another front end.
"""

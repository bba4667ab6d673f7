"""Synthetic machine signals for Fast-Track Kit (a plugin like any other)."""

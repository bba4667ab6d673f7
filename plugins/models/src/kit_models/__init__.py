"""Governed anomaly models: signed model files, shadow/promote, drift and rule fallback."""

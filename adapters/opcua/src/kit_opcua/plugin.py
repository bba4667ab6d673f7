"""Hook implementations of the OPC UA plugin (placeholder, filled below)."""

"""Modbus adapter, profiles, simulator and probe for Fast-Track Kit."""

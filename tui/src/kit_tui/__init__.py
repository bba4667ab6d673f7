"""Fast-Track Kit terminal UI."""

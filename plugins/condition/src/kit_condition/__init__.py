"""Fast-Track Kit condition plugin."""

"""Fast-Track Kit alarms plugin."""

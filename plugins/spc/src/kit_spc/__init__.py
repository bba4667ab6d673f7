"""Fast-Track Kit spc plugin."""

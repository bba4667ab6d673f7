"""kit-energy: energy monitoring for Fast-Track Kit (component ``energy``)."""

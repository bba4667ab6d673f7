"""OPC UA adapter plugin for Fast-Track Kit (asyncua 2.x)."""

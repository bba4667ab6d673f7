"""kit-oee: OEE per ISO 22400-2 for Fast-Track Kit (component ``oee``)."""

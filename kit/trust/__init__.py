"""The trust layer: plugin manifests, certification, signatures, bus permissions, guarded writes.

Small modules by concern:

* :mod:`kit.trust.manifest` — the plugin manifest model (``kit_manifest.yaml``) and loader.
* :mod:`kit.trust.signing` — Ed25519 keys, ``sign_bytes``/``verify_bytes``, ``sign_tree``/``verify_tree``.
* :mod:`kit.trust.truststore` — certifier and vendor public keys in the data directory.
* :mod:`kit.trust.verify` — Signed / Unsigned / Invalid / Modified status of installed plugins
  and the site policy deciding what loads.
* :mod:`kit.trust.busauth` — NATS users and per-component permissions for the embedded server.
* :mod:`kit.trust.audit` — IEC 62443-4-2 CR 2.8 audit events on ``KIT_EVENTS``.
* :mod:`kit.trust.writes` — guarded device writes (``kit.cmd.*``).
* :mod:`kit.trust.certify` — the conformance suite behind ``kit certify``.
* :mod:`kit.trust.scaffold` — ``kit plugin new``.
"""

from kit import API_VERSION

#: Version of the plugin API the kit offers (``kit.API_VERSION``); manifests declare a range (``kit_api``).
KIT_API_VERSION = API_VERSION

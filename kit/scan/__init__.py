"""Scan: find what is on the network (``kit scan``), the site's front door.

Protocol-neutral orchestration lives here: target parsing (:mod:`kit.scan.targets`), the
shared rate limit (:mod:`kit.scan.pace`), the bounded concurrent sweep
(:mod:`kit.scan.sweep`) and the saved result, the site's inventory
(:mod:`kit.scan.inventory`). What a protocol endpoint *is* — which unit ids answer, which
profile fits — is asked of the adapter component class that speaks the protocol, through
its ``scan_endpoint`` classmethod and ``scan_ports`` (kit core never imports adapters).

From the inventory to a decision: which recipes fit which devices and what they may be
worth (:mod:`kit.scan.opportunities`, :mod:`kit.scan.business` with the sourced figures of
:mod:`kit.scan.evidence`), the site questionnaire (:mod:`kit.scan.questionnaire`), the
readiness assessment (:mod:`kit.scan.readiness`) and the Scan report
(:mod:`kit.scan.report`, :mod:`kit.scan.report_html`).
"""

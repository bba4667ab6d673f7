"""kit-notify: alarm and work-order notifications (e-mail, webhook, MQTT) for Fast-Track Kit
(sink ``notify``)."""

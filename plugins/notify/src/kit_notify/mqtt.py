"""MQTT out: the ``mqtt`` notification route (one QoS 1 publish per event).

Uses aiomqtt (asyncio, over paho-mqtt). NATS's own MQTT listener keeps retained messages only
for messages published over MQTT, so the kit publishes over MQTT too (also to the embedded
server's listener), never by injecting into NATS's internal retained-message stream.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import aiomqtt
import orjson

from kit.components import ComponentContext
from kit.errors import KitError
from kit_notify.config import MqttRoute
from kit_notify.senders import Permanent, Retryable


def embedded_broker(ctx: ComponentContext, port: int | None = None) -> dict[str, Any]:
    """aiomqtt connection options for the embedded server's MQTT listener.

    Its port is advertised in ``<data_dir>/runtime.json``; the login is the component's own
    bus user, so the manifest's permissions (publish ``kit.out.>``) apply over MQTT too.

    Raises:
        KitError: the embedded server has no MQTT listener.
    """
    info: dict[str, Any] = {}
    if ctx.data_dir is not None:
        with contextlib.suppress(OSError, ValueError):
            info = json.loads((ctx.data_dir / "runtime.json").read_text())
    port = port or info.get("mqtt_port")
    if not port:
        raise KitError(
            f"{ctx.name}: the embedded server has no MQTT listener; set nats.mqtt_port "
            "(e.g. 1883) in the site settings, or give host and port of a broker"
        )
    opts = getattr(getattr(ctx.bus, "nc", None), "options", {}) or {}
    return {
        "hostname": "127.0.0.1",
        "port": int(port),
        "username": opts.get("user"),
        "password": opts.get("password"),
    }


_LOGIN_REFUSED = {4, 5, 134, 135}


def topic_for(route: MqttRoute, event: dict[str, Any]) -> str:
    """The route's topic for ``event`` (MQTT topics have no wildcards when publishing)."""
    t = route.topic.format(
        route=route.name,
        kind=event.get("kind", ""),
        type=event.get("type", ""),
        severity=event.get("severity", ""),
        asset=event.get("asset", ""),
    )
    return t.replace("#", "_").replace("+", "_")


async def publish_event(
    route: MqttRoute, key: str, event: dict[str, Any], broker: dict[str, Any]
) -> None:
    """Publish one event as JSON at QoS 1 (waits for the broker's PUBACK).

    Raises:
        Retryable: no connection or no acknowledgement.
        Permanent: the broker refused the login (wrong user or password).
    """
    body = orjson.dumps({"idempotency_key": key, "route": route.name, "event": event})
    where = f"MQTT {broker['hostname']}:{broker['port']}"
    try:
        async with aiomqtt.Client(
            identifier=f"kit-notify-{route.name}", timeout=route.timeout_s, **broker
        ) as client:
            await client.publish(
                topic_for(route, event), body, qos=1, retain=route.retain, timeout=route.timeout_s
            )
    except aiomqtt.MqttCodeError as exc:
        rc = getattr(exc.rc, "value", exc.rc)
        # Refused login (MQTT 3.1.1 CONNACK 4/5, MQTT 5 reason 134/135): fix the account.
        if rc in _LOGIN_REFUSED:
            raise Permanent(f"{where}: login refused: {exc}") from None
        raise Retryable(f"{where}: {exc}") from None
    except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
        raise Retryable(f"{where}: {exc}") from None

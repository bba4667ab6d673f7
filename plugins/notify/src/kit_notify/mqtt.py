"""MQTT out: the ``mqtt`` notification route (one QoS 1 publish per event).

Uses aiomqtt (asyncio, over paho-mqtt). NATS's own MQTT listener keeps retained messages only
for messages published over MQTT, so the kit publishes over MQTT too (also to the embedded
server's listener), never by injecting into NATS's internal retained-message stream.
"""

from __future__ import annotations

from typing import Any

import aiomqtt
import orjson

from kit_notify.config import MqttRoute
from kit_notify.senders import Permanent, Retryable


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
    route: MqttRoute, key: str, event: dict[str, Any], password: str | None
) -> None:
    """Publish one event as JSON at QoS 1 (waits for the broker's PUBACK).

    Raises:
        Retryable: no connection or no acknowledgement.
        Permanent: the broker refused the login (wrong user or password).
    """
    body = orjson.dumps({"idempotency_key": key, "route": route.name, "event": event})
    try:
        async with aiomqtt.Client(
            route.host,
            route.port,
            username=route.user,
            password=password,
            identifier=f"kit-notify-{route.name}",
            timeout=route.timeout_s,
        ) as client:
            await client.publish(
                topic_for(route, event), body, qos=1, retain=route.retain, timeout=route.timeout_s
            )
    except aiomqtt.MqttCodeError as exc:
        if "authori" in str(exc).lower() or "credential" in str(exc).lower():
            raise Permanent(f"MQTT {route.host}:{route.port}: {exc}") from None
        raise Retryable(f"MQTT {route.host}:{route.port}: {exc}") from None
    except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
        raise Retryable(f"MQTT {route.host}:{route.port}: {exc}") from None

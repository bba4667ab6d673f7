"""The ``kpi-topics`` sink: one retained MQTT topic per KPI *and window*.

On the bus a KPI subject (``kit.kpi.<asset>.<kpi>``) carries every window of that KPI: the
energy plugin publishes this hour's, today's and this shift's kWh on the same subject, so an
MQTT gauge on ``kit/kpi/…/energy_kwh`` jumped between them. This sink republishes each KPI
value on its own topic per window class, **retained**, so a tool that connects later gets the
last value at once:

``kit/out/kpi/<site>/<area>/<line>/<asset>/<kpi>/<window>``

``<window>`` is the window label's class: ``hour``, ``day``, ``shift``, ``demand``,
``rolling`` …, and ``now`` for a KPI without a window (the topic map, docs/integrations.md).
A value that closes its window (``final: true``) is also kept on ``…/<window>/final``.
Values are coalesced per topic: if the broker is slower than the KPIs, only the newest value
of each topic is sent (a last-value feed, not a history; use the historian for that).
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
from typing import Any, ClassVar, Literal

import aiomqtt
import orjson
from pydantic import BaseModel, ConfigDict, Field

from kit import codec, subjects
from kit.backoff import Backoff
from kit.components import ComponentContext, Sink
from kit.payloads import KpiValue
from kit_notify.mqtt import embedded_broker
from kit_notify.secrets import get_secret

#: Topic root of the kit's MQTT output (NATS subjects ``kit.out.kpi.>``: outside every
#: stream, so these retained copies never mix with the KIT_KPI history).
TOPIC_ROOT = "kit/out/kpi"


def window_class(window: str | None) -> str:
    """``hour:2026-12-06T05`` → ``hour``, ``shift:2026-11-22/early`` → ``shift``, none → ``now``."""
    if not window:
        return "now"
    return subjects.sanitize_token(window.split(":", 1)[0]) or "now"


def topic_of(kv: KpiValue) -> str:
    """The MQTT topic of one KPI value."""
    return f"{TOPIC_ROOT}/{kv.asset}/{subjects.sanitize_token(kv.kpi)}/{window_class(kv.window)}"


def payload_of(kv: KpiValue) -> bytes:
    """The retained JSON: value, unit, time, the full window label and bounds, quality."""
    doc = {
        "value": kv.value,
        "unit": kv.unit,
        "ts": kv.ts,
        "window": kv.window,
        "window_start": kv.window_start,
        "window_end": kv.window_end,
        "final": kv.attrs.get("final"),
        "quality": kv.quality,
        "asset": kv.asset,
        "kpi": kv.kpi,
    }
    return orjson.dumps({k: v for k, v in doc.items() if v is not None})


class KpiTopicsConfig(BaseModel):
    """Which KPIs go out, and to which MQTT broker."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    kpis: list[str] = Field(default_factory=list)
    """Only these KPI names (e.g. ``oee``, ``energy_kwh``); empty: all."""
    assets: list[str] = Field(default_factory=list)
    """Only assets matching these patterns (``*`` wildcards); empty: all."""
    host: str | None = None
    """MQTT broker; default: the embedded server's MQTT listener (``nats.mqtt_port``)."""
    port: int | None = Field(None, ge=1, le=65535)
    user: str | None = None
    """Login at an external broker (the embedded one uses the component's own bus user)."""
    password_secret: str | None = None
    """Name of the sealed secret with the external broker's password (kit notify secret set)."""
    qos: Literal[0, 1] = 1


class KpiTopics(Sink[KpiTopicsConfig]):
    """Republishes KPIs as retained MQTT messages, one topic per KPI and window."""

    name: ClassVar[str] = "kpi-topics"
    summary: ClassVar[str] = "KPIs to MQTT: one retained topic per KPI and window (kit/out/kpi/#)"
    Config: ClassVar[type[BaseModel]] = KpiTopicsConfig

    def __init__(self, config: KpiTopicsConfig, ctx: ComponentContext) -> None:
        super().__init__(config, ctx)
        self.latest: dict[str, bytes] = {}
        """Topic → newest payload not yet published (coalesced)."""
        self._more = asyncio.Event()
        self.counts = {"received": 0, "published": 0, "coalesced": 0, "connects": 0}
        self.connected = False
        self.last_error = ""

    def _broker(self) -> dict[str, Any]:
        cfg = self.config
        if cfg.host is not None:
            pw = get_secret(self.ctx.data_dir, cfg.password_secret) if cfg.password_secret else None
            return {
                "hostname": cfg.host,
                "port": cfg.port or 1883,
                "username": cfg.user,
                "password": pw,
            }
        return embedded_broker(self.ctx, cfg.port)

    async def run(self) -> None:
        """Subscribe to every KPI, then publish the newest value per topic until cancelled."""
        broker = self._broker()
        sub = await self.ctx.bus.subscribe(
            f"{subjects.KPI_PREFIX}.>", codec.decode_kpi, self._on_kpi
        )
        retry = Backoff(0.5, 30.0, clock=self.ctx.clock)
        try:
            while True:
                try:
                    await self._publish_loop(broker)
                except (aiomqtt.MqttError, OSError, TimeoutError) as exc:
                    self.connected = False
                    self.last_error = f"{broker['hostname']}:{broker['port']}: {exc}"
                    if retry.failures == 0:
                        self.ctx.log.warning("kpi-topics: MQTT broker lost (%s); retrying", exc)
                    await retry.wait()
                else:
                    retry.reset()
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _on_kpi(self, kv: KpiValue, _msg: Any) -> None:
        cfg = self.config
        if cfg.kpis and kv.kpi not in cfg.kpis:
            return
        if cfg.assets and not any(fnmatch.fnmatchcase(kv.asset, p) for p in cfg.assets):
            return
        self.counts["received"] += 1
        topic = topic_of(kv)
        if topic in self.latest:
            self.counts["coalesced"] += 1
        payload = self.latest[topic] = payload_of(kv)
        if kv.attrs.get("final") is True:
            # The last closed window stays readable while the next one is running
            # ("last shift's OEE" beside "this shift's so far").
            self.latest[f"{topic}/final"] = payload
        self._more.set()

    async def _publish_loop(self, broker: dict[str, Any]) -> None:
        async with aiomqtt.Client(
            identifier=f"kit-{subjects.sanitize_token(self.ctx.name)}", timeout=10, **broker
        ) as client:
            self.connected = True
            self.counts["connects"] += 1
            while True:
                await self._more.wait()
                self._more.clear()
                while self.latest:
                    topic = next(iter(self.latest))
                    payload = self.latest.pop(topic)
                    try:
                        await client.publish(topic, payload, qos=self.config.qos, retain=True)
                    except BaseException:
                        self.latest.setdefault(topic, payload)  # not lost: sent on reconnect
                        self._more.set()
                        raise
                    self.counts["published"] += 1

    def metrics(self) -> dict[str, Any]:
        """KPI values received, published and coalesced; broker connection."""
        return {
            **self.counts,
            "connected": self.connected,
            "topics_waiting": len(self.latest),
            "last_error": self.last_error,
        }

"""Fault injection for adapters: a TCP proxy between the adapter and its simulator.

The proxy makes faults protocol-neutral and measurable: it cuts connections and refuses new
ones (disconnect; counting reconnect attempts to detect a storm), delays every chunk (slow
responses); the simulator itself is stopped and started again on the same port (server
restart) and, if the plugin's ``kit_quality.yaml`` names one, its exception-injection method
is called (e.g. Modbus exception codes). After each fault the adapter must publish quality
``bad`` and then good data again without anyone touching it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

from kit import subjects
from kit.aio import wait_for
from kit.settings import ComponentSpec
from kit.trust.certify.rules import QualityFile

OUTAGE_S = 5.0
BAD_TIMEOUT_S = 15.0
RECOVER_TIMEOUT_S = 25.0
#: More connection attempts per second than this during an outage is a reconnect storm.
STORM_RATE = 2.0


class FaultProxy:
    """A loopback TCP proxy that can cut, refuse and delay."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.up_host, self.up_port = upstream_host, upstream_port
        self.refuse = False
        self.delay = 0.0
        self.attempts = 0
        self.port = 0
        self._server: asyncio.AbstractServer | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        """Listen on 127.0.0.1 and a free port."""
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.attempts += 1
        if self.refuse:
            writer.close()
            return
        try:
            ur, uw = await asyncio.open_connection(self.up_host, self.up_port)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, uw}

        async def pump(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    if self.delay:
                        await asyncio.sleep(self.delay)  # the injected slowness itself
                    w.write(data)
                    await w.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                w.close()

        await asyncio.gather(pump(reader, uw), pump(ur, writer), return_exceptions=True)
        self._writers -= {writer, uw}

    def cut(self) -> None:
        """Close every open connection."""
        for w in list(self._writers):
            with contextlib.suppress(Exception):
                w.close()
        self._writers.clear()

    async def stop(self) -> None:
        """Stop listening and close everything."""
        self.cut()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await wait_for(self._server.wait_closed(), 2)


class _Watch:
    """Qualities seen on the adapter's data subject."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str]] = []  # (monotonic, "good" | "bad")

    def on_batch(self, data: bytes) -> None:
        try:
            pts = json.loads(data).get("points", [])
        except ValueError:
            return
        if not pts:
            return
        state = "good" if all(p.get("quality", "good") == "good" for p in pts) else "bad"
        self.events.append((time.monotonic(), state))

    async def wait(self, state: str, after: float, timeout: float) -> float | None:
        """Seconds until a batch with ``state`` after ``after``; None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ts, s in self.events:
                if ts >= after and s == state:
                    return ts - after
            await asyncio.sleep(0.05)  # polling an observable list
        return None


def _fill(obj: Any, values: dict[str, Any]) -> Any:
    if isinstance(obj, str):
        for k, v in values.items():
            if obj == "{" + k + "}":
                return v
            obj = obj.replace("{" + k + "}", str(v))
        return obj
    if isinstance(obj, dict):
        return {k: _fill(v, values) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_fill(v, values) for v in obj]
    return obj


def make_fault_runner(
    quality: QualityFile, comps: dict[str, Any], specs: list[ComponentSpec]
) -> Any:
    """A coroutine function ``run(runtime) -> dict`` for the first adapter spec using ``{sim_…}``, or None."""
    spec = next(
        (s for s in specs if "{sim_" in repr(s.config) and comps[s.type].cls.kind == "adapter"),
        None,
    )
    if spec is None:
        return None
    cls = comps[spec.type].cls
    if not hasattr(cls, "simulator"):
        return None
    simcfg = quality.certify.simulator

    async def run(rt: Any) -> dict[str, Any]:
        sim = cls.simulator(
            simcfg.profile if simcfg else None, **(simcfg.options if simcfg else {})
        )
        await sim.start()
        proxy = FaultProxy(sim.host, sim.port)
        await proxy.start()
        url = str(getattr(sim, "url", "") or "").replace(f":{sim.port}", f":{proxy.port}")
        filled = spec.model_copy(
            update={
                "config": _fill(
                    spec.config, {"sim_host": "127.0.0.1", "sim_port": proxy.port, "sim_url": url}
                )
            }
        )
        watch = _Watch()
        subj = subjects.data_subject(
            subjects.AssetPath.parse(filled.asset or "cert/area/line/asset")
        )

        async def on_msg(msg: Any) -> None:
            watch.on_batch(msg.data)

        sub = await rt.bus.nc.subscribe(subj, cb=on_msg)
        phases: dict[str, dict[str, Any]] = {}
        try:
            await rt.add_component(filled)
            t0 = time.monotonic()
            first = await watch.wait("good", t0, RECOVER_TIMEOUT_S)
            phases["baseline"] = {"ok": first is not None, "good_after_s": first}
            if first is None:
                inst = rt.supervisor.instances.get(filled.name)
                info = inst.summary() if inst is not None else {}
                return {
                    "passed": False,
                    "phases": phases,
                    "instance": info,
                    "summary": f"no good data from the simulator within {RECOVER_TIMEOUT_S:.0f} s "
                    f"(status {info.get('status')}, last error {info.get('last_error')}, "
                    f"batches seen {len(watch.events)})",
                }

            # 1. disconnect: cut and refuse for OUTAGE_S, count reconnect attempts
            t = time.monotonic()
            proxy.refuse, before = True, proxy.attempts
            proxy.cut()
            bad = await watch.wait("bad", t, BAD_TIMEOUT_S)
            await asyncio.sleep(
                max(0.0, OUTAGE_S - (time.monotonic() - t))
            )  # keep the outage going
            rate = (proxy.attempts - before) / max(time.monotonic() - t, 0.001)
            proxy.refuse = False
            t2 = time.monotonic()
            rec = await watch.wait("good", t2, RECOVER_TIMEOUT_S)
            phases["disconnect"] = {
                "ok": bad is not None and rec is not None and rate <= STORM_RATE,
                "bad_after_s": bad,
                "recovered_after_s": rec,
                "reconnect_attempts_per_s": round(rate, 2),
            }
            # 2. slow responses
            t = time.monotonic()
            proxy.delay = 5.0
            proxy.cut()  # in-flight requests see the new delay
            bad = await watch.wait("bad", t, BAD_TIMEOUT_S)
            proxy.delay = 0.0
            proxy.cut()
            t2 = time.monotonic()
            rec = await watch.wait("good", t2, RECOVER_TIMEOUT_S)
            phases["slow"] = {
                "ok": bad is not None and rec is not None,
                "bad_after_s": bad,
                "recovered_after_s": rec,
            }
            # 3. server restart on the same port
            t = time.monotonic()
            await sim.stop()
            bad = await watch.wait("bad", t, BAD_TIMEOUT_S)
            sim.port = proxy.up_port
            with contextlib.suppress(Exception):
                sim.requested_port = proxy.up_port
            await sim.start()
            t2 = time.monotonic()
            rec = await watch.wait("good", t2, RECOVER_TIMEOUT_S)
            phases["restart"] = {
                "ok": bad is not None and rec is not None and sim.port == proxy.up_port,
                "bad_after_s": bad,
                "recovered_after_s": rec,
            }
            # 4. exception responses (protocol-specific, named in kit_quality.yaml)
            exc = simcfg.exception if simcfg else None
            if exc:
                t = time.monotonic()
                getattr(sim, exc["method"])(*exc.get("args", []))
                bad = await watch.wait("bad", t, BAD_TIMEOUT_S)
                if exc.get("clear"):
                    getattr(sim, exc["clear"])(*exc.get("clear_args", []))
                t2 = time.monotonic()
                rec = await watch.wait("good", t2, RECOVER_TIMEOUT_S)
                phases["exception"] = {
                    "ok": bad is not None and rec is not None,
                    "bad_after_s": bad,
                    "recovered_after_s": rec,
                }
            else:
                phases["exception"] = {
                    "ok": False,
                    "detail": "no exception injection named in kit_quality.yaml "
                    "(certify.simulator.exception)",
                }
        finally:
            await sub.unsubscribe()
            await proxy.stop()
            with contextlib.suppress(Exception):
                await sim.stop()
        passed = all(p.get("ok") for p in phases.values())
        summary = "; ".join(
            f"{k}: {'ok' if v.get('ok') else 'FAILED'} "
            + ", ".join(f"{a}={b}" for a, b in v.items() if a != "ok")
            for k, v in phases.items()
        )
        return {"passed": passed, "summary": summary, "phases": phases}

    return run

"""Lines: the shared connection(s) to one TCP endpoint, gateway or serial port.

Every device behind the same ``host:port`` (a gateway with several unit ids) or the same
serial port uses ONE :class:`Line`, shared by all adapter instances in the process through
:data:`LINES`. A line serialises requests (one request in flight on a serial line or an
RTU-over-TCP gateway; at most ``max_connections`` on a TCP endpoint, default 1), owns the
reconnect backoff (so a dead endpoint sees one connection attempt per backoff step, not a
storm), and folds every pymodbus failure — exceptions *and* ``isError()`` responses — into
the kit's error tree:

* no answer in time → :class:`kit.errors.DeviceTimeout` (reason ``timeout``)
* exception response → :class:`kit.errors.DeviceRejected` with ``code`` N (``modbus_exception_N``)
* cannot connect / connection lost → :class:`CommLost` (reason ``comm_lost``)
* an answer that is not a valid reply to the request (another function code, fewer registers
  than asked, a byte count that disagrees with the data, a frame pymodbus cannot decode) →
  :class:`MalformedReply` (reason ``malformed_reply``) — never an exception deep in the codec.

pymodbus' own logger is quietened (it dumps every frame in hex at DEBUG and logs each timeout
at ERROR: megabytes per hour for one silent device); the line and the poller report instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.framer import FramerType

from kit.aio import wait_for
from kit.backoff import backoff_delay
from kit.errors import AdapterError, DeviceRejected, DeviceTimeout

log = logging.getLogger("kit.modbus.line")

# pymodbus logs every frame as a hex dump at DEBUG, each timeout at ERROR and each undecodable
# frame at WARNING; a misbehaving device then floods the log (2.9 MB in 4 minutes was seen).
# The line and the poller report these once per state change instead. A deliberately
# configured level (e.g. for debugging a device) is left alone.
_PYMODBUS_LOG = logging.getLogger("pymodbus")
if _PYMODBUS_LOG.level == logging.NOTSET:
    _PYMODBUS_LOG.setLevel(logging.CRITICAL)


class CommLost(AdapterError):
    """The connection to the endpoint is down (refused, reset, not yet re-established)."""


class MalformedReply(AdapterError):
    """The device answered, but not with a valid reply to the request."""


def reason_of(exc: BaseException) -> str:
    """Quality reason for a failed request: ``timeout``, ``modbus_exception_N``,
    ``malformed_reply`` or ``comm_lost``."""
    if isinstance(exc, DeviceRejected):
        return f"modbus_exception_{exc.code}"
    if isinstance(exc, DeviceTimeout):
        return "timeout"
    if isinstance(exc, MalformedReply):
        return "malformed_reply"
    return "comm_lost"


def _guard_decoding(client: Any, describe: str) -> None:
    """Turn a frame pymodbus cannot decode into a :class:`MalformedReply` for the waiting request.

    Unguarded, the decoder's exception escapes ``data_received``: asyncio logs a traceback,
    closes the transport and the request waits for its timeout, then reports ``comm_lost`` —
    "cannot connect" for a device that did answer.
    """
    ctx = client.ctx
    decode = ctx.callback_data

    def callback_data(data: bytes, addr: Any = None) -> int:
        try:
            used: int = decode(data, addr=addr)
            return used
        except Exception as exc:  # any decoder failure is the device's frame, not our bug
            fut = getattr(ctx, "response_future", None)
            if fut is not None and not fut.done():
                fut.set_exception(MalformedReply(f"{describe}: undecodable reply ({exc})"))
            return len(data)  # drop the bad frame; the next reply starts afresh

    ctx.callback_data = callback_data


@dataclass(frozen=True)
class LineKey:
    """Identity of a line: transport plus endpoint (host:port or serial device)."""

    transport: str
    """tcp, rtu_over_tcp or rtu."""
    endpoint: str
    """``host:port`` or the serial device path."""


@dataclass
class SerialSettings:
    """Serial parameters of an RTU line."""

    port: str
    baudrate: int = 19200
    bytesize: int = 8
    parity: str = "E"
    stopbits: int = 1


class _Conn:
    """One pymodbus client with its own reconnect schedule."""

    def __init__(self, line: Line) -> None:
        self.line = line
        self.client: Any = None
        self.next_attempt = 0.0
        self.failures = 0
        self.lock = asyncio.Lock()

    def _make(self) -> Any:
        ln = self.line
        # reconnect_delay=0: pymodbus must not reconnect on its own; the line owns backoff.
        if ln.key.transport == "rtu":
            s = ln.serial
            assert s is not None
            return AsyncModbusSerialClient(
                s.port,
                framer=FramerType.RTU,
                baudrate=s.baudrate,
                bytesize=s.bytesize,
                parity=s.parity,
                stopbits=s.stopbits,
                timeout=ln.timeout_s,
                retries=0,
                reconnect_delay=0,
            )
        framer = FramerType.RTU if ln.key.transport == "rtu_over_tcp" else FramerType.SOCKET
        return AsyncModbusTcpClient(
            ln.host, port=ln.port, framer=framer, timeout=ln.timeout_s, retries=0, reconnect_delay=0
        )

    async def ensure(self, timeout: float) -> Any:
        if self.client is not None and self.client.connected:
            return self.client
        now = time.monotonic()
        if now < self.next_attempt:
            raise CommLost(
                f"{self.line.describe()}: not connected (next attempt in {self.next_attempt - now:.1f} s)"
            )
        if self.client is None:
            self.client = self._make()
            # The line decides when a silent connection is dead, not pymodbus' counter.
            self.client.set_max_no_responses(1 << 30)
            _guard_decoding(self.client, self.line.describe())
        self.line.connect_attempts += 1
        try:
            # Connecting gets at least 1 s: a loaded host must not look like a dead device.
            ok = await wait_for(self.client.connect(), max(timeout, 1.0))
        except (TimeoutError, OSError, ModbusException):
            ok = False
        if not ok:
            self.failures += 1
            delay = self.line.backoff(self.failures)
            self.next_attempt = time.monotonic() + delay
            self.close()
            raise CommLost(
                f"{self.line.describe()}: cannot connect (retry in {delay:.1f} s); "
                "check the address, port, cabling and that the device allows Modbus connections"
            )
        self.failures = 0
        self.line.connects += 1
        return self.client

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.close()
            except Exception:  # closing a half-dead transport must never raise into polling
                pass
            self.client = None


class Line:
    """A shared connection (pool) to one endpoint; see the module docstring.

    Args:
        key: transport and endpoint.
        host, port: TCP endpoint (tcp and rtu_over_tcp).
        serial: serial settings (rtu).
        max_connections: TCP connections allowed to the endpoint (1 for serial/gateways).
        timeout_s: default request timeout.
        backoff_initial_s, backoff_max_s: reconnect backoff (doubling, with jitter).
    """

    def __init__(
        self,
        key: LineKey,
        *,
        host: str = "",
        port: int = 502,
        serial: SerialSettings | None = None,
        max_connections: int = 1,
        timeout_s: float = 1.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
    ) -> None:
        self.key, self.host, self.port, self.serial = key, host, port, serial
        n = (
            max_connections if key.transport == "tcp" else 1
        )  # one request in flight per serial line
        self.conns = [_Conn(self) for _ in range(max(1, n))]
        self.timeout_s = timeout_s
        self.backoff_initial_s, self.backoff_max_s = backoff_initial_s, backoff_max_s
        self.users = 0
        self.connect_attempts = 0
        self.connects = 0
        self.requests = 0
        self._rr = 0
        self.down: dict[int, bool] = {}
        self.learned: dict[int, dict[str, int]] = {}
        """Request limits learned from exception 03, per unit id (kept by :class:`LineRegistry`
        for the life of the process, so a restarted component does not learn them again)."""

    def describe(self) -> str:
        """``modbus tcp 10.0.0.5:502`` — for messages."""
        return f"modbus {self.key.transport} {self.key.endpoint}"

    def connect_due_at(self) -> float:
        """Monotonic time from which a request may (re)connect: 0 when a connection is up
        or may be attempted now, else the earliest scheduled reconnect attempt."""
        due = []
        for c in self.conns:
            if c.client is not None and c.client.connected:
                return 0.0
            due.append(c.next_attempt)
        return min(due, default=0.0)

    def backoff(self, failures: int) -> float:
        """Delay before the next attempt after ``failures`` consecutive failures (with jitter)."""
        # Jitter spreads reconnects of many devices restarting together (no thundering herd).
        return backoff_delay(failures, self.backoff_initial_s, self.backoff_max_s, jitter=0.25)

    def _pick(self) -> _Conn:
        # Prefer an idle connection; otherwise round-robin (waits on its lock).
        for c in self.conns:
            if not c.lock.locked():
                return c
        self._rr = (self._rr + 1) % len(self.conns)
        return self.conns[self._rr]

    def set_device_down(self, unit_id: int, down: bool) -> None:
        """Record a device's state; when every device on the line is down, drop the
        connection so the next probe reconnects (a half-open TCP socket never recovers)."""
        self.down[unit_id] = down
        if down and self.down and all(self.down.values()):
            for c in self.conns:
                c.close()

    async def request(
        self,
        unit_id: int,
        function_code: int,
        address: int,
        count: int = 1,
        *,
        values: Sequence[int] | Sequence[bool] | None = None,
        timeout: float | None = None,
    ) -> list[int] | list[bool]:
        """One Modbus request (FC1–6, 15, 16) to ``unit_id``; returns registers or bits read.

        Raises:
            DeviceTimeout, DeviceRejected, CommLost.
        """
        t = timeout or self.timeout_s
        conn = self._pick()
        async with conn.lock:
            client = await conn.ensure(t)
            # Per-device timeout on a shared client: safe, we hold the only slot on it.
            client.ctx.comm_params.timeout_connect = t
            self.requests += 1
            try:
                # pymodbus enforces the timeout itself (set above); no extra wait_for task per
                # request on the hot path.
                rr = await _call(client, unit_id, function_code, address, count, values)
            except MalformedReply:
                raise
            except TimeoutError:
                raise DeviceTimeout(
                    f"{self.describe()} unit {unit_id}: no answer within {t} s"
                ) from None
            except ConnectionException as exc:
                conn.close()
                raise CommLost(f"{self.describe()}: connection lost ({exc})") from None
            except ModbusException as exc:
                if client.connected:
                    raise DeviceTimeout(
                        f"{self.describe()} unit {unit_id}: no answer within {t} s"
                    ) from None
                conn.close()
                raise CommLost(f"{self.describe()}: connection lost ({exc})") from None
            except OSError as exc:
                conn.close()
                raise CommLost(f"{self.describe()}: {exc}") from None
        if rr.isError():
            code = int(getattr(rr, "exception_code", 0) or 0)
            raise DeviceRejected(
                f"{self.describe()} unit {unit_id}: FC{function_code} at {address} "
                f"answered exception {code:02d}",
                code,
            )
        got_fc = int(getattr(rr, "function_code", function_code) or function_code)
        if got_fc != function_code:
            raise MalformedReply(
                f"{self.describe()} unit {unit_id}: FC{function_code} at {address} was answered "
                f"with function code {got_fc}"
            )
        if function_code in (1, 2):
            if len(rr.bits) < count:
                raise MalformedReply(
                    f"{self.describe()} unit {unit_id}: FC{function_code} at {address} asked for "
                    f"{count} bits, the reply carries {len(rr.bits)}"
                )
            return list(rr.bits[:count])
        if function_code in (3, 4):
            if len(rr.registers) != count:
                raise MalformedReply(
                    f"{self.describe()} unit {unit_id}: FC{function_code} at {address} asked for "
                    f"{count} registers, the reply carries {len(rr.registers)}"
                )
            registers: list[int] = rr.registers
            return registers
        return []

    async def read_device_information(
        self, unit_id: int, timeout: float | None = None, pace: Any = None
    ) -> dict[int, bytes]:
        """FC43/14 objects: the basic stream (0x00–0x02), then the regular one (0x03–0x06) when
        the device has it (servers differ on whether code 02 repeats the basic objects).

        ``pace``: awaited before each of the (up to two) requests (``kit scan``'s rate limit).

        Raises:
            like :meth:`request` (for the basic stream; the regular one is optional).
        """
        t = timeout or self.timeout_s
        info: dict[int, bytes] = {}
        for read_code in (1, 2):
            if pace is not None:
                await pace()
            conn = self._pick()
            async with conn.lock:
                client = await conn.ensure(t)
                client.ctx.comm_params.timeout_connect = t
                try:
                    rr = await wait_for(
                        client.read_device_information(
                            read_code=read_code, object_id=0, device_id=unit_id
                        ),
                        t + 0.5,
                    )
                except (TimeoutError, ModbusException):
                    if read_code == 2:
                        break
                    raise DeviceTimeout(
                        f"{self.describe()} unit {unit_id}: no identification answer within {t} s"
                    ) from None
            if rr.isError():
                if read_code == 2:
                    break
                code = int(getattr(rr, "exception_code", 0) or 0)
                raise DeviceRejected(
                    f"{self.describe()} unit {unit_id}: FC43/14 answered exception {code:02d}", code
                )
            info.update({k: v for k, v in rr.information.items() if v})
        return info

    def close(self) -> None:
        """Close every connection of the line."""
        for c in self.conns:
            c.close()


def _call(client: Any, unit: int, fc: int, address: int, count: int, values: Any) -> Any:
    if fc == 1:
        return client.read_coils(address, count=count, device_id=unit)
    if fc == 2:
        return client.read_discrete_inputs(address, count=count, device_id=unit)
    if fc == 3:
        return client.read_holding_registers(address, count=count, device_id=unit)
    if fc == 4:
        return client.read_input_registers(address, count=count, device_id=unit)
    if fc == 5:
        return client.write_coil(address, bool(values[0]), device_id=unit)
    if fc == 6:
        return client.write_register(address, int(values[0]), device_id=unit)
    if fc == 15:
        return client.write_coils(address, [bool(v) for v in values], device_id=unit)
    if fc == 16:
        return client.write_registers(address, [int(v) for v in values], device_id=unit)
    raise ValueError(f"unsupported function code {fc}")


class LineRegistry:
    """Process-wide lines, reference counted: devices on one endpoint share one line."""

    def __init__(self) -> None:
        self._lines: dict[LineKey, Line] = {}
        self._learned: dict[LineKey, dict[int, dict[str, int]]] = {}

    def acquire(self, key: LineKey, **kwargs: Any) -> Line:
        """The line for ``key`` (created on first use); call :meth:`release` when done."""
        line = self._lines.get(key)
        if line is None:
            line = self._lines[key] = Line(key, **kwargs)
            # The same dict object: limits learned on this endpoint outlive its connections.
            line.learned = self._learned.setdefault(key, {})
        line.users += 1
        return line

    def release(self, line: Line) -> None:
        """Drop one user; the last one closes the connection."""
        line.users -= 1
        if line.users <= 0:
            line.close()
            self._lines.pop(line.key, None)


#: The lines of this process (adapter instances in one runtime share them).
LINES = LineRegistry()

"""An independent three-phase meter emulator: a raw asyncio Modbus TCP server.

Written from a register table, NOT from the kit: it shares no code with ``kit_modbus`` (no
simulator, no codec, no pymodbus server), so a probe or poller that agrees with it agrees with
an outside implementation of the protocol. The map is the Carlo Gavazzi EM24 measurement map of
``shared/reference/devices.md`` (A4: 0-based PDU addresses, INT32 values **low word first**
(CDAB), INT16 power factors and frequency), with the gaps of that table filled the way the
EM24/EM340 family lays them out (line-to-line voltages at 0x06…, VA at 0x18…, var at 0x1E…,
system values at 0x24…). Registers 0x0300/0x0302 carry a model ID code and a firmware code
(an emulator choice for identity tests, not a claim about the real device).

Device behaviour modelled on what meters do in the field (shared/reference/field-notes.md):

* FC03 and FC04 both answer the measurement map (Carlo Gavazzi meters answer both);
* a read longer than ``max_words`` (default 20) is answered with exception 03;
* a read touching an address outside the map is answered with exception 02;
* ``fault`` modes send malformed replies: ``wrong_fc`` (the function code of another read),
  ``short_count`` (byte count and data shorter than asked), ``bad_byte_count`` (byte count
  that disagrees with the data), ``silent`` (no answer).

Values are physically consistent: phase voltages are phasors 120° apart, line voltages are
their differences, P = V·I·PF, S = V·I, Q = √(S² − P²), totals are sums, the system PF is
P/S, phase energies sum to the total.
"""

from __future__ import annotations

import asyncio
import cmath
import math
import struct
from dataclasses import dataclass, field

INT32, INT16 = "int32", "int16"


@dataclass(frozen=True)
class Reg:
    """One value of the map: PDU address, type and scale (engineering = raw × scale)."""

    semantic: str
    address: int
    type: str
    scale: float
    unit: str | None
    range: tuple[float, float]


def _physics() -> dict[str, float]:
    """Engineering values of a slightly unbalanced, inductive three-phase load at 50 Hz."""
    v = [230.1, 229.4, 231.0]
    angles = [0.0, -120.3, 119.8]
    i = [12.345, 10.2, 11.8]
    pf = [0.95, 0.92, 0.9]
    ph = [cmath.rect(v[k], math.radians(angles[k])) for k in range(3)]
    out: dict[str, float] = {}
    names = ("l1", "l2", "l3")
    for k, p in enumerate(names):
        out[f"voltage_{p}_n_v"] = v[k]
        out[f"current_{p}_a"] = i[k]
        s = v[k] * i[k]
        out[f"power_apparent_{p}_va"] = s
        out[f"power_active_{p}_w"] = s * pf[k]
        out[f"power_reactive_{p}_var"] = math.sqrt(s * s - (s * pf[k]) ** 2)
        out[f"power_factor_{p}"] = pf[k]
    out["voltage_l1_l2_v"] = abs(ph[0] - ph[1])
    out["voltage_l2_l3_v"] = abs(ph[1] - ph[2])
    out["voltage_l3_l1_v"] = abs(ph[2] - ph[0])
    out["voltage_ln_avg_v"] = sum(v) / 3
    out["voltage_ll_avg_v"] = (
        out["voltage_l1_l2_v"] + out["voltage_l2_l3_v"] + out["voltage_l3_l1_v"]
    ) / 3
    for q, unit in (("active", "w"), ("apparent", "va"), ("reactive", "var")):
        out[f"power_{q}_total_{unit}"] = sum(out[f"power_{q}_{p}_{unit}"] for p in names)
    out["power_factor_total"] = out["power_active_total_w"] / out["power_apparent_total_va"]
    out["frequency_hz"] = 50.0
    phase_kwh = [4115.2, 3998.7, 4231.9]
    for p, e in zip(names, phase_kwh):
        out[f"energy_active_import_{p}_kwh"] = e
    out["energy_active_import_total_kwh"] = sum(phase_kwh)
    return out


def _regs() -> list[Reg]:
    m: list[Reg] = []
    v, a, w = (0, 300), (0, 65), (-15000, 15000)
    for k, p in enumerate(("l1", "l2", "l3")):
        m.append(Reg(f"voltage_{p}_n_v", 0x00 + 2 * k, INT32, 0.1, "V", v))
    for k, name in enumerate(("l1_l2", "l2_l3", "l3_l1")):
        m.append(Reg(f"voltage_{name}_v", 0x06 + 2 * k, INT32, 0.1, "V", (0, 520)))
    for k, p in enumerate(("l1", "l2", "l3")):
        m.append(Reg(f"current_{p}_a", 0x0C + 2 * k, INT32, 0.001, "A", a))
        m.append(Reg(f"power_active_{p}_w", 0x12 + 2 * k, INT32, 0.1, "W", w))
        m.append(Reg(f"power_apparent_{p}_va", 0x18 + 2 * k, INT32, 0.1, "VA", (0, 15000)))
        m.append(Reg(f"power_reactive_{p}_var", 0x1E + 2 * k, INT32, 0.1, "var", w))
    m += [
        Reg("voltage_ln_avg_v", 0x24, INT32, 0.1, "V", v),
        Reg("voltage_ll_avg_v", 0x26, INT32, 0.1, "V", (0, 520)),
        Reg("power_active_total_w", 0x28, INT32, 0.1, "W", (-45000, 45000)),
        Reg("power_apparent_total_va", 0x2A, INT32, 0.1, "VA", (0, 45000)),
        Reg("power_reactive_total_var", 0x2C, INT32, 0.1, "var", (-45000, 45000)),
    ]
    for k, p in enumerate(("l1", "l2", "l3", "total")):
        m.append(Reg(f"power_factor_{p}", 0x32 + k, INT16, 0.001, None, (-1, 1)))
    m.append(Reg("frequency_hz", 0x37, INT16, 0.1, "Hz", (45, 65)))
    m.append(Reg("energy_active_import_total_kwh", 0x42, INT32, 0.1, "kWh", (0, 1e8)))
    for k, p in enumerate(("l1", "l2", "l3")):
        m.append(Reg(f"energy_active_import_{p}_kwh", 0x46 + 2 * k, INT32, 0.1, "kWh", (0, 1e8)))
    return m


#: The register table the emulator serves (its "manual").
MAP: list[Reg] = _regs()
#: Last measurement register + 1: reads beyond it are answered with exception 02.
MAP_END = 0x4C
#: Identity registers: model ID code and firmware code (INT16).
ID_CODE_ADDRESS, FIRMWARE_ADDRESS = 0x0300, 0x0302
ID_CODE, FIRMWARE = 341, 0x0103


def _words(reg: Reg, value: float) -> tuple[int, list[int]]:
    raw = round(value / reg.scale)
    if reg.type == INT16:
        return raw, [raw & 0xFFFF]
    u = raw & 0xFFFFFFFF
    return raw, [u & 0xFFFF, u >> 16]  # CDAB: low word at the lower address


@dataclass
class MeterEmulator:
    """The emulated meter; ``await start()`` then talk Modbus TCP to ``host:port``."""

    host: str = "127.0.0.1"
    port: int = 0
    max_words: int = 20
    fault: str | None = None
    """None, wrong_fc, short_count, bad_byte_count or silent (see the module docstring)."""
    id_code: int = ID_CODE
    silent_on_illegal: bool = False
    """Do not answer reads of unknown addresses (instead of exception 02), as some devices do."""
    unanswered: int = 0
    """Requests left without an answer."""
    scramble: int | None = None
    """Seed: replace every measurement register with pseudo-random words (a device whose map
    matches nothing the profile says)."""
    registers: dict[int, int] = field(default_factory=dict)
    expected: dict[str, float] = field(default_factory=dict)
    """Engineering value of each semantic point as the device holds it (raw × scale).
    Compare with :func:`same` (raw × 0.1 is 230.10000000000002 in binary floating point; a
    decoder may round it to the scale's resolution)."""
    requests: list[tuple[int, int, int]] = field(default_factory=list)
    """(function code, start, count) of every request received."""
    rejected: dict[int, int] = field(default_factory=dict)
    """Exception code → how many times it was sent."""

    def __post_init__(self) -> None:
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task] = set()
        phys = _physics()
        for a in range(MAP_END):
            self.registers.setdefault(a, 0)
        for reg in MAP:
            raw, words = _words(reg, phys[reg.semantic])
            for k, wd in enumerate(words):
                self.registers[reg.address + k] = wd
            self.expected[reg.semantic] = raw * reg.scale
        if self.scramble is not None:
            import random

            rng = random.Random(self.scramble)
            for a in range(MAP_END):
                self.registers[a] = rng.randrange(0x10000)
        self.registers[ID_CODE_ADDRESS] = self.id_code
        self.registers[ID_CODE_ADDRESS + 1] = 0
        self.registers[FIRMWARE_ADDRESS] = FIRMWARE

    def set_value(self, semantic: str, value: float) -> None:
        """Serve ``value`` for ``semantic`` from now on (e.g. an inconsistent total)."""
        reg = next(r for r in MAP if r.semantic == semantic)
        raw, words = _words(reg, value)
        for k, wd in enumerate(words):
            self.registers[reg.address + k] = wd
        self.expected[semantic] = raw * reg.scale

    async def start(self) -> None:
        """Listen (port 0 picks a free port, stored in :attr:`port`)."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and drop every connection."""
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.close()
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        me = asyncio.current_task()
        if me is not None:
            self._tasks.add(me)
        try:
            while True:
                head = await reader.readexactly(7)
                tid, proto, length, unit = struct.unpack(">HHHB", head)
                pdu = await reader.readexactly(length - 1)
                reply = self._answer(pdu)
                if reply is None:
                    continue
                writer.write(struct.pack(">HHHB", tid, proto, len(reply) + 1, unit) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # client gone or emulator stopping: nothing to answer
        finally:
            self._tasks.discard(me)  # type: ignore[arg-type]
            self._writers.discard(writer)
            writer.close()

    def _exception(self, fc: int, code: int) -> bytes:
        self.rejected[code] = self.rejected.get(code, 0) + 1
        return bytes([fc | 0x80, code])

    def _answer(self, pdu: bytes) -> bytes | None:
        fc = pdu[0]
        if fc not in (3, 4):
            return self._exception(fc, 1)
        start, count = struct.unpack(">HH", pdu[1:5])
        self.requests.append((fc, start, count))
        if self.fault == "silent":
            self.unanswered += 1
            return None
        if count < 1 or count > self.max_words:
            return self._exception(fc, 3)
        if any(a not in self.registers for a in range(start, start + count)):
            if self.silent_on_illegal:
                self.unanswered += 1
                return None
            return self._exception(fc, 2)
        data = b"".join(struct.pack(">H", self.registers[a]) for a in range(start, start + count))
        if self.fault == "wrong_fc":
            return bytes([3 if fc == 4 else 4, len(data)]) + data
        if self.fault == "short_count":
            data = data[: max(0, len(data) - 2)]
            return bytes([fc, len(data)]) + data
        if self.fault == "bad_byte_count":
            return bytes([fc, len(data) + 4]) + data
        return bytes([fc, len(data)]) + data


def same(got: dict[str, float], expected: dict[str, float]) -> bool:
    """True when ``got`` holds exactly the values of ``expected`` (to 12 significant digits:
    the register values have at most 9)."""
    return set(got) == set(expected) and all(
        got[k] is not None and math.isclose(got[k], v, rel_tol=1e-12, abs_tol=1e-12)
        for k, v in expected.items()
    )


#: An ``identity`` section matching the emulator (ID code 341, firmware 0x0103 = 259).
IDENTITY_YAML = (
    "identity:\n"
    "  registers:\n"
    "    - {name: model_code, table: input, address: 0x0300, type: uint16, expected: 341}\n"
    "    - {name: firmware, table: input, address: 0x0302, type: uint16, pattern: '^2[0-9]{2}$'}\n"
)


def profile_yaml(*, shift: int = 0, byte_order: str = "CDAB", extra: str = "") -> str:
    """A hardware profile for the emulator written from :data:`MAP`, every address moved by
    ``shift`` registers (``shift=1``: "Modicon 300001 written as PDU 1")."""
    rows = []
    for r in MAP:
        rng = f"[{r.range[0]:g}, {r.range[1]:g}]"
        unit = f", unit: {r.unit}" if r.unit else ""
        rows.append(
            f"  - {{semantic: {r.semantic}, table: input, address: {r.address + shift}, "
            f"type: {r.type}, scale: {r.scale:g}{unit}, range: {rng}}}"
        )
    return (
        "id: emu-em24\n"
        "vendor: Test\n"
        "model: EM24-style emulator\n"
        "protocol: modbus\n"
        "category: energy_meter\n"
        "source:\n  title: adapters/modbus/tests/meter_emulator.py register table\n"
        "verified: false\n"
        "connection:\n  transport: tcp\n  unit_id: 1\n"
        f"  byte_order: {byte_order}\n  addressing: pdu\n  max_gap: 8\n"
        "identification:\n  supported: false\n"
        f"{extra}"
        "points:\n" + "\n".join(rows) + "\n"
    )

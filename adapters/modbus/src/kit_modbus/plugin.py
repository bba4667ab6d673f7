"""The ``modbus`` adapter component and its hook implementations.

One component instance = one Modbus device (profile + where it is). Instances whose devices
share a TCP endpoint, gateway or serial port share one :class:`kit_modbus.line.Line`, so
requests on a serial line never overlap and a dead device only costs its own probes.
See docs/adapters/modbus.md.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

import kit
from kit.components import Adapter, ComponentContext
from kit.errors import AdapterError, ConfigError, DeviceRejected, DeviceTimeout
from kit.payloads import HealthStatus
from kit.relations import Monitor
from kit_modbus.device import DevicePoller, PointSpec, spec_from_profile_point
from kit_modbus.identity import raise_on_mismatch, read_identity
from kit_modbus.identity import summary as identity_summary
from kit_modbus.line import LINES, CommLost, Line, LineKey, MalformedReply, SerialSettings
from kit_modbus.planner import read_learning
from kit_modbus.profile import ModbusProfile

if TYPE_CHECKING:
    import click

    from kit_modbus.simulator import ModbusSimulator


class ModbusConfig(BaseModel):
    """One Modbus device: which profile, where it is, and how to poll it.

    Connection settings left empty take the profile's defaults.
    """

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    profile: str
    """Hardware profile id (``kit profiles``), or the path of a profile YAML file."""
    profile_params: dict[str, Any] = Field(default_factory=dict)
    """Values for a parameterised profile (e.g. ``start_address`` of a PLC data block)."""
    variant: str | None = None
    """Model/firmware variant of the profile (its ``variants``) this device is."""
    host: str | None = None
    """IP address or host name of the device or gateway (TCP transports)."""
    port: int | None = Field(None, ge=1, le=65535)
    """TCP port; default from the profile (502)."""
    unit_id: int | None = Field(None, ge=0, le=255)
    """Unit id / slave address; default from the profile."""
    transport: Literal["tcp", "rtu", "rtu_over_tcp"] | None = None
    """tcp (device or Modbus TCP gateway), rtu (local serial port), rtu_over_tcp
    (transparent serial server). Default: rtu when ``serial_port`` is set, else tcp."""
    serial_port: str | None = None
    """Serial device for rtu, e.g. ``/dev/ttyUSB0``."""
    baudrate: int | None = Field(None, ge=300, le=921600)
    """Serial speed in bit/s (rtu); default from the profile."""
    parity: Literal["N", "E", "O"] | None = None
    """Serial parity: N (none), E (even) or O (odd); default from the profile."""
    bytesize: Literal[7, 8] | None = None
    """Serial data bits; default from the profile (Modbus RTU uses 8)."""
    stopbits: Literal[1, 2] | None = None
    """Serial stop bits; default from the profile."""
    poll_interval_s: float | None = Field(None, ge=0, le=86400)
    """Interval of fast points (default: the profile's); 0 polls flat out (benchmarks)."""
    slow_poll_interval_s: float | None = Field(None, ge=0, le=86400)
    """Interval of points marked ``poll: slow`` in the profile (default: the profile's)."""
    timeout_s: float | None = Field(None, gt=0, le=60)
    """Per-request timeout (default: the profile's)."""
    points: list[str] | None = None
    """Subset of the profile's semantic points to poll (default: all)."""
    max_tcp_connections: int = Field(1, ge=1, le=8)
    """TCP connections to one endpoint (requests in flight); many devices allow only 1."""
    max_gap: int | None = Field(None, ge=0, le=124)
    """Largest run of unused registers/bits read to join two points into one request (default: the profile's)."""
    breaker_failures: int = Field(2, ge=1, le=100)
    """Consecutive failed cycles before the circuit breaker stops polling the device."""
    backoff_initial_s: float = Field(1.0, gt=0, le=3600)
    """First probe delay once the breaker is open (doubles up to backoff_max_s, with jitter)."""
    backoff_max_s: float = Field(30.0, gt=0, le=3600)
    """Longest probe delay while the device is down, so a dead device is not hammered."""
    health_interval_s: float = Field(5.0, gt=0, le=3600)
    """Seconds between device health messages (state changes publish at once)."""
    plausibility_interval_s: float = Field(10.0, ge=0, le=86400)
    """Seconds between plausibility checks of the live values against the physics relations
    (docs/vocabulary.md); violations are counted in device health. 0 turns them off."""


def find_profile(
    ref: str,
    params: dict[str, Any] | None = None,
    library: Any = None,
    variant: str | None = None,
) -> ModbusProfile:
    """The Modbus profile ``ref`` (library id or YAML path), its ``variant`` applied, resolved
    with ``params``.

    Args:
        library: the site's :class:`kit.library.Library` (``ctx.library`` in a runtime);
            default: the installed plugins and the site directory of the environment's
            settings (command-line use).

    Raises:
        ConfigError: unknown id (with suggestion), invalid file, bad parameters, other protocol.
    """
    if library is None:
        from kit.library import default_library

        library = default_library()
    prof = library.profile(ref)
    if not isinstance(prof, ModbusProfile):
        raise ConfigError(f"profile {ref!r} is a {prof.protocol} profile, not a Modbus one")
    prof = prof.with_variant(variant)
    if prof.is_parameterised or params:
        prof = prof.resolve(params or {})
    return prof


def _as_profile(profile: Any, library: Any = None) -> ModbusProfile:
    if isinstance(profile, ModbusProfile):
        return profile
    return find_profile(str(profile), library=library)


class ModbusAdapter(Adapter[ModbusConfig]):
    """Polls a Modbus device described by a hardware profile and publishes its points."""

    name: ClassVar[str] = "modbus"
    protocol: ClassVar[str] = "modbus"
    Profile: ClassVar[type] = ModbusProfile
    Config: ClassVar[type[BaseModel]] = ModbusConfig
    summary: ClassVar[str] = "Modbus TCP/RTU device described by a hardware profile"
    can_write: ClassVar[bool] = True

    def __init__(
        self, config: ModbusConfig, ctx: ComponentContext, *, profile: ModbusProfile | None = None
    ) -> None:
        """``profile``: an already loaded profile (programmatic use: demo, bench); default: load
        ``config.profile`` from the library when the component starts."""
        super().__init__(config, ctx)
        self.profile: ModbusProfile | None = profile
        self.line: Line | None = None
        self.poller: DevicePoller | None = None
        self.batches = 0
        self.plausibility = Monitor(config.plausibility_interval_s)

    # -- setup ----------------------------------------------------------------------------
    @staticmethod
    def _line_for(cfg: ModbusConfig, prof: ModbusProfile) -> tuple[LineKey, dict[str, Any]]:
        conn = prof.connection
        transport = cfg.transport or ("rtu" if cfg.serial_port else "tcp")
        timeout = cfg.timeout_s or conn.timeout_s
        if transport == "rtu":
            if not cfg.serial_port:
                raise ConfigError("transport rtu needs serial_port (e.g. /dev/ttyUSB0)")
            ser = conn.serial
            serial = SerialSettings(
                cfg.serial_port,
                baudrate=cfg.baudrate or (ser.baudrate if ser else 19200),
                bytesize=cfg.bytesize or (ser.bytesize if ser else 8),
                parity=cfg.parity or (ser.parity if ser else "E"),
                stopbits=cfg.stopbits or (ser.stopbits if ser else 1),
            )
            return LineKey("rtu", cfg.serial_port), {"serial": serial, "timeout_s": timeout}
        if not cfg.host:
            raise ConfigError(
                f"transport {transport} needs host (the device's or gateway's IP address)"
            )
        port = cfg.port or conn.port
        return LineKey(transport, f"{cfg.host}:{port}"), {
            "host": cfg.host,
            "port": port,
            "timeout_s": timeout,
            "max_connections": cfg.max_tcp_connections,
            "backoff_initial_s": cfg.backoff_initial_s,
            "backoff_max_s": cfg.backoff_max_s,
        }

    @staticmethod
    def _specs(cfg: ModbusConfig, prof: ModbusProfile) -> list[PointSpec]:
        # Write-only command points (access: w) are never polled.
        points = [p for p in prof.points if p.access != "w"]
        if cfg.points is not None:
            wanted = set(cfg.points)
            missing = wanted - {p.semantic for p in points}
            if missing:
                raise ConfigError(
                    f"profile {prof.id!r} has no point(s) {', '.join(sorted(missing))}; "
                    f"it has: {', '.join(p.semantic for p in points)}"
                )
            points = [p for p in points if p.semantic in wanted]
        return [spec_from_profile_point(p) for p in points]

    @classmethod
    def build_poller(
        cls,
        cfg: ModbusConfig,
        prof: ModbusProfile,
        line: Line,
        name: str = "modbus",
        log: Any = None,
    ) -> DevicePoller:
        """A :class:`DevicePoller` for ``cfg`` on ``line`` (shared with probe and bench)."""
        conn = prof.connection
        return DevicePoller(
            cls._specs(cfg, prof),
            line,
            cfg.unit_id if cfg.unit_id is not None else conn.unit_id,
            timeout_s=cfg.timeout_s or conn.timeout_s,
            max_registers=conn.max_registers_per_read,
            max_bits=conn.max_bits_per_read,
            max_gap=cfg.max_gap if cfg.max_gap is not None else conn.max_gap,
            breaker_failures=cfg.breaker_failures,
            backoff_initial_s=cfg.backoff_initial_s,
            backoff_max_s=cfg.backoff_max_s,
            name=name,
            log=log,
        )

    def _setup(self) -> DevicePoller:
        cfg = self.config
        if self.poller is None:
            if self.profile is None:
                self.profile = find_profile(
                    cfg.profile, cfg.profile_params, self.ctx.library, cfg.variant
                )
            key, kwargs = self._line_for(cfg, self.profile)
            self.line = LINES.acquire(key, **kwargs)
            self.poller = self.build_poller(
                cfg,
                self.profile,
                self.line,
                name=f"{self.ctx.name} ({key.endpoint} "
                f"unit {cfg.unit_id if cfg.unit_id is not None else self.profile.connection.unit_id})",
                log=self.ctx.log,
            )
        return self.poller

    # -- running --------------------------------------------------------------------------
    async def run(self) -> None:
        """Poll each poll class at its interval; publish a batch per cycle and device health."""
        cfg = self.config
        poller = self._setup()
        assert self.profile is not None
        conn = self.profile.connection
        intervals = {
            "fast": cfg.poll_interval_s
            if cfg.poll_interval_s is not None
            else conn.poll_interval_s,
            "slow": cfg.slow_poll_interval_s
            if cfg.slow_poll_interval_s is not None
            else conn.slow_poll_interval_s,
        }
        clock = self.ctx.clock
        due = {p: clock.monotonic() for p in poller.polls}
        next_health = 0.0
        was_down: bool | None = None
        me = asyncio.current_task()
        writers: dict[tuple[int, ...], Any] = {}
        all_keys = tuple(range(len(poller.values)))
        try:
            while True:
                if me is not None and me.cancelling():
                    # Python 3.11's wait_for (used inside pymodbus) can swallow a cancellation
                    # when the answer arrives at the same moment; honour the stop request here.
                    raise asyncio.CancelledError()
                now = clock.monotonic()
                polls = [p for p, t in due.items() if t <= now]
                if polls:
                    answered = await poller.poll(polls)
                    keys = tuple(poller.keys_for(polls))
                    writer = writers.get(keys)
                    if writer is None:  # one per combination of poll classes, built once
                        writer = writers[keys] = self.ctx.sample_writer(
                            [(poller.specs[k].name, poller.specs[k].unit) for k in keys]
                        )
                    vals = poller.values
                    await writer.publish(
                        vals
                        if len(keys) == len(vals) and keys == all_keys
                        else [vals[k] for k in keys],
                        poller.qualities(keys),
                    )
                    self.batches += 1
                    done = clock.monotonic()
                    if answered and self.plausibility.due(done):
                        self._check_plausibility(poller, done)
                    for p in polls:
                        # Skip missed slots instead of bursting to catch up after an outage.
                        due[p] = max(due[p] + intervals.get(p, intervals["fast"]), done)
                    if poller.down != was_down or done >= next_health:
                        was_down = poller.down
                        next_health = done + cfg.health_interval_s
                        await self._publish_health(poller)
                wait = min(due.values()) - clock.monotonic()
                if wait > 0:
                    await clock.sleep(wait)
                else:
                    await asyncio.sleep(0)  # flat out: still let other tasks run
        finally:
            if self.line is not None:
                LINES.release(self.line)
                self.line = None

    def _check_plausibility(self, poller: DevicePoller, now: float) -> None:
        """Relations on the latest good values of every point (rate-limited by the monitor)."""
        values = {
            s.name: v
            for s, v, r in zip(poller.specs, poller.values, poller.reasons)
            if r is None and v is not None
        }
        changed = self.plausibility.observe(values, now)
        if changed is None:
            return
        new, gone = changed
        for statement in sorted(new):
            # Once when a relation starts failing, once when it holds again: not per check.
            self.ctx.log.warning(
                "%s: implausible values: %s (%s)",
                poller.name,
                statement,
                self.plausibility.last_evidence.get(statement, ""),
            )
        for statement in sorted(gone):
            self.ctx.log.warning("%s: plausible again: %s", poller.name, statement)

    async def _publish_health(self, poller: DevicePoller) -> None:
        status = (
            HealthStatus.running
            if not poller.down
            else (HealthStatus.backoff if poller.breaker_open else HealthStatus.degraded)
        )
        detail = "" if not poller.down else f"device down: {poller.down_reason}"
        try:
            await self.ctx.publish_health(
                status,
                kind="device",
                detail=detail,
                **poller.health(),
                plausibility=self.plausibility.summary(),
            )
        except Exception as exc:  # health is best effort; polling must go on
            self.ctx.log.debug("device health not published: %s", exc)

    async def on_failed(self, reason: str) -> None:
        """Marked ``failed`` by the supervisor: publish every point once as bad with reason
        ``component_failed`` so the device does not just go silent (docs/adapters/modbus.md)."""
        poller = self.poller
        if poller is None:
            return  # crashed before its points were known (e.g. profile not found)
        keys = list(range(len(poller.specs)))
        poller._mark(keys, "component_failed")
        writer = self.ctx.sample_writer([(s.name, s.unit) for s in poller.specs])
        await writer.publish([poller.values[k] for k in keys], poller.qualities(keys))

    def metrics(self) -> dict[str, Any]:
        """Device health figures plus batches published."""
        out: dict[str, Any] = {"batches": self.batches}
        if self.poller is not None:
            out.update(self.poller.health())
            out["plausibility"] = self.plausibility.summary()
        return out

    # -- writes ---------------------------------------------------------------------------
    async def write(self, point: str, value: Any) -> None:
        """Write ``value`` (engineering units) to ``point`` with FC5/6/15/16 and the point's codec.

        Raises:
            ConfigError: unknown or read-only point, value not encodable.
            AdapterError: the device refused or did not answer.
        """
        from kit_modbus.codec import CodecError, PointCodec

        poller = self._setup()
        assert self.profile is not None and self.line is not None
        try:
            p = self.profile.point(point)
        except KeyError as exc:
            raise ConfigError(str(exc.args[0])) from None
        if p.access not in ("rw", "w"):
            raise ConfigError(f"point {point!r} of profile {self.profile.id!r} is read-only")
        unit, line, t = poller.unit_id, self.line, poller.timeout_s
        if p.table == "coil":
            if not isinstance(value, (bool, int)) or value not in (0, 1):
                raise ConfigError(f"point {point!r} is a coil: write true or false, not {value!r}")
            await line.request(unit, 5, p.pdu_address, values=[bool(value)], timeout=t)
            return
        pc = PointCodec(
            p.type,  # type: ignore[arg-type]  # a loaded profile's points all have their type
            p.byte_order or "ABCD",
            scale=p.scale,
            offset=p.offset,
            bit=p.bit,
            count=p.count,
            byte=p.byte,
            parts=p.length if p.type == "version" else None,
        )
        try:
            if p.type in ("bit", "uint8", "int8"):
                # Read-modify-write: the other 15 bits of the register must survive.
                current = (await line.request(unit, 3, p.pdu_address, 1, timeout=t))[0]
                regs = pc.encode(value, int(current))
            else:
                regs = pc.encode(value)
        except CodecError as exc:
            raise ConfigError(f"point {point!r}: {exc}") from None
        if len(regs) == 1 and self.profile.connection.write_single_register:
            await line.request(unit, 6, p.pdu_address, values=regs, timeout=t)
        else:
            await line.request(unit, 16, p.pdu_address, values=regs, timeout=t)

    # -- contract classmethods ------------------------------------------------------------
    @classmethod
    async def test_connection(cls, config: BaseModel, library: Any = None) -> str:
        """Connect, read the identification (FC43/14) or the first planned read.

        ``library``: the site library the profile id is looked up in (the recipe engine
        passes the runtime's).

        Raises:
            AdapterError: with what to check (address, port, unit id, serial settings, profile).
        """
        cfg = config if isinstance(config, ModbusConfig) else ModbusConfig.model_validate(config)
        prof = find_profile(cfg.profile, cfg.profile_params, library, cfg.variant)
        key, kwargs = cls._line_for(cfg, prof)
        line = Line(key, **kwargs)
        unit = cfg.unit_id if cfg.unit_id is not None else prof.connection.unit_id
        where = f"{key.endpoint} unit {unit}"
        try:
            ident = ""
            if prof.identification is None or prof.identification.supported:
                try:
                    info = await line.read_device_information(unit)
                    ident = " ".join(
                        v.decode("latin-1", "replace") for _, v in sorted(info.items()) if v
                    )
                except DeviceRejected:
                    ident = ""  # identification is optional; the register read below decides
            identity = ""
            if prof.identity is not None:
                # A wrong model fails here, naming expected and read values: nothing installed.
                results = await read_identity(
                    line,
                    unit,
                    prof.identity,
                    prof.connection.addressing,
                    prof.connection.byte_order,
                    cfg.timeout_s or prof.connection.timeout_s,
                )
                raise_on_mismatch(results, where, f"{prof.vendor} {prof.model}")
                identity = identity_summary(results)
            poller = cls.build_poller(cfg, prof, line)
            planner = poller.planner
            first = planner.reads[0]
            # The test read learns like polling does: a device that refuses long reads with
            # exception 03 passes, and the answer says which profile setting to change.
            got = await read_learning(planner, first, poller._read)
            if got.refused and not got.ok:
                raise DeviceRejected(f"{where}: exception 03", 3)
            if got.illegal and not got.ok:
                raise DeviceRejected(f"{where}: exception 02", 2)
            learned = ""
            if planner.learned:
                learned = (
                    f"; it refuses reads of {got.refused_size} registers (exception 03): set "
                    + ", ".join(f"connection.{k}: {v}" for k, v in sorted(planner.learned.items()))
                    + " in the profile (learned and applied automatically meanwhile)"
                )
            # What was *read* from the device — never the profile's own vendor/model text (the
            # commissioning report quotes this as the device's identification).
            read = (
                "; ".join(x for x in (f"FC43/14: {ident}" if ident else "", identity) if x)
                or "no identification read (the profile declares none)"
            )
            return f"device at {where} answered; read: {read}{learned}"
        except MalformedReply as exc:
            raise AdapterError(
                f"{where} answered with malformed frames ({exc}). Check that no other master "
                "talks to it through the same gateway, and the framing (Modbus TCP vs RTU over "
                "TCP: --rtu-over-tcp / transport rtu_over_tcp)."
            ) from None
        except CommLost as exc:
            raise AdapterError(
                f"cannot connect to {key.endpoint}: {exc}. Check the IP address and port, that the "
                "device is powered and on this network, and that no firewall blocks it."
            ) from None
        except DeviceTimeout:
            raise AdapterError(
                f"{where} did not answer within {kwargs['timeout_s']} s. Check the unit id "
                f"(profile default {prof.connection.unit_id}); behind a gateway also its serial "
                "settings (baud rate, parity) and the RS-485 wiring (A/B, termination)."
            ) from None
        except DeviceRejected as exc:
            hint = {
                1: "the device does not support this function — is it the right profile?",
                2: "the register map does not match — wrong profile, model variant or addressing?",
                3: "the device refuses the request even for a single point — wrong table "
                "(holding vs input) or a register that must be read with a different length?",
                10: "the gateway has no route to this unit id — check the gateway configuration",
                11: "the gateway got no answer from the device — check unit id, wiring and serial settings",
            }.get(int(exc.code), "see docs/adapters/modbus.md#quality-reasons")
            raise AdapterError(
                f"{where} refused the test read with Modbus exception {int(exc.code):02d}: {hint}"
            ) from None
        finally:
            line.close()

    scan_ports: ClassVar[tuple[int, ...]] = (502,)
    """Ports ``kit scan`` tries as Modbus TCP without being told."""

    @classmethod
    def scan_prepare(cls) -> None:
        """``kit scan`` calls this before its sweep, outside the event loop (see
        :meth:`kit_opcua.component.OpcuaComponent.scan_prepare`)."""
        import kit_modbus.scan  # noqa: F401

    @classmethod
    async def scan_endpoint(cls, host: str, port: int, **kw: Any) -> dict[str, Any]:
        """``kit scan``: unit ids, FC43/14 and the profile fingerprint of one endpoint
        (:func:`kit_modbus.scan.scan_endpoint`; reads only, paced by the scan)."""
        from kit_modbus.scan import scan_endpoint

        return await scan_endpoint(host, port, **kw)

    @classmethod
    def simulator(
        cls, profile: Any, host: str = "127.0.0.1", port: int = 0, **options: Any
    ) -> ModbusSimulator:
        """A :class:`kit_modbus.simulator.ModbusSimulator` serving ``profile`` (object or id)."""
        from kit_modbus.simulator import ModbusSimulator

        return ModbusSimulator(_as_profile(profile), host, port, **options)


@kit.hookimpl
def register_components(register: Any) -> None:
    """Register the Modbus adapter."""
    register.add(ModbusAdapter)


@kit.hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``kit probe``."""
    from kit_modbus.probe import probe

    cli.add_command(probe)

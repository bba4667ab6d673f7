"""Parse scan targets, ports and unit ids into bounded lists (pure, no I/O).

Targets: CIDR ranges (``192.168.1.0/24``), single hosts (``10.0.0.5``), host ranges
(``10.0.0.5-20`` or ``10.0.0.5-10.0.0.20``), comma- or space-separated. Names are not
resolved: a scan must touch exactly the addresses it was given. The total is capped
(:data:`MAX_HOSTS`) so a typo such as ``/8`` cannot start a sweep of 16 million hosts.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping

from kit.errors import ConfigError

MAX_HOSTS = 4096
"""Most hosts one scan may cover (a /20); larger sweeps are split by the operator on purpose."""


def _host_range(spec: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    first, _, last = spec.partition("-")
    a = ipaddress.ip_address(first.strip())
    last = last.strip()
    if "." in last or ":" in last:
        b = ipaddress.ip_address(last)
    else:  # 10.0.0.5-20: the last octet
        if not last.isdigit() or a.version != 4:
            raise ValueError(f"range end {last!r} is neither an address nor a last octet")
        b = ipaddress.ip_address(str(a).rsplit(".", 1)[0] + "." + last)
    if a.version != b.version:
        # Comparing them would raise TypeError (a traceback instead of a clear message).
        raise ValueError(f"range {spec!r} mixes an IPv{a.version} start with an IPv{b.version} end")
    if int(b) < int(a):
        raise ValueError(f"range end {b} is below its start {a}")
    if int(b) - int(a) >= MAX_HOSTS:
        raise ValueError(f"range of {int(b) - int(a) + 1} hosts (at most {MAX_HOSTS})")
    # The start's own type: ip_address(small int) would turn ::1-::5 into IPv4 addresses.
    kind = type(a)
    return [kind(int(a) + i) for i in range(int(b) - int(a) + 1)]


def parse_targets(specs: Iterable[str]) -> list[str]:
    """Every host address of ``specs``, in order, without duplicates.

    A CIDR network of more than one address drops its network and broadcast addresses
    (nothing answers there) except for /31 and /32.

    Raises:
        ConfigError: a spec that is not an address, range or network; more than MAX_HOSTS.
    """
    out: dict[str, None] = {}
    hosts: list[ipaddress.IPv4Address | ipaddress.IPv6Address]
    for raw in specs:
        for spec in raw.replace(",", " ").split():
            try:
                if "/" in spec:
                    net = ipaddress.ip_network(spec, strict=False)
                    if net.num_addresses > MAX_HOSTS:
                        raise ValueError(f"{net.num_addresses} addresses (at most {MAX_HOSTS})")
                    hosts = list(net.hosts()) if net.num_addresses > 2 else list(net)
                elif "-" in spec:
                    hosts = _host_range(spec)
                else:
                    hosts = [ipaddress.ip_address(spec)]
            except ValueError as exc:
                raise ConfigError(
                    f"target {spec!r}: {exc}. Write a network (192.168.1.0/24), an address "
                    "(192.168.1.20) or a range (192.168.1.20-40); names are not resolved"
                ) from None
            for h in hosts:
                out[str(h)] = None
            if len(out) > MAX_HOSTS:
                raise ConfigError(
                    f"the targets cover more than {MAX_HOSTS} hosts; scan in smaller parts"
                )
    if not out:
        raise ConfigError("no targets given, e.g. `kit scan 192.168.1.0/24`")
    return list(out)


def parse_int_list(spec: str, lo: int, hi: int, what: str) -> list[int]:
    """``1-3,247`` → ``[1, 2, 3, 247]`` (each within ``lo``–``hi``), in order, no duplicates.

    Raises:
        ConfigError: not numbers, out of bounds.
    """
    out: dict[int, None] = {}
    for part in spec.replace(" ", "").split(","):
        if not part:
            continue
        a, sep, b = part.partition("-")
        try:
            first, last = int(a), int(b) if sep else int(a)
        except ValueError:
            raise ConfigError(f"{what} {part!r}: write numbers, e.g. 1-3,247") from None
        if not (lo <= first <= last <= hi):
            raise ConfigError(f"{what} {part!r}: must be within {lo}–{hi}, low to high")
        for n in range(first, last + 1):
            out[n] = None
    if not out:
        raise ConfigError(f"no {what} given")
    return list(out)


def parse_ports(spec: str, known: Mapping[int, str], protocols: Iterable[str]) -> dict[int, str]:
    """``502,4840,5020/modbus`` → ``{port: protocol}``.

    ``known`` maps the adapters' default ports to their protocol; any other port must name
    its protocol (``5020/modbus``): sending one protocol's request to another's server is
    exactly the kind of traffic a scan must not produce.

    Raises:
        ConfigError: bad number, unknown protocol, a port of unknown protocol.
    """
    protos = set(protocols)
    out: dict[int, str] = {}
    for part in spec.replace(" ", "").split(","):
        if not part:
            continue
        num, _, proto = part.partition("/")
        try:
            port = int(num)
        except ValueError:
            raise ConfigError(f"port {part!r}: write a number, e.g. 502 or 5020/modbus") from None
        if not 1 <= port <= 65535:
            raise ConfigError(f"port {port}: must be within 1–65535")
        if proto:
            if proto not in protos:
                raise ConfigError(
                    f"port {part!r}: no installed adapter scans {proto!r} "
                    f"(installed: {', '.join(sorted(protos)) or 'none'})"
                )
        elif port in known:
            proto = known[port]
        else:
            raise ConfigError(
                f"port {port}: say which protocol it speaks, e.g. {port}/"
                f"{next(iter(sorted(protos)), 'modbus')}"
            )
        out[port] = proto
    if not out:
        raise ConfigError("no ports given, e.g. --ports 502,4840")
    return out

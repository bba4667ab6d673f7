"""Request planner: coalesce points into as few Modbus reads as the spec and device allow.

Pure (no I/O) except :func:`read_bisecting`, which takes the read function as an argument.

* Reads never exceed the spec limits (125 registers for FC3/FC4, 2000 bits for FC1/FC2) nor
  the device's own (``max_registers_per_read``, ``max_bits_per_read``).
* Points closer than ``max_gap`` registers/bits share one read (reading a few unused
  registers is cheaper than another round trip); a larger gap starts a new read.
* Poll classes (``fast``/``slow``) are planned separately so each can run at its own interval.
* Exception 02 (ILLEGAL DATA ADDRESS) for a coalesced read is learned: the read is split in
  halves and retried (bisection) until the failing point is isolated. Only that point is
  marked illegal (quality ``bad``, ``modbus_exception_2``); a boundary that only fails when
  read across (a hole in a gap, or an internal block boundary) becomes a *cut* the planner
  never reads across again. Illegal points and cuts survive re-planning.
* Exception 03 (ILLEGAL DATA VALUE) for a multi-point read usually means "request too long"
  (many meters allow 20–60 registers): the request size is halved and the read's points are
  re-read in chunks until they succeed; the size that worked becomes the device's limit
  (:attr:`Planner.learned`, reported with the profile setting to change). A single point that
  is still refused keeps the exception as its quality reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

SPEC_MAX_REGISTERS = 125
SPEC_MAX_BITS = 2000
BIT_TABLES = ("coil", "discrete")
#: Modbus read function code per table.
READ_FC = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}


@dataclass(frozen=True, slots=True)
class Item:
    """What the planner needs to know about one point."""

    key: int
    """Index of the point in the adapter's point list."""
    table: str
    """coil, discrete, input or holding."""
    address: int
    """0-based PDU address."""
    count: int = 1
    """Registers (or bits) the point occupies."""
    poll: str = "fast"


@dataclass(slots=True)
class Read:
    """One planned request: ``count`` registers/bits of ``table`` from ``start``."""

    table: str
    start: int
    count: int
    poll: str
    members: list[tuple[int, int]] = field(default_factory=list)
    """(point key, offset of the point inside the read) pairs."""
    decoder: Any = None
    """Slot for the adapter's compiled decoder of this read (built once per plan)."""
    template: str | None = None
    """Slot for the adapter's JSON template of this read (built once per plan)."""
    keys: list[int] | None = None
    """Slot for the member keys in decoding order (built once per plan)."""

    @property
    def end(self) -> int:
        """First address after the read."""
        return self.start + self.count

    @property
    def function_code(self) -> int:
        """FC1–FC4 for this read."""
        return READ_FC[self.table]


class Planner:
    """Plans reads for one device and remembers what exception 02 taught it.

    Args:
        items: the device's points.
        max_registers: device limit per register read (capped at 125).
        max_bits: device limit per bit read (capped at 2000).
        max_gap: largest run of unused registers/bits read to join two points.
    """

    def __init__(
        self,
        items: Iterable[Item],
        *,
        max_registers: int = SPEC_MAX_REGISTERS,
        max_bits: int = SPEC_MAX_BITS,
        max_gap: int = 10,
    ) -> None:
        self.items = {i.key: i for i in items}
        self.max_registers = max(1, min(max_registers, SPEC_MAX_REGISTERS))
        self.max_bits = max(1, min(max_bits, SPEC_MAX_BITS))
        self.max_gap = max(0, max_gap)
        self.illegal: set[int] = set()
        """Keys of points the device refused with exception 02 when read alone."""
        self.cuts: set[tuple[str, int]] = set()
        """(table, address): no read may cover both ``address - 1`` and ``address``."""
        for it in self.items.values():
            limit = self.max_bits if it.table in BIT_TABLES else self.max_registers
            if it.count > limit:
                raise ValueError(
                    f"point {it.key} needs {it.count} registers, more than the read limit {limit}"
                )
        self.refused: set[int] = set()
        """Keys of points the device refused with exception 03 even when read alone."""
        self.learned: dict[str, int] = {}
        """Request limits learned from exception 03, by profile setting name
        (``max_registers_per_read`` / ``max_bits_per_read``)."""
        self.reads: list[Read] = []
        self.replan()

    def limit(self, table: str) -> int:
        """Largest read for ``table`` on this device."""
        return self.max_bits if table in BIT_TABLES else self.max_registers

    def replan(self) -> list[Read]:
        """Recompute :attr:`reads` from the items, illegal points and cuts."""
        groups: dict[tuple[str, str], list[Item]] = {}
        for it in self.items.values():
            if it.key not in self.illegal and it.key not in self.refused:
                groups.setdefault((it.poll, it.table), []).append(it)
        forbidden: dict[str, list[tuple[int, int]]] = {}
        for key in self.illegal | self.refused:
            it = self.items[key]
            forbidden.setdefault(it.table, []).append((it.address, it.address + it.count))
        reads: list[Read] = []
        for (poll, table), items in sorted(groups.items()):
            items.sort(key=lambda i: (i.address, i.count))
            limit = self.limit(table)
            cuts = sorted(a for t, a in self.cuts if t == table)
            holes = forbidden.get(table, [])
            cur: Read | None = None
            for it in items:
                if cur is not None:
                    end = max(cur.end, it.address + it.count)
                    if (
                        it.address - cur.end <= self.max_gap
                        and end - cur.start <= limit
                        and not _crosses(cur.start, end, cuts, holes)
                    ):
                        cur.count = end - cur.start
                        cur.members.append((it.key, it.address - cur.start))
                        continue
                cur = Read(table, it.address, it.count, poll, [(it.key, 0)])
                reads.append(cur)
        self.reads = reads
        self._for: dict[tuple[str, ...], list[Read]] = {}
        return reads

    def reads_for(self, polls: Iterable[str]) -> list[Read]:
        """The planned reads of the given poll classes."""
        key = tuple(polls)
        got = self._for.get(key)
        if got is None:
            wanted = set(key)
            got = self._for[key] = [r for r in self.reads if r.poll in wanted]
        return got

    def naive_request_count(self) -> int:
        """Requests one-read-per-point would need (the planner's baseline)."""
        return len(self.items)

    # -- learning from exception 02 ----------------------------------------------------------
    def split(self, read: Read) -> tuple[Read, Read]:
        """Split a multi-point read into two tight reads (halves of its members by address)."""
        if len(read.members) < 2:
            raise ValueError("cannot split a single-point read")
        members = sorted(read.members, key=lambda m: m[1])
        half = len(members) // 2
        return self._tight(read, members[:half]), self._tight(read, members[half:])

    def _tight(self, read: Read, members: Sequence[tuple[int, int]]) -> Read:
        items = [self.items[k] for k, _ in members]
        start = min(i.address for i in items)
        end = max(i.address + i.count for i in items)
        return Read(
            read.table, start, end - start, read.poll, [(i.key, i.address - start) for i in items]
        )

    def learn_cut(self, table: str, address: int) -> None:
        """Reads across ``address`` fail although both sides read fine: never cross it again."""
        self.cuts.add((table, address))

    def learn_illegal(self, key: int) -> None:
        """The point ``key`` alone is refused with exception 02: stop reading it."""
        self.illegal.add(key)

    # -- learning from exception 03 ----------------------------------------------------------
    def learn_limit(self, table: str, count: int) -> bool:
        """Reads of ``table`` must not exceed ``count`` registers/bits (never raises a limit).

        Returns True when the limit went down (the caller re-plans)."""
        if table in BIT_TABLES:
            if count >= self.max_bits:
                return False
            self.max_bits = max(1, count)
            self.learned["max_bits_per_read"] = self.max_bits
        else:
            if count >= self.max_registers:
                return False
            self.max_registers = max(1, count)
            self.learned["max_registers_per_read"] = self.max_registers
        return True

    def chunks(self, read: Read, limit: int) -> list[Read]:
        """The members of ``read`` regrouped into tight reads of at most ``limit`` each."""
        out: list[Read] = []
        cur: list[tuple[int, int]] = []
        start = end = 0
        for key, _ in sorted(read.members, key=lambda m: m[1]):
            it = self.items[key]
            if cur and max(end, it.address + it.count) - start > limit:
                out.append(self._tight(read, cur))
                cur = []
            if not cur:
                start, end = it.address, it.address + it.count
            end = max(end, it.address + it.count)
            cur.append((key, 0))
        if cur:
            out.append(self._tight(read, cur))
        return out


def _crosses(start: int, end: int, cuts: Sequence[int], holes: Sequence[tuple[int, int]]) -> bool:
    for c in cuts:
        if start < c < end:
            return True
    for a, b in holes:
        if a < end and b > start:
            return True
    return False


class IllegalAddress(Exception):
    """Raised by a read callback for exception 02 (what :func:`read_bisecting` learns from)."""


class RequestRefused(Exception):
    """Raised by a read callback for exception 03 (what :func:`read_learning` learns from).

    ``error`` is the original exception, re-raised by callers that cannot learn from it."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class Outcome:
    """What :func:`read_learning` got and learned for one planned read."""

    ok: list[tuple[Read, Sequence[int] | Sequence[bool]]] = field(default_factory=list)
    """(read, values) pairs that succeeded."""
    illegal: list[int] = field(default_factory=list)
    """Keys refused with exception 02 when read alone."""
    refused: list[int] = field(default_factory=list)
    """Keys still refused with exception 03 when read alone (not a size problem)."""
    limit: int | None = None
    """Request size learned from exception 03 (None: nothing learned)."""
    refused_size: int | None = None
    """The smallest request size the device refused with exception 03."""


async def read_learning(
    planner: Planner,
    read: Read,
    do_read: Callable[[Read], Awaitable[Sequence[int] | Sequence[bool]]],
) -> Outcome:
    """Read ``read``, learning from exception 02 (holes, by bisection) and exception 03
    (request too long, by halving the request size).

    ``do_read`` raises :class:`IllegalAddress` for 02 and :class:`RequestRefused` for 03; any
    other exception propagates. What is learned is stored in ``planner`` and the plan is
    recomputed when something was learned.
    """
    out = Outcome()
    learned = False

    async def attempt(r: Read) -> bool:
        nonlocal learned
        try:
            out.ok.append((r, await do_read(r)))
            return True
        except IllegalAddress:
            learned = True
            if len(r.members) == 1:
                key = r.members[0][0]
                planner.learn_illegal(key)
                out.illegal.append(key)
                return False
            first, second = planner.split(r)
            ok_first = await attempt(first)
            ok_second = await attempt(second)
            if ok_first and ok_second:
                # Each half reads, the whole does not: the boundary between them is the problem.
                planner.learn_cut(r.table, second.start)
            return False
        except RequestRefused:
            widest = max(planner.items[k].count for k, _ in r.members)
            if len(r.members) == 1 or r.count <= widest:
                # Refused alone: not a size problem. Stop reading it (like a hole), keep the
                # exception as its quality reason.
                learned = True
                out.refused.extend(k for k, _ in r.members)
                planner.refused.update(k for k, _ in r.members)
                return False
            refused_before = len(out.refused)
            size = max(widest, r.count // 2)
            parts = planner.chunks(r, size)
            results = [await attempt(c) for c in parts]
            if any(results) and len(out.refused) == refused_before:
                # The halved size worked and no single point explains the refusal: it is the
                # device's limit from now on (a deeper halving inside a failing part lowers it
                # further; limits never go up).
                out.refused_size = min(out.refused_size or r.count, r.count)
                if planner.learn_limit(r.table, size):
                    learned = True
                    out.limit = planner.limit(r.table)
            return False

    await attempt(read)
    if learned:
        planner.replan()
    return out


async def read_bisecting(
    planner: Planner,
    read: Read,
    do_read: Callable[[Read], Awaitable[Sequence[int] | Sequence[bool]]],
) -> tuple[list[tuple[Read, Sequence[int] | Sequence[bool]]], list[int]]:
    """Read ``read``; on exception 02 bisect until only the truly illegal points are left.

    ``do_read`` raises :class:`IllegalAddress` for exception 02; any other exception
    propagates (a timeout is not a reason to split). Learned cuts and illegal points are
    stored in ``planner`` and the plan is recomputed when something was learned.

    Returns:
        (successful (read, values) pairs, keys of points found illegal).
    """
    got = await read_learning(planner, read, do_read)
    return got.ok, got.illegal

"""Proof of delivery: per site and stream, what the site has and what the hub holds.

For each source of each ``FLEET_*`` stream on the hub:

- the hub's view (always available): the source's ``seq`` (last site sequence received),
  ``lag`` (messages the site had not yet sent at last contact) and ``active`` (time since
  the last contact) from the hub stream's info;
- the site's view (when the leaf link is up): first and last sequence and last timestamp of
  the site's stream, asked through ``$JS.<site>.API.STREAM.INFO`` (read-only, allowed by
  the site's permissions);
- completeness by sequence: every sourced message carries the site's stream sequence in its
  ``Nats-Stream-Source`` header; the set present at the hub is compared with the site's
  ``first..last`` range; missing ranges are the gaps, a sequence present twice a duplicate.

Lag in seconds is the site's last message time minus the time the hub stored the newest
message it has from that site (0 when nothing is missing); without the site's view it is the
time since the hub last heard from the source (or, if the hub lost that record, the age of
the newest message it has from the site): the hub cannot know what it is missing.

A hub stream whose info cannot be read now (a JetStream leader election, a deleted stream)
never makes its sites' rows vanish: each row it should have is still there with
``hub_stream_error`` saying why, and the site's own view where the link allows. Which rows
a hub stream should have comes from the hub's state when given, else from the other hub
streams (every site is in ``FLEET_KPI`` and ``FLEET_EVENTS``); when even that is unknown,
one row for the hub stream with site ``*``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from nats.js.api import ConsumerConfig, DeliverPolicy

from kit.hub.config import HUB_STREAMS, HubState, site_filter
from kit.hub.sources import site_stream_for

#: Inbox prefix for requests the hub makes to sites (sites may publish replies under it).
REPLY_PREFIX = "$KIT.fleet.reply"
MAX_GAPS_SHOWN = 20
#: JetStream API error code of "stream not found".
STREAM_NOT_FOUND = 10059
#: Site id of the row of a hub stream whose sites are not known (it could not be read).
ANY_SITE = "*"


@dataclass
class SourceStatus:
    """Delivery of one site stream into one hub stream."""

    site: str
    stream: str
    hub_stream: str
    site_reachable: bool = False
    site_first_seq: int | None = None
    site_last_seq: int | None = None
    site_last_ts: str | None = None
    hub_seq: int | None = None
    """Last site sequence the hub's source reports received."""
    source_lag: int | None = None
    """Messages behind at the hub's last contact (the hub's own figure)."""
    active_s: float | None = None
    """Seconds since the hub last heard from this source (None: never)."""
    present: int = 0
    expected: int | None = None
    completeness_pct: float | None = None
    lag_msgs: int | None = None
    lag_s: float | None = None
    duplicates: int = 0
    gaps: list[tuple[int, int]] = field(default_factory=list)
    lost: list[tuple[int, int]] = field(default_factory=list)
    """Sequences the site discarded (its retention limits) before the hub had them."""
    link_in_bytes_s: float | None = None
    """Bytes/s site → hub on the site's leaf link (``kit.hub.link``; None: not measured)."""
    link_out_bytes_s: float | None = None
    error: str | None = None
    """The hub's source reports this error (JSON of the source's ``error``)."""
    hub_stream_error: str | None = None
    """The hub stream's info could not be read now: why (the hub's figures are unknown)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def parse_source_header(value: str) -> tuple[str, int] | None:
    """``(site stream, site sequence)`` from a ``Nats-Stream-Source`` header, or None.

    The header is ``<stream>[:<hash>] <seq> <filter> <transform> <subject> …``.
    """
    parts = value.split()
    if len(parts) < 2:
        return None
    try:
        return parts[0].split(":", 1)[0], int(parts[1])
    except ValueError:
        return None


def gaps_in(seqs: set[int], first: int, last: int) -> list[tuple[int, int]]:
    """Missing ranges ``(from, to)`` of ``first..last`` not in ``seqs``."""
    out: list[tuple[int, int]] = []
    start = None
    for s in range(first, last + 1):
        if s not in seqs:
            if start is None:
                start = s
        elif start is not None:
            out.append((start, s - 1))
            start = None
    if start is not None:
        out.append((start, last))
    return out


async def _request(nc: Any, subject: str, timeout: float) -> dict[str, Any] | None:
    try:
        msg = await nc.request(subject, b"", timeout=timeout)
    except Exception:  # no responders / timeout: the site or stream is not reachable now
        return None
    try:
        return cast("dict[str, Any]", json.loads(msg.data))
    except ValueError:
        return None


async def scan_hub(js: Any, hub_stream: str, site: str, site_stream: str) -> dict[str, Any]:
    """Read the site's messages in a hub stream: sequences (with repeats) and newest time."""
    seqs: list[int] = []
    newest: datetime | None = None
    flt = site_filter(site_stream, site)
    # How many there are first, so reading stops at the last one instead of at a timeout.
    info = await js.stream_info(hub_stream, subjects_filter=flt)
    if not sum((info.state.subjects or {}).values()):
        return {"seqs": seqs, "newest": newest}
    sub = await js.subscribe(
        flt,
        stream=hub_stream,
        ordered_consumer=True,
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, headers_only=True),
    )
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=2.0)
            except Exception:
                break  # nothing (more) for this filter
            parsed = parse_source_header((msg.headers or {}).get("Nats-Stream-Source", ""))
            if parsed and parsed[0] == site_stream:
                seqs.append(parsed[1])
                newest = msg.metadata.timestamp
            if msg.metadata.num_pending == 0:
                break
    finally:
        await sub.unsubscribe()
    return {"seqs": seqs, "newest": newest}


async def _hub_stream_info(
    nc: Any, hub_stream: str, timeout: float
) -> tuple[dict[str, Any] | None, str | None, bool]:
    """``(info, why not, not found)`` of a hub stream: the info, or why it cannot be read."""
    try:
        msg = await nc.request(f"$JS.API.STREAM.INFO.{hub_stream}", b"", timeout=timeout)
    except Exception as exc:  # timeout during a leader election, no responders...
        return None, f"no answer from the hub's JetStream ({type(exc).__name__}: {exc})", False
    try:
        info = json.loads(msg.data)
    except ValueError:
        return None, "the hub's answer is not JSON", False
    if isinstance(info, dict) and "config" in info:
        return info, None, False
    err = (info.get("error") if isinstance(info, dict) else None) or {}
    why = f"{err.get('description') or 'no stream info'} (JetStream error {err.get('err_code')})"
    return None, why, err.get("err_code") == STREAM_NOT_FOUND


def _source_sites(info: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(site, source config)`` of every site source in a hub stream's info."""
    out = []
    for src in info["config"].get("sources") or []:
        api = (src.get("external") or {}).get("api", "")
        if api.startswith("$JS.") and api.endswith(".API"):
            out.append((api[len("$JS.") : -len(".API")], src))
    return out


def _expected(
    hub_stream: str, state: HubState | None, known_sites: set[str]
) -> list[tuple[str, str]] | None:
    """``(site, site stream)`` a hub stream should source; None when that is not known.

    From the hub's state when given and from the sites the other hub streams source (a
    running hub's state may predate a site added since): every site sends its KPIs and
    events; raw data only the sites the state says.
    """
    every_site = site_stream_for(hub_stream, "none")
    if state is None and (every_site is None or not known_sites):
        return None  # e.g. every hub stream unreadable during a meta leader election
    pairs: set[tuple[str, str]] = set()
    if state is not None:
        for name, entry in state.sites.items():
            site_stream = site_stream_for(hub_stream, entry.raw_data)
            if site_stream is not None:
                pairs.add((name, site_stream))
    if every_site is not None:
        pairs |= {(name, every_site) for name in known_sites}
    return sorted(pairs)


async def fleet_status(
    nc: Any, site: str | None = None, timeout: float = 2.0, state: HubState | None = None
) -> list[SourceStatus]:
    """Proof of delivery for every source of every hub stream (or one site's).

    ``nc`` is a connection to the hub (domain ``hub``) whose inbox prefix is
    :data:`REPLY_PREFIX`, so the sites' replies are allowed back over their links.
    ``state`` (the hub's ``hub.json``), when given, says which rows an unreadable hub
    stream should have (see the module's docstring).
    """
    js = nc.jetstream()
    out: list[SourceStatus] = []
    infos = {h: await _hub_stream_info(nc, h, timeout) for h in HUB_STREAMS}
    known_sites = {name for info, _, _ in infos.values() if info for name, _ in _source_sites(info)}
    for hub_stream, (info, why, not_found) in infos.items():
        if info is None:
            out += await _unreadable_rows(
                nc,
                hub_stream,
                why or "",
                not_found,
                site,
                timeout,
                _expected(hub_stream, state, known_sites),
            )
            continue
        live = {(s.get("external") or {}).get("api"): s for s in info.get("sources") or []}
        for name, src in _source_sites(info):
            if site and name != site:
                continue
            api = f"$JS.{name}.API"
            st = SourceStatus(site=name, stream=src["name"], hub_stream=hub_stream)
            li = live.get(api) or {}
            st.hub_seq = li.get("seq")
            st.source_lag = li.get("lag")
            active = li.get("active")
            st.active_s = None if active is None or active < 0 else active / 1e9
            if li.get("error"):
                st.error = json.dumps(li["error"])
            site_info = await _request(nc, f"{api}.STREAM.INFO.{src['name']}", timeout)
            scanned = await scan_hub(js, hub_stream, name, src["name"])
            _judge(st, site_info, scanned)
            out.append(st)
    return out


async def _unreadable_rows(
    nc: Any,
    hub_stream: str,
    why: str,
    not_found: bool,
    site: str | None,
    timeout: float,
    expected: list[tuple[str, str]] | None,
) -> list[SourceStatus]:
    """The rows of a hub stream that cannot be read now, each saying why."""
    if not_found and not expected:
        return []  # never created: nothing is sourced there (FLEET_DATA without raw data)
    if expected is None:  # which sites it has is unknown: one row for the whole stream
        return [
            SourceStatus(
                site=site or ANY_SITE, stream=ANY_SITE, hub_stream=hub_stream, hub_stream_error=why
            )
        ]
    rows = []
    for name, site_stream in expected:
        if site and name != site:
            continue
        st = SourceStatus(
            site=name, stream=site_stream, hub_stream=hub_stream, hub_stream_error=why
        )
        # The site's own view still tells the technician what there is to deliver.
        site_info = await _request(nc, f"$JS.{name}.API.STREAM.INFO.{site_stream}", timeout)
        at_site = (site_info or {}).get("state")
        if at_site is not None:
            st.site_reachable = True
            st.site_first_seq, st.site_last_seq = at_site["first_seq"], at_site["last_seq"]
            st.site_last_ts = at_site.get("last_ts")
        rows.append(st)
    return rows


def _judge(st: SourceStatus, site_info: dict[str, Any] | None, scanned: dict[str, Any]) -> None:
    seqs = scanned["seqs"]
    present = set(seqs)
    st.duplicates = len(seqs) - len(present)
    state = (site_info or {}).get("state")
    if state is not None:
        st.site_reachable = True
        st.site_first_seq, st.site_last_seq = state["first_seq"], state["last_seq"]
        st.site_last_ts = state.get("last_ts")
        first, last = st.site_first_seq, st.site_last_seq
    else:
        # The site's own view is unavailable (link down): judge up to what the hub last knew.
        if st.hub_seq is None and not present:
            return
        first = min(present) if present else 1
        last = max([*present, st.hub_seq or 0]) + (st.source_lag or 0)
    if last < first:  # empty site stream
        st.expected, st.present, st.completeness_pct, st.lag_msgs, st.lag_s = 0, 0, 100.0, 0, 0.0
        return
    below = [s for s in present if s < first]
    if st.site_reachable and below and max(below) + 1 < first:
        # The site's limits dropped these while the hub did not have them yet (a long
        # outage): lost, and named as such — site retention bounds an outage (docs/fleet.md).
        st.lost = [(max(below) + 1, first - 1)]
    in_range = {s for s in present if first <= s <= last}
    st.present = len(in_range)
    st.expected = last - first + 1
    st.completeness_pct = round(100.0 * st.present / st.expected, 3)
    st.gaps = gaps_in(in_range, first, last)[:MAX_GAPS_SHOWN]
    st.lag_msgs = last - max(in_range) if in_range else st.expected
    if st.lag_msgs == 0 and st.site_reachable:
        st.lag_s = 0.0
    elif st.site_reachable and st.site_last_ts and scanned["newest"] is not None:
        site_ts = _parse_ts(st.site_last_ts)
        st.lag_s = max(0.0, (site_ts - scanned["newest"]).total_seconds())
    elif st.active_s is not None:
        st.lag_s = st.active_s
    elif scanned["newest"] is not None:
        # The hub's source lost its contact record (e.g. a new stream leader after a hub
        # node died): the age of the newest message the hub has from the site.
        st.lag_s = max(0.0, (datetime.now(UTC) - scanned["newest"]).total_seconds())


def _parse_ts(text: str) -> datetime:
    # nats-server writes nanoseconds; Python keeps microseconds.
    text = text.rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def alarms(
    rows: list[SourceStatus], max_lag_msgs: int | None = None, max_lag_s: float | None = None
) -> list[str]:
    """One line per source whose lag exceeds a limit, or with gaps or duplicates, or whose
    hub stream cannot be read now."""
    out = []
    for r in rows:
        why = []
        if r.hub_stream_error:  # delivery cannot be proven now: a monitoring check says so
            why.append(f"hub stream {r.hub_stream} not readable: {r.hub_stream_error}")
        if max_lag_msgs is not None and r.lag_msgs is not None and r.lag_msgs > max_lag_msgs:
            why.append(f"lag {r.lag_msgs} messages > {max_lag_msgs}")
        if max_lag_s is not None and r.lag_s is not None and r.lag_s > max_lag_s:
            why.append(f"lag {r.lag_s:.1f} s > {max_lag_s:g} s")
        if r.gaps:
            why.append(f"{len(r.gaps)} gap(s)")
        if r.lost:
            why.append("lost at the site before delivery: " + _ranges(r.lost))
        if r.duplicates:
            why.append(f"{r.duplicates} duplicate(s)")
        if why:
            out.append(f"ALARM {r.site} {r.stream}: " + ", ".join(why))
    return out


def _ranges(ranges: list[tuple[int, int]]) -> str:
    return ", ".join(f"{a}-{b}" if a != b else str(a) for a, b in ranges)

"""The alert book of one model: alerts, people's labels, work orders — durable, append-only.

``<data_dir>/models/<name>/book.jsonl`` holds one JSON record per line, never rewritten:

* ``alert``: an anomaly alert raised by one version (role active or shadow) — id, time,
  score, threshold, the most changed signals and the recent windows (the evidence);
* ``cleared``: the alert ended;
* ``label``: a person's verdict on an alert (``real`` fault, ``none`` = no fault, ``unsure``),
  with a note, who and when, and when the fault was confirmed on the machine; a later label
  of the same alert replaces the earlier one (both stay in the file);
* ``work_order``: a work order's full state after each change (draft, approved, rejected,
  closed) — the last record of an id is its state;
* ``seen``: the sample-time span a version has scored (what "per week" divides by).

Append-only keeps every earlier state for the audit and survives a crash (a half-written last
line is skipped on reading). The figures people act on are computed here, from the records
alone (:func:`version_figures`, :func:`mttr_figures`), so ``kit model show`` reads them
without a runtime and the component publishes the same numbers as KPIs.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
from pathlib import Path
from typing import Any

WEEK_S = 7 * 86400.0
LABELS = ("real", "none", "unsure")
"""Verdicts: a real fault, no fault (a false alert), not sure (not counted either way)."""
SEEN_EVERY_S = 3600.0
"""A ``seen`` record is written at most this often (sample time) per version and component."""

log = logging.getLogger(__name__)


def book_path(data_dir: Path, model: str) -> Path:
    """``<data_dir>/models/<model>/book.jsonl``."""
    return Path(data_dir) / "models" / model / "book.jsonl"


class AlertBook:
    """The merged view of one model's book file, kept current as records are appended."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.alerts: dict[str, dict[str, Any]] = {}
        """Alert id → the alert record, with ``cleared_at`` and ``label`` merged in."""
        self.work_orders: dict[str, dict[str, Any]] = {}
        """Work order id → its latest state."""
        self.seen: dict[tuple[int, str, str], list[float]] = {}
        """(version, component, run) → [first, last] sample time scored in that run."""
        self.skipped = 0
        """Lines that could not be read (a torn last line after a crash, or damage)."""
        self._seen_written: dict[tuple[int, str, str], float] = {}
        self.reload()

    @classmethod
    def of(cls, data_dir: Path, model: str) -> AlertBook:
        """The book of ``model`` in the site data directory."""
        return cls(book_path(data_dir, model))

    def reload(self) -> None:
        """Read the whole file again (cheap: alerts are rare)."""
        self.alerts, self.work_orders, self.seen, self.skipped = {}, {}, {}, 0
        if not self.path.exists():
            return
        with self.path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    self._apply(rec)
                except (ValueError, KeyError, TypeError) as exc:
                    self.skipped += 1
                    log.warning("%s:%d: unreadable record skipped: %s", self.path, n, exc)

    def _apply(self, rec: dict[str, Any]) -> None:
        t = rec["t"]
        if t == "alert":
            self.alerts[rec["id"]] = {k: v for k, v in rec.items() if k != "t"}
        elif t == "cleared":
            self.alerts[rec["id"]]["cleared_at"] = rec["at"]
        elif t == "label":
            self.alerts[rec["id"]]["label"] = {k: v for k, v in rec.items() if k not in ("t", "id")}
        elif t == "work_order":
            self.work_orders[rec["id"]] = {k: v for k, v in rec.items() if k != "t"}
        elif t == "seen":
            key = (int(rec["version"]), str(rec["component"]), str(rec.get("run", "")))
            span = self.seen.setdefault(key, [rec["from"], rec["to"]])
            span[0], span[1] = min(span[0], rec["from"]), max(span[1], rec["to"])

    def append(self, rec: dict[str, Any]) -> None:
        """Write one record (flushed to disk before returning) and apply it."""
        self._apply(rec)  # first: a record the view cannot take is never written
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(rec, sort_keys=True, separators=(",", ":")) + "\n"
        with self.path.open("a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            # A label or an approval a person gave must survive a power cut right after.
            os.fsync(f.fileno())

    def note_seen(
        self, version: int, component: str, run: str, ts: float, *, force: bool = False
    ) -> None:
        """Extend the span ``version`` scored in this ``run`` of ``component`` (a restart is a
        new run: the time the runtime was down is not counted); written at most every
        :data:`SEEN_EVERY_S` of sample time."""
        key = (version, component, run)
        span = self.seen.get(key)
        first = span[0] if span else ts
        last_written = self._seen_written.get(key)
        if span is None or force or last_written is None or ts - last_written >= SEEN_EVERY_S:
            self.append(
                {
                    "t": "seen",
                    "version": version,
                    "component": component,
                    "run": run,
                    "from": first,
                    "to": ts,
                }
            )
            self._seen_written[key] = ts
        else:
            span[1] = max(span[1], ts)

    def next_number(self, component: str) -> int:
        """Next alert number of ``component`` (ids are ``<component>-<n>``)."""
        prefix = f"{component}-"
        nums = [
            int(i[len(prefix) :])
            for i in self.alerts
            if i.startswith(prefix) and i[len(prefix) :].isdigit()
        ]
        return max(nums, default=0) + 1

    def observed_s(self, version: int) -> float:
        """Seconds of sample time ``version`` has scored (summed over components)."""
        return sum(to - fr for (v, _c, _r), (fr, to) in self.seen.items() if v == version)


def version_figures(book: AlertBook, version: int) -> dict[str, Any]:
    """Precision, false alerts per week and lead time of one version, from people's labels.

    * precision = alerts labelled ``real`` / alerts labelled ``real`` or ``none`` (``unsure``
      and unlabelled alerts count neither way); None until one alert is decided;
    * false alerts per week = alerts labelled ``none`` / weeks of sample time scored;
    * lead time = median over ``real`` alerts of (fault confirmed on the machine − alert raised).
    """
    alerts = [a for a in book.alerts.values() if a["version"] == version]
    by = {lab: [a for a in alerts if a.get("label", {}).get("label") == lab] for lab in LABELS}
    decided = len(by["real"]) + len(by["none"])
    weeks = book.observed_s(version) / WEEK_S
    leads = [a["label"]["fault_at"] - a["raised_at"] for a in by["real"]]
    return {
        "version": version,
        "alerts": len(alerts),
        "real": len(by["real"]),
        "none": len(by["none"]),
        "unsure": len(by["unsure"]),
        "unlabelled": len(alerts) - sum(len(v) for v in by.values()),
        "precision_pct": 100.0 * len(by["real"]) / decided if decided else None,
        "false_alerts_per_week": len(by["none"]) / weeks if weeks > 0 else None,
        "lead_time_h": statistics.median(leads) / 3600 if leads else None,
        "observed_h": book.observed_s(version) / 3600,
    }


def mttr_figures(book: AlertBook, version: int | None = None) -> dict[str, Any]:
    """Mean hours from alert to approved work order, to closure, and alert → closure (MTTR).

    Over closed work orders (of ``version`` when given); None where there is none yet.
    """
    closed = [
        w
        for w in book.work_orders.values()
        if w["state"] == "closed" and (version is None or w["version"] == version)
    ]

    def mean_h(pairs: list[tuple[float | None, float | None]]) -> float | None:
        d = [b - a for a, b in pairs if a is not None and b is not None]
        return sum(d) / len(d) / 3600 if d else None

    return {
        "closed": len(closed),
        "alert_to_order_h": mean_h([(w["alert_raised_at"], w.get("approved_at")) for w in closed]),
        "order_to_close_h": mean_h([(w.get("approved_at"), w["closed_at"]) for w in closed]),
        "mttr_h": mean_h([(w["alert_raised_at"], w["closed_at"]) for w in closed]),
    }

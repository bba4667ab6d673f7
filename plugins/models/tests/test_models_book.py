"""The alert book: durable records, a torn last line, numbering and scored time across runs."""

from __future__ import annotations

import pytest
from kit_models import evidence
from kit_models.book import WEEK_S, AlertBook, version_figures


def _alert(n: int, t: float, version: int = 1) -> dict:
    return {
        "t": "alert",
        "id": f"c-{n}",
        "model": "m",
        "version": version,
        "role": "active",
        "component": "c",
        "asset": "a/b/c/d",
        "raised_at": t,
        "score": 5.0,
        "threshold": 2.0,
    }


def test_book_survives_a_torn_line_and_counts_scored_time_per_run(tmp_path) -> None:
    path = tmp_path / "book.jsonl"
    book = AlertBook(path)
    # Run 1 scores 10 h, run 2 (after a restart) 4 h; the gap between them is not scored.
    book.note_seen(1, "c", "run1", 0.0)
    book.note_seen(1, "c", "run1", 36_000.0, force=True)
    book.note_seen(1, "c", "run2", 100_000.0)
    book.note_seen(1, "c", "run2", 114_400.0, force=True)
    book.append(_alert(1, 1000.0))
    book.append(_alert(2, 2000.0))
    book.append({"t": "label", "id": "c-1", "label": "none", "note": "", "who": "x", "at": 1.0})
    book.append(
        {
            "t": "label",
            "id": "c-2",
            "label": "real",
            "note": "",
            "who": "x",
            "at": 2.0,
            "fault_at": 9200.0,
        }
    )
    with path.open("a") as f:
        f.write('{"t": "label", "id": "c-1", "lab')  # power cut in the middle of a write

    again = AlertBook(path)
    assert again.skipped == 1 and again.next_number("c") == 3
    assert again.observed_s(1) == 36_000.0 + 14_400.0
    f = version_figures(again, 1)
    assert f["precision_pct"] == 50.0 and f["real"] == 1 and f["none"] == 1
    assert f["false_alerts_per_week"] == pytest.approx(1 / ((36_000.0 + 14_400.0) / WEEK_S))
    assert f["lead_time_h"] == pytest.approx((9200.0 - 2000.0) / 3600)
    assert version_figures(again, 2)["precision_pct"] is None  # nothing decided for v2


def test_evidence_plot_checks_and_priority() -> None:
    ev = {
        "signals": ["vib", "temp"],
        "t": [60.0, 120.0, 180.0],
        "values": [[1, 50], [2, 50], [4, 51]],
    }
    text = evidence.text_plot(ev, 180.0)
    vib = text.splitlines()[0]
    assert vib.startswith("vib") and "▁" in vib and "█" in vib and "1 .. 4" in vib
    svg = evidence.svg_plot(ev, 180.0)
    assert svg.startswith("<svg") and svg.count("<polyline") == 2 and svg.endswith("</svg>")
    checks = evidence.suggested_checks(
        {"vib": 9.0, "temp": 0.5}, {"vib": "vibration_velocity_rms_mm_s"}
    )
    assert "lubrication" in " ".join(checks) and checks[-1] == evidence.GENERAL
    assert [
        evidence.priority(r, c) for r, c in ((1.2, False), (1.6, False), (3.5, False), (1.2, True))
    ] == [
        "low",
        "medium",
        "high",
        "medium",
    ]


def test_work_order_transitions_follow_the_guardrail() -> None:
    from kit_models import workorders

    wo = {"id": "WO-c-1", "state": "draft", "history": []}
    rejected = workorders.transition(wo, "reject", "ana", "known overload", 10.0)
    assert rejected["state"] == "rejected" and rejected["rejected_by"] == "ana"
    assert rejected["rejected_note"] == "known overload" and wo["state"] == "draft"
    with pytest.raises(ValueError, match="is rejected"):
        workorders.transition(rejected, "approve", "bo", "", 11.0)
    with pytest.raises(ValueError, match="is draft"):
        workorders.transition(wo, "close", "bo", "", 11.0)  # only an approved order closes
    closed = workorders.transition(
        workorders.transition(wo, "approve", "bo", "", 12.0), "close", "bo", "", 20.0
    )
    assert [h["state"] for h in closed["history"]] == ["approved", "closed"]


async def test_an_unreachable_ticket_system_is_reported_not_raised() -> None:
    import socket

    from kit_models import workorders

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # released: nothing listens there
    hook = workorders.Webhook(url=f"http://127.0.0.1:{port}/t", timeout_s=5)
    ok, detail = await workorders.deliver_webhook(hook, {"id": "WO-c-1", "state": "approved"})
    assert ok is False and f"127.0.0.1:{port}" in detail
    with pytest.raises(ValueError, match="http"):
        workorders.Webhook(url="ftp://x")

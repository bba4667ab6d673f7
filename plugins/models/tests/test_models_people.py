"""People in the loop on a real bus: labels change the KPIs, work orders wait for approval.

A model_scoring component watches a motor whose bearing starts to fail (simulator, fault of
known onset, fake clock). Its alert is labelled from the CLI; the precision KPI follows the
label; a confirmed alert drafts a work order that a local HTTP receiver (the ticket system)
gets only once a person approves it; closing it publishes MTTR; everything survives a
restart of the runtime. A second asset whose policy says auto-send sends without a person.
"""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from click.testing import CliRunner
from kit_models import artefact
from kit_models.train import train

from kit import codec
from kit.cli import cli as kit_cli
from kit.components import ComponentContext
from kit.control import ControlClient
from kit.payloads import Point
from kit.settings import ComponentSpec
from kit.testing import FakeClock, wait_for

ASSET = "test/util/pumps/p1"
ASSET2 = "test/util/pumps/p2"
T0 = 1_790_000_000.0
DAY = 86400.0
HOUR = 3600.0


class Receiver:
    """A ticket system's inbound webhook on 127.0.0.1: records every JSON body POSTed."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                n = int(self.headers["Content-Length"])
                received.append(json.loads(self.rfile.read(n)))
                self.send_response(201)
                self.end_headers()

            def log_message(self, *_a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tickets"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _spec(name: str, asset: str, work_orders: dict[str, Any]) -> ComponentSpec:
    return ComponentSpec(
        name=name,
        type="model_scoring",
        asset=asset,
        config={
            "model": "pump1",
            "inputs": {
                "vib": "vibration_velocity_rms_mm_s",
                "current": "current_a",
                "temp": "winding_temperature_c",
            },
            "fallback": {"signal": "vib", "zones": {"machine_class": "II"}},
            "work_orders": work_orders,
        },
    )


async def _setup(bus, kit_settings, make_runtime, bearing, specs):
    data = kit_settings.data_dir
    history = bearing.simulate(T0, DAY, seed=1, step_s=20)
    artefact.store(
        data, train(history, name="pump1", version=1, points=bearing.POINTS, asset=ASSET)
    )
    artefact.promote(data, "pump1", 1)
    kit_settings.components = specs
    events: list[Any] = []
    kpis: list[Any] = []

    async def on_ev(ev, _m):
        events.append(ev)

    async def on_kpi(k, _m):
        kpis.append(k)

    await bus.subscribe("kit.event.>", codec.decode_event, on_ev)
    await bus.subscribe("kit.kpi.>", codec.decode_kpi, on_kpi)
    clock = FakeClock(datetime.fromtimestamp(T0 + DAY, UTC))
    rt = await make_runtime(kit_settings, clock=clock)
    for s in specs:
        comp = await wait_for(lambda s=s: rt.supervisor.instances[s.name].component, message="up")
        if s.type == "model_scoring":
            await wait_for(lambda c=comp: c.ctx._subs, message="subscribed")
    return rt, clock, events, kpis


async def _send(bus, clock, bearing, asset: str, rows) -> None:
    dev = ComponentContext(f"dev-{asset.rsplit('/', 1)[-1]}", bus, asset=asset)
    for i in range(0, len(rows), 3):
        clock.at = datetime.fromtimestamp(rows[i][0], UTC)
        await dev.publish_samples(
            [Point(name=bearing.POINTS[s], value=v) for _t, s, v in rows[i : i + 3]], ts=clock.at
        )


def _cli(*args: str):
    return asyncio.to_thread(CliRunner().invoke, kit_cli, list(args))


async def test_labels_drive_kpis_and_work_orders_wait_for_approval(
    bus, kit_settings, make_runtime, bearing, receiver, tmp_path
) -> None:
    hook = {"high_confidence": None, "webhook": {"url": receiver.url}}
    rt, clock, events, kpis = await _setup(
        bus, kit_settings, make_runtime, bearing, [_spec("p1-model", ASSET, hook)]
    )
    # A bearing fault from the first sample, growing to 3 mm/s in an hour.
    start = T0 + DAY
    await _send(
        bus,
        clock,
        bearing,
        ASSET,
        bearing.simulate(start, 1.5 * HOUR, seed=3, step_s=20, onset=start, ramp_s=HOUR),
    )
    raised = await wait_for(
        lambda: [e for e in events if e.type == "model_alert_raised"], message="model alert"
    )
    alert_id = raised[0].data["alert_id"]
    raised_at = raised[0].ts.timestamp()
    assert alert_id == "p1-model-1" and raised[0].kind == "alarm"

    def kpi(name: str) -> list[Any]:
        return [k for k in kpis if k.kpi == name and k.attrs.get("version") == 1]

    # "No fault": precision 0 %, one false alert over the time the version has scored.
    out = await _cli("model", "label", alert_id, "none", "--who", "ana", "--url", bus.url)
    assert out.exit_code == 0, out.output
    prec = await wait_for(lambda: kpi("model_precision"), message="precision KPI")
    assert prec[-1].value == 0.0 and prec[-1].unit == "%" and prec[-1].attrs["none"] == 1
    fapw = await wait_for(lambda: kpi("model_false_alerts_per_week"), message="false alerts KPI")
    comp = rt.supervisor.instances["p1-model"].component
    observed = comp.loop.book.observed_s(1)
    assert observed > HOUR  # the component has scored most of the 1.5 h
    assert fapw[-1].value == pytest.approx(1 / (observed / (7 * DAY)))
    assert [e for e in events if e.kind == "work_order"] == []  # "no fault" drafts nothing

    # A technician finds the damage: the same alert relabelled real, fault confirmed 2 h in.
    fault_at = start + 2 * HOUR
    clock.at = datetime.fromtimestamp(fault_at + 600, UTC)
    out = await _cli(
        "model", "label", alert_id, "real", "--who", "bo", "--note", "outer race pitting",
        "--fault-at", datetime.fromtimestamp(fault_at, UTC).isoformat(), "--url", bus.url,
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "precision 100 %" in out.output
    await wait_for(lambda: kpi("model_precision")[-1].value == 100.0, message="precision 100")
    lead = await wait_for(lambda: kpi("model_lead_time_h"), message="lead time KPI")
    assert lead[-1].value == pytest.approx((fault_at - raised_at) / HOUR)
    assert kpi("model_false_alerts_per_week")[-1].value == 0.0
    labelled = [e for e in events if e.kind == "audit" and e.type == "model_alert_labelled"]
    assert [(e.data["who"], e.data["label"]) for e in labelled] == [("ana", "none"), ("bo", "real")]

    # The confirmed alert drafted a work order: an event, and nothing sent yet.
    drafted = await wait_for(
        lambda: [e for e in events if e.type == "work_order_drafted"], message="draft event"
    )
    wo = drafted[0].data
    assert drafted[0].kind == "work_order" and wo["state"] == "draft"
    assert wo["id"] == f"WO-{alert_id}" and wo["asset"] == ASSET and wo["checks"]
    assert wo["evidence_svg"].startswith("<svg") and "vib" in wo["evidence_text"]
    # Delivery would happen inside the label request that drafted it; the request has
    # returned, so an unapproved work order has had every chance to leak.
    assert receiver.bodies == []
    shown = await _cli("model", "alerts", "--url", bus.url)
    assert alert_id in shown.output and "real" in shown.output and "draft" in shown.output
    as_json = json.loads((await _cli("model", "alerts", "--json", "--url", bus.url)).stdout)
    assert [(a["id"], a["label"], a["labelled_by"]) for a in as_json] == [(alert_id, "real", "bo")]
    listed = await _cli("workorder", "list", "--state", "draft", "--url", bus.url)
    assert wo["id"] in listed.output and "draft" in listed.output

    # A person approves: audited, announced as approved, and POSTed to the ticket system.
    out = await _cli("workorder", "approve", wo["id"], "--who", "cleo", "--url", bus.url)
    assert out.exit_code == 0, out.output
    assert "approved" in out.output and "sent" in out.output
    assert len(receiver.bodies) == 1
    sent = receiver.bodies[0]
    assert sent["schema"] == "kit.work_order/1" and sent["id"] == wo["id"]
    assert sent["state"] == "approved" and sent["approved_by"] == "cleo"
    audit = [e for e in events if e.kind == "audit" and e.type == "work_order_approved"]
    assert audit and audit[0].data["who"] == "cleo"
    await wait_for(lambda: [e for e in events if e.type == "work_order_approved"], message="ev")
    # Approving twice is refused (and sends nothing again).
    again = await _cli("workorder", "approve", wo["id"], "--who", "cleo", "--url", bus.url)
    assert again.exit_code != 0 and "is approved" in again.output and len(receiver.bodies) == 1

    # Closed after the repair: MTTR = alert → closure.
    closed_at = fault_at + 5 * HOUR
    clock.at = datetime.fromtimestamp(closed_at, UTC)
    api = ControlClient(bus)
    res = await api.call(
        "workorders.close", {"id": wo["id"], "who": "bo", "note": "bearing replaced"}
    )
    assert res["state"] == "closed"
    mttr = await wait_for(lambda: kpi("model_mttr_h"), message="MTTR KPI")
    assert mttr[-1].value == pytest.approx((closed_at - raised_at) / HOUR)

    # Everything is in the alert book on disk: a new runtime shows the same, and so does
    # `kit model show` without any runtime.
    await rt.stop()
    rt2 = await make_runtime(kit_settings, clock=clock)
    comp2 = await wait_for(lambda: rt2.supervisor.instances["p1-model"].component, message="up")
    await wait_for(lambda: comp2.loop is not None, message="loop")
    alerts = await api.call("models.alerts", {"model": "pump1"})
    assert [(a["id"], a["label"], a["note"], a["work_order_state"]) for a in alerts] == [
        (alert_id, "real", "outer race pitting", "closed")
    ]
    fig = await api.call("models.figures", {"model": "pump1"})
    assert fig[0]["precision_pct"] == 100.0 and fig[0]["mttr_h"] == pytest.approx(mttr[-1].value)
    site = tmp_path / "site.yaml"
    site.write_text(f"site: test\ndata_dir: {kit_settings.data_dir}\n")
    shown = await _cli("--config", str(site), "model", "show", "pump1", "1")
    figures = json.loads(shown.stdout)["figures"]
    listed = await _cli("--config", str(site), "model", "list")
    assert "alerts 1 (labelled precision 100 %)" in listed.stdout
    assert figures["real"] == 1 and figures["lead_time_h"] == pytest.approx(lead[-1].value)


async def test_auto_send_policy_sends_a_high_confidence_work_order_without_a_person(
    bus, kit_settings, make_runtime, bearing, receiver
) -> None:
    policy = {"approval": "auto-send", "high_confidence": 2.0, "webhook": {"url": receiver.url}}
    _rt, clock, events, _kpis = await _setup(
        bus, kit_settings, make_runtime, bearing, [_spec("p2-model", ASSET2, policy)]
    )
    start = T0 + DAY
    await _send(
        bus,
        clock,
        bearing,
        ASSET2,
        bearing.simulate(start, 1.5 * HOUR, seed=4, step_s=20, onset=start, ramp_s=HOUR),
    )
    approved = await wait_for(
        lambda: [e for e in events if e.type == "work_order_approved" and e.kind == "work_order"],
        message="auto-approved work order",
    )
    wo = approved[0].data
    # Drafted on its own (score ≥ 2 × threshold), approved by the asset's policy, sent.
    assert wo["reason"].startswith("high confidence") and wo["score"] >= 2 * wo["threshold"]
    assert wo["approved_by"].startswith("policy auto-send")
    audit = [e for e in events if e.kind == "audit" and e.type == "work_order_approved"]
    assert audit[0].data["who"].startswith("policy auto-send")
    await wait_for(lambda: [e for e in events if e.type == "work_order_sent"], message="sent")
    assert [b["id"] for b in receiver.bodies] == [wo["id"]]


async def test_tui_labels_an_alert_and_approves_its_work_order(
    bus, kit_settings, make_runtime, bearing, receiver
) -> None:
    from kit_tui.app import KitApp
    from kit_tui.data.link import RuntimeLink
    from kit_tui.screens.dialogs import ConfirmDialog, PromptDialog
    from textual.widgets import DataTable, Input

    hook = {"high_confidence": None, "webhook": {"url": receiver.url}}
    rt, clock, events, _kpis = await _setup(
        bus, kit_settings, make_runtime, bearing, [_spec("p1-model", ASSET, hook)]
    )
    start = T0 + DAY
    await _send(
        bus,
        clock,
        bearing,
        ASSET,
        bearing.simulate(start, 1.5 * HOUR, seed=3, step_s=20, onset=start, ramp_s=HOUR),
    )
    raised = await wait_for(
        lambda: [e for e in events if e.type == "model_alert_raised"], message="model alert"
    )
    aid = raised[0].data["alert_id"]

    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        app.action_go("models")
        await wait_for(lambda: app.current_mode == "models", message="models screen")
        alerts = await wait_for(
            lambda: (
                app.screen.query("#model-alerts").first(DataTable)
                if app.screen.query("#model-alerts")
                else None
            ),
            message="alerts table",
        )
        await wait_for(lambda: aid in alerts.rows, timeout=15, message="alert listed")
        alerts.focus()
        alerts.move_cursor(row=alerts.get_row_index(aid))

        # l: the technician types the verdict and a note.
        await pilot.press("l")
        await wait_for(lambda: isinstance(app.screen, PromptDialog), message="label prompt")
        app.screen.query_one(Input).focus()
        await pilot.press(*["space" if c == " " else c for c in "real loose bearing cap"])
        await pilot.press("enter")
        labelled = await wait_for(
            lambda: [e for e in events if e.kind == "audit" and e.type == "model_alert_labelled"],
            message="label audited",
        )
        assert labelled[0].data["who"] == app.operator
        assert (labelled[0].data["label"], labelled[0].data["note"]) == (
            "real",
            "loose bearing cap",
        )
        drafted = await wait_for(
            lambda: [e for e in events if e.type == "work_order_drafted"], message="drafted"
        )
        wid = drafted[0].data["id"]
        orders = app.screen.query_one("#work-orders", DataTable)
        await wait_for(lambda: wid in orders.rows, timeout=15, message="work order listed")
        assert receiver.bodies == []  # a draft is not sent

        # a, then y: approved by the operator and sent to the ticket system.
        orders.focus()
        orders.move_cursor(row=orders.get_row_index(wid))
        await pilot.press("a")
        await wait_for(lambda: isinstance(app.screen, ConfirmDialog), message="confirm")
        await pilot.press("y")
        await wait_for(lambda: receiver.bodies, message="work order sent")
        assert receiver.bodies[0]["id"] == wid and receiver.bodies[0]["approved_by"] == app.operator
        await wait_for(
            lambda: str(orders.get_cell(wid, "state")) == "approved", message="approved shown"
        )


async def test_the_notify_sink_delivers_a_work_order_only_once_approved(
    bus, kit_settings, make_runtime, bearing, receiver
) -> None:
    # No webhook of its own: the site's notify sink routes approved work orders to the CMMS.
    notify = ComponentSpec(
        name="notify",
        type="notify",
        config={
            "routes": [
                {
                    "name": "cmms",
                    "type": "webhook",
                    "url": receiver.url,
                    "match": {"kinds": ["work_order"], "states": ["approved"]},
                }
            ]
        },
    )
    rt, clock, events, _kpis = await _setup(
        bus,
        kit_settings,
        make_runtime,
        bearing,
        [_spec("p1-model", ASSET, {"high_confidence": None}), notify],
    )
    sink = rt.supervisor.instances["notify"].component
    await wait_for(lambda: sink.ready, message="notify consumer attached")
    start = T0 + DAY
    await _send(
        bus,
        clock,
        bearing,
        ASSET,
        bearing.simulate(start, 1.5 * HOUR, seed=3, step_s=20, onset=start, ramp_s=HOUR),
    )
    raised = await wait_for(
        lambda: [e for e in events if e.type == "model_alert_raised"], message="model alert"
    )
    api = ControlClient(bus)
    await api.call("models.label", {"id": raised[0].data["alert_id"], "label": "real", "who": "bo"})
    drafted = await wait_for(
        lambda: [e for e in events if e.type == "work_order_drafted"], message="drafted"
    )
    wid = drafted[0].data["id"]
    await api.call("workorders.approve", {"id": wid, "who": "cleo"})
    await wait_for(lambda: sink.stats["cmms"].delivered == 1, message="delivered by the sink")
    # The draft came first on the same stream and was not matched: one delivery, the approval.
    assert [b["event"]["type"] for b in receiver.bodies] == ["work_order_approved"]
    ev = receiver.bodies[0]["event"]
    assert ev["kind"] == "work_order" and ev["data"]["id"] == wid
    assert ev["data"]["state"] == "approved" and ev["data"]["approved_by"] == "cleo"

"""``kit model alerts`` / ``kit model label`` and ``kit workorder list/approve/reject/close``.

They go through the running runtime's control API (kit_models.endpoints): labels and
decisions are a person's word, audited on the bus before they take effect.
"""

from __future__ import annotations

import json
from typing import Any

import click

from kit.cli.common import control_call, run, settings_from
from kit_models import api
from kit_models.cli import model

URL = click.option("--url", help="NATS URL of the runtime (default: the local one).")
WHO = click.option("--who", required=True, help="The person deciding (audited).")
JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _call(ctx: click.Context, spec: Any, body: dict[str, Any], url: str | None) -> Any:
    return run(control_call(settings_from(ctx), spec, body, url=url))


def _dump(reply: Any) -> str:
    return json.dumps(reply.model_dump(mode="json"), indent=2, ensure_ascii=False)


def _h(v: float | None, fmt: str = ".2f") -> str:
    return "—" if v is None else format(v, fmt)


@model.command("alerts")
@click.option("--model", "model_name", help="Only this model.")
@click.option("--unlabelled", is_flag=True, help="Only alerts nobody has labelled yet.")
@click.option("--limit", type=int, default=50, show_default=True)
@JSON
@URL
@click.pass_context
def alerts_cmd(
    ctx: click.Context,
    model_name: str | None,
    unlabelled: bool,
    limit: int,
    as_json: bool,
    url: str | None,
) -> None:
    """List anomaly alerts (active and shadow) with their labels, newest first."""
    body = {"model": model_name, "unlabelled_only": unlabelled, "limit": limit}
    reply = _call(ctx, api.ALERTS, body, url)
    if as_json:
        click.echo(_dump(reply))
        return
    if not reply.root:
        click.echo("no alerts")
        return
    click.echo(
        f"{'alert':22} {'model':12} {'ver':>3} {'role':6} {'raised (UTC)':20} {'score':>7} {'label':7} work order"
    )
    for a in reply.root:
        click.echo(
            f"{a.id:22} {a.model:12} {a.version:>3} {a.role:6} {(a.raised_at or '')[:19]:20} "
            f"{a.score:7.2f} {a.label or '—':7} {a.work_order or ''} {a.work_order_state or ''}"
        )


@model.command("label")
@click.argument("alert_id")
@click.argument("label", type=click.Choice(["real", "none", "unsure"]))
@WHO
@click.option("--note", default="", help="What was found (kept with the label).")
@click.option(
    "--fault-at",
    help="When the fault was confirmed on the machine (ISO 8601 with zone); default: now.",
)
@URL
@click.pass_context
def label_cmd(
    ctx: click.Context,
    alert_id: str,
    label: str,
    who: str,
    note: str,
    fault_at: str | None,
    url: str | None,
) -> None:
    """Label ALERT_ID: real (fault found), none (no fault: a false alert) or unsure."""
    body = {"id": alert_id, "label": label, "who": who, "note": note, "fault_at": fault_at}
    reply = _call(ctx, api.LABEL, body, url)
    f = reply.figures
    click.echo(
        f"{alert_id} labelled {label}. {reply.alert.model} v{f.version}: precision "
        f"{_h(f.precision_pct, '.0f')} % ({f.real} real, {f.none} no fault, {f.unsure} unsure, "
        f"{f.unlabelled} unlabelled), false alerts/week {_h(f.false_alerts_per_week)}, "
        f"lead time {_h(f.lead_time_h)} h"
    )
    if reply.alert.work_order:
        click.echo(f"work order {reply.alert.work_order}: {reply.alert.work_order_state}")


@click.group()
def workorder() -> None:
    """Work orders drafted from model alerts: approve before they are sent (docs/models.md)."""


@workorder.command("list")
@click.option("--state", type=click.Choice(["draft", "approved", "rejected", "closed"]))
@JSON
@URL
@click.pass_context
def wo_list(ctx: click.Context, state: str | None, as_json: bool, url: str | None) -> None:
    """List work orders, newest first (drafts wait for a person's approval)."""
    reply = _call(ctx, api.WORK_ORDERS, {"state": state}, url)
    if as_json:
        click.echo(_dump(reply))
        return
    if not reply.root:
        click.echo("no work orders")
        return
    for w in reply.root:
        sent = ""
        if w.delivery is not None:
            sent = "sent" if w.delivery.get("ok") else f"NOT SENT: {w.delivery.get('detail')}"
        click.echo(f"{w.id:26} {w.state:9} {w.priority:6} {w.asset}  {sent}")
        click.echo(f"    {w.title}")
        click.echo(f"    why: {w.reason}")


def _decision(action: str, help_text: str) -> click.Command:
    @workorder.command(action, help=help_text)
    @click.argument("work_order_id")
    @WHO
    @click.option("--note", default="", help="Reason or what was done (kept, audited).")
    @URL
    @click.pass_context
    def cmd(ctx: click.Context, work_order_id: str, who: str, note: str, url: str | None) -> None:
        spec = {"approve": api.APPROVE, "reject": api.REJECT, "close": api.CLOSE}[action]
        w = _call(ctx, spec, {"id": work_order_id, "who": who, "note": note}, url)
        msg = f"{w.id}: {w.state}"
        if w.delivery is not None:
            msg += (
                f" — {'sent' if w.delivery.get('ok') else 'NOT SENT'} ({w.delivery.get('detail')})"
            )
        click.echo(msg)

    return cmd


approve = _decision("approve", "Approve a drafted work order: it is sent (audited).")
reject = _decision("reject", "Reject a drafted work order: it is never sent (audited).")
close = _decision("close", "Close an approved work order once the work is done (audited; MTTR).")

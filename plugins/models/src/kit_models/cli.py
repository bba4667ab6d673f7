"""``kit model``: list, show, train, verify, promote and retire governed models.

``list``/``show``/``verify``/``train`` work on the site data directory (no runtime needed);
``promote``/``retire`` go through the running runtime's control API, which records the
person's decision on the audit trail and reloads the scoring components at once.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from kit.cli.common import control_call, run, settings_from
from kit.errors import KitError
from kit_models import artefact


def _keys(data_dir: Path) -> dict[str, Any]:
    from kit.trust.truststore import TrustStore

    return TrustStore.load(data_dir).keys


def _parse_points(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        sig, sep, point = part.strip().partition("=")
        if not sep or not sig or not point:
            raise KitError(
                f"--points {part!r}: use signal=point, e.g. vib=vibration_velocity_rms_mm_s"
            )
        out[sig.strip()] = point.strip()
    if not out:
        raise KitError("--points: give at least one signal=point")
    return out


@click.group()
def model() -> None:
    """Governed anomaly models: train, verify, promote, retire (docs/models.md)."""


@model.command("list")
@click.pass_context
def list_cmd(ctx: click.Context) -> None:
    """List stored models, their versions, roles, trust status and labelled precision."""
    from kit_models.book import AlertBook, version_figures

    s = settings_from(ctx)
    keys = _keys(s.data_dir)
    rows = 0
    for name in artefact.names(s.data_dir):
        reg = artefact.registry(s.data_dir, name)
        book = AlertBook.of(s.data_dir, name)
        for v in artefact.versions(s.data_dir, name):
            doc = artefact.read_doc(artefact.model_path(s.data_dir, name, v))
            role = (
                "active"
                if reg["active"] == v
                else "shadow"
                if reg["shadow"] == v
                else "retired"
                if v in reg["retired"]
                else "stored"
            )
            st = artefact.verify(doc, keys)
            ev = doc["manifest"].get("evaluation", {})
            f = version_figures(book, v)
            prec = "—" if f["precision_pct"] is None else f"{f['precision_pct']:.0f} %"
            click.echo(
                f"{name:20} v{v:<4} {role:8} {st.status:10} "
                f"trained {doc['manifest']['training'].get('from')} .. {doc['manifest']['training'].get('to')}  "
                f"false alerts/week {ev.get('false_alerts_per_week')}  "
                f"alerts {f['alerts']} (labelled precision {prec})"
            )
            rows += 1
    if not rows:
        click.echo("no models stored (kit model train)")


@model.command("show")
@click.argument("name")
@click.argument("version", type=int)
@click.pass_context
def show(ctx: click.Context, name: str, version: int) -> None:
    """Print the manifest, trust status and people's figures (labels, MTTR) of NAME VERSION."""
    from kit_models.book import AlertBook
    from kit_models.endpoints import figures

    s = settings_from(ctx)
    doc = artefact.read_doc(artefact.model_path(s.data_dir, name, version))
    st = artefact.verify(doc, _keys(s.data_dir))
    # From the alert book on disk: the same figures the runtime publishes as KPIs.
    fig = figures(AlertBook.of(s.data_dir, name), version)
    click.echo(
        json.dumps({"manifest": doc["manifest"], "trust": st.as_dict(), "figures": fig}, indent=2)
    )


@model.command("verify")
@click.argument("name", required=False)
@click.argument("version", type=int, required=False)
@click.option(
    "--file", "file_", type=click.Path(dir_okay=False, path_type=Path), help="A model file."
)
@click.pass_context
def verify(ctx: click.Context, name: str | None, version: int | None, file_: Path | None) -> None:
    """Check a model's signature against the trust store and the site's plugin_policy."""
    s = settings_from(ctx)
    if file_ is None:
        if name is None or version is None:
            raise KitError("give NAME VERSION or --file FILE")
        file_ = artefact.model_path(s.data_dir, name, version)
    st = artefact.verify(artefact.read_doc(file_), _keys(s.data_dir))
    ok, msg = artefact.decide(st, s.plugin_policy)
    click.echo(f"{file_}: {st.status}{' by ' + st.signer if st.signer else ''}")
    if msg:
        click.echo(msg, err=True)
    if not ok:
        raise SystemExit(1)


@model.command("train")
@click.argument("name")
@click.option(
    "--points",
    required=True,
    help="signal=point,… e.g. vib=vibration_velocity_rms_mm_s,current=current_a",
)
@click.option("--asset", help="Asset path (history source; recorded in the model).")
@click.option("--from", "start", help="History start (ISO, 'now', -7d).")
@click.option("--to", "end", default="now", show_default=True, help="History end.")
@click.option(
    "--history-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Historian Parquet root (default <data_dir>/history).",
)
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Train from a CSV (ts,point,value[,quality]) instead of the historian.",
)
@click.option(
    "--simulate",
    "sim_days",
    type=float,
    help="Train on DAYS of the built-in simulated motor (healthy; to try the kit).",
)
@click.option(
    "--window",
    "window_s",
    type=float,
    default=60.0,
    show_default=True,
    help="Feature window, seconds.",
)
@click.option(
    "--margin",
    type=float,
    default=1.5,
    show_default=True,
    help="Threshold = margin × the 99.9 % training score.",
)
@click.option(
    "--key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Ed25519 private key to sign the model with.",
)
@click.pass_context
def train_cmd(
    ctx: click.Context,
    name: str,
    points: str,
    asset: str | None,
    start: str | None,
    end: str,
    history_dir: Path | None,
    csv_file: Path | None,
    sim_days: float | None,
    window_s: float,
    margin: float,
    key: Path | None,
) -> None:
    """Train a new version of NAME on healthy history; it starts as the shadow model."""
    s = settings_from(ctx)
    pts = _parse_points(points)
    if csv_file is None and sim_days is None and (asset is None or start is None):
        raise KitError("give --asset and --from (historian), --csv FILE or --simulate DAYS")
    version = (artefact.versions(s.data_dir, name) or [0])[-1] + 1
    progress: queue.Queue[tuple[str, Any]] = queue.Queue()

    def work() -> None:
        # Runs in a worker thread so the terminal keeps printing progress (and a long
        # history read does not look like a hang).
        try:
            from kit_models import train

            say: Callable[[str], None] = lambda m: progress.put(("progress", m))  # noqa: E731
            if sim_days is not None:
                from kit_models import simulator

                if set(pts) != set(simulator.POINTS):
                    raise KitError(f"--simulate makes signals {sorted(simulator.POINTS)}")
                say(f"simulating {sim_days:g} healthy days of a motor")
                # A fixed start: the same run every time.
                rows = simulator.simulate(1_790_000_000.0, sim_days * 86400, seed=1)
                source = f"simulated motor, {sim_days:g} days"
            elif csv_file is not None:
                say(f"reading {csv_file}")
                rows, source = train.read_csv(csv_file, pts), f"csv:{csv_file.name}"
            else:
                from kit_historian.query import parse_time, query

                root = history_dir or s.data_dir / "history"
                t0, t1 = parse_time(start), parse_time(end)  # type: ignore[arg-type]
                say(f"reading history of {asset} {t0.isoformat()} .. {t1.isoformat()} from {root}")
                df = query(root, asset, list(pts.values()), t0, t1, kinds=("data",))  # type: ignore[arg-type]
                rows, source = train.rows_from_frame(df, pts), f"historian:{asset}"
            doc = train.train(
                rows,
                name=name,
                version=version,
                points=pts,
                asset=asset,
                window_s=window_s,
                margin=margin,
                source=source,
                progress=say,
            )
            progress.put(("done", doc))
        except Exception as exc:  # reported on the main thread
            progress.put(("error", exc))

    threading.Thread(target=work, name="kit-model-train", daemon=True).start()
    while True:
        kind, item = progress.get()
        if kind == "progress":
            click.echo(f"  {item}", err=True)
        elif kind == "error":
            raise item if isinstance(item, KitError) else KitError(f"training failed: {item}")
        else:
            break
    doc = item
    if key is not None:
        from kit.trust.signing import load_private_key

        artefact.sign(doc, load_private_key(key))
    p = artefact.store(s.data_dir, doc)
    click.echo(
        f"{name} v{version} written to {p} ({'signed' if key else 'unsigned'}); "
        f"it runs as shadow until a person promotes it (kit model promote {name} {version} --who NAME)"
    )


_HELP = {
    "promote": "Make VERSION of NAME the active model (a person's decision, audited).",
    "retire": "Retire VERSION of NAME (audited); with no active model the ISO zone rule carries alarms.",
}


def _decision(action: str) -> click.Command:
    @model.command(action, help=_HELP[action])
    @click.argument("name")
    @click.argument("version", type=int)
    @click.option("--who", required=True, help="The person taking this decision (audited).")
    @click.option("--url", help="NATS URL of the runtime (default: the local one).")
    @click.pass_context
    def cmd(ctx: click.Context, name: str, version: int, who: str, url: str | None) -> None:
        body = {"model": name, "version": version, "who": who}
        res = run(control_call(settings_from(ctx), f"models.{action}", body, url=url))
        click.echo(json.dumps(res))

    return cmd


promote = _decision("promote")
retire = _decision("retire")

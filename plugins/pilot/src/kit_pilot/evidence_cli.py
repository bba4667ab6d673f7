"""``kit pilot pack`` and ``kit evidence verify|redact``: signed, reproducible evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from kit.cli.common import settings_from
from kit.errors import KitError
from kit.evidence import EvidenceError, load_key


def _key_path(settings: Any, key: Path | None) -> Path:
    return key or Path(settings.data_dir) / "keys" / "site.key"


def _deployment_bundle(ctx: click.Context, deployments: list[str]) -> tuple[bytes | None, str]:
    """The pilot's deployments as a bundle from the running runtime, or why not."""
    if not deployments:
        return None, "the pilot names no deployments"
    import base64

    from kit.api import deployments as dep_api
    from kit.cli.common import control_call, run

    try:
        res = run(
            control_call(
                settings_from(ctx),
                dep_api.EXPORT,
                dep_api.ExportRequest(deployments=deployments),
                timeout=30,
            )
        )
        return base64.b64decode(res.bundle), ""
    except KitError as exc:  # runtime stopped, or a deployment removed since: still a pack
        return None, f"the runtime did not export them ({exc}); give --bundle FILE"


@click.command("pack")
@click.argument("name")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Pack file to write (NAME.kitevidence).",
)
@click.option(
    "--key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Site signing key (default <data_dir>/keys/site.key, from `kit keys new site`).",
)
@click.option(
    "--bundle",
    "bundle_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The pilot's deployments as a bundle (`kit bundle export`); default: fetched from "
    "the running runtime when it answers.",
)
@click.option("--redact", is_flag=True, help="Replace site-identifying values before signing.")
@click.option("--signer", default="", help="Who signs (shown to the receiving site).")
@click.option("--product-mix", help="Product mix that ran in the pilot.")
@click.option(
    "--history",
    "history_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Historian directory (default: the site historian's).",
)
@click.option("--now", "now_text", hidden=True, help="Pretend it is this time (tests, replays).")
@click.pass_context
def pack_cmd(
    ctx: click.Context,
    name: str,
    output: Path,
    key: Path | None,
    bundle_file: Path | None,
    redact: bool,
    signer: str,
    product_mix: str | None,
    history_dir: Path | None,
    now_text: str | None,
) -> None:
    """Write pilot NAME's signed evidence pack: report, KPI rows, versions, reports."""
    from kit_pilot.cli import _now, site_history_dir
    from kit_pilot.pack import build_pack
    from kit_pilot.store import PilotStore

    settings = settings_from(ctx)
    p = PilotStore(settings.data_dir).load(name)
    k = load_key(_key_path(settings, key))
    bundle, why = (
        (bundle_file.read_bytes(), "") if bundle_file else _deployment_bundle(ctx, p.deployments)
    )
    data, report = build_pack(
        p,
        history_dir or site_history_dir(settings),
        _now(now_text),
        k,
        product_mix=product_mix,
        bundle=bundle,
        redact=redact,
        signer=signer,
    )
    output.write_bytes(data)
    click.echo(
        f"wrote {output} ({len(data):,} bytes){'; redacted' if redact else ''}; "
        f"goal {'met' if report['goal_met'] else 'not met'}"
    )
    if bundle is None:
        click.echo(f"  deployments and commissioning reports not included: {why}")


@click.group("evidence")
def evidence() -> None:
    """Check and share signed evidence packs (docs/pilots.md)."""


@evidence.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--json", "as_json", is_flag=True, help="Print the checks and recomputed figures as JSON."
)
@click.pass_context
def verify_cmd(ctx: click.Context, file: Path, as_json: bool) -> None:
    """Check FILE: hashes, signature (this site's trust store) and the statistics, recomputed
    from the KPI rows it carries. Exit code 1 if any check fails."""
    from kit_pilot.verify import verify_pack

    v = verify_pack(file.read_bytes(), settings_from(ctx).data_dir, str(file))
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": v.ok,
                    "checks": [{"check": c, "ok": ok, "detail": d} for c, ok, d in v.checks],
                    "recomputed": v.recomputed,
                },
                default=str,
            )
        )
    else:
        for c, ok, d in v.checks:
            click.echo(f"{'ok  ' if ok else 'FAIL'} {c}: {d}")
        if v.recomputed:
            for g in v.recomputed["goals"]:
                click.echo(f"     {g['goal']}: {g['verdict']}, {g['status']}")
    if not v.ok:
        raise EvidenceError(f"{file}: evidence NOT verified")


@evidence.command("redact")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", type=click.Path(dir_okay=False, path_type=Path), help="Site signing key.")
@click.pass_context
def redact_cmd(ctx: click.Context, file: Path, output: Path, key: Path | None) -> None:
    """Copy FILE with hosts, asset, site, people and deployment names replaced by stable
    pseudonyms; signed again after redaction (the pack says so)."""
    from kit_pilot.pack import redact_pack

    settings = settings_from(ctx)
    if output.resolve() == file.resolve():
        raise KitError("--output must be another file (the signed original is kept)")
    data = redact_pack(
        file.read_bytes(), load_key(_key_path(settings, key)), settings.data_dir, str(file)
    )
    output.write_bytes(data)
    click.echo(f"wrote {output} ({len(data):,} bytes), redacted and signed again")

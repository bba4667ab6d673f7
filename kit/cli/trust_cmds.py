"""Trust commands: ``kit certify``, ``kit keys``, ``kit sign``, ``kit plugin``, ``kit write``."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import click

from kit.cli.common import control_call, run, settings_from
from kit.errors import KitError

TIERS = ("bronze", "silver", "gold")


class CertificationFailed(KitError):
    """The plugin did not reach the required tier."""

    exit_code = 4


@click.command()
@click.argument("target")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="certification",
    show_default=True,
    help="Directory for the JSON and Markdown report.",
)
@click.option(
    "--require",
    "require",
    type=click.Choice(TIERS),
    default="bronze",
    show_default=True,
    help="Exit with code 4 unless this tier is reached.",
)
@click.option("--run-s", type=float, help="Run duration (default from kit_quality.yaml, 4 s).")
@click.option(
    "--soak-s", type=float, help="Memory soak duration (default from kit_quality.yaml, 6 s)."
)
def certify(
    target: str, out_dir: str, require: str, run_s: float | None, soak_s: float | None
) -> None:
    """Run the conformance suite on TARGET (a plugin project directory or an installed distribution).

    Writes <name>.json and <name>.md. Rules and tiers: docs/certification.md.
    """
    from kit.trust.certify import certify as do_certify

    report = run(do_certify(target, run_s=run_s, soak_s=soak_s))
    j, m = report.write(Path(out_dir))
    for r in report.data["results"]:
        mark = {"pass": "ok  ", "fail": "FAIL", "n/a": "n/a ", "exempt": "exmp"}[r["outcome"]]
        click.echo(f"{mark} {r['tier']:<6} {r['id']:<22} {r['detail'][:110]}")
    click.echo(f"tier reached: {report.tier or 'none'}   report: {j} {m}")
    if report.tier is None or TIERS.index(report.tier) < TIERS.index(require):
        raise CertificationFailed(f"{report.data['plugin']['name']} did not reach {require}")


@click.group()
def keys() -> None:
    """Ed25519 signing keys and the site's trust store."""


@keys.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    help="Where to write NAME.key and NAME.pub (default: <data_dir>/keys).",
)
@click.pass_context
def keys_new(ctx: click.Context, name: str, directory: str | None) -> None:
    """Create a key pair NAME.key (private, mode 0600) and NAME.pub."""
    from kit.trust.signing import key_id, load_public_key, new_keypair

    d = Path(directory) if directory else settings_from(ctx).data_dir / "keys"
    priv, pub = new_keypair(d, name)
    click.echo(
        f"private key {priv} (keep it secret, back it up)\npublic key  {pub} "
        f"(id {key_id(load_public_key(pub))}; give it to the sites that trust you)"
    )


@keys.command("trust")
@click.argument("pub_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--role", type=click.Choice(["vendor", "certifier", "release"]), required=True)
@click.pass_context
def keys_trust(ctx: click.Context, pub_file: str, role: str) -> None:
    """Add a public key to this site's trust store."""
    from kit.trust.truststore import trust_key

    kid = trust_key(settings_from(ctx).data_dir, Path(pub_file), role)  # type: ignore[arg-type]
    click.echo(f"trusted {role} key {kid}")


@keys.command("list")
@click.pass_context
def keys_list(ctx: click.Context) -> None:
    """Show the keys of the trust store."""
    from kit.trust.truststore import TrustStore

    ts = TrustStore.load(settings_from(ctx).data_dir)
    if not ts.keys:
        click.echo("trust store is empty (kit keys trust FILE --role vendor|certifier)")
    for kid in sorted(ts.keys):
        click.echo(f"{kid}  {ts.roles[kid]:<9}  {ts.comments.get(kid, '')}")


@keys.command("remove")
@click.argument("key_id")
@click.pass_context
def keys_remove(ctx: click.Context, key_id: str) -> None:
    """Remove a key from the trust store."""
    from kit.trust.truststore import untrust_key

    if not untrust_key(settings_from(ctx).data_dir, key_id):
        raise KitError(f"no key {key_id} in the trust store")
    click.echo(f"removed {key_id}")


@click.command()
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@click.option("--key", "key_file", type=click.Path(exists=True, dir_okay=False), required=True)
@click.option(
    "--role", type=click.Choice(["vendor", "certifier"]), default="vendor", show_default=True
)
@click.option(
    "--report",
    type=click.Path(exists=True, dir_okay=False),
    help="kit certify JSON report to ship and sign with the plugin (required for certifier).",
)
def sign(path: str, key_file: str, role: str, report: str | None) -> None:
    """Sign the plugin package at PATH (project directory or package directory)."""
    from kit.trust.sign_plugin import sign_plugin
    from kit.trust.signing import load_private_key

    out = sign_plugin(
        Path(path), load_private_key(key_file), role, Path(report) if report else None
    )
    click.echo(f"signed ({role}): {out}")


@click.group()
def plugin() -> None:
    """Create, verify and install plugins."""


@plugin.command("new")
@click.argument("name")
@click.option("--kind", type=click.Choice(["adapter", "analytics", "sink"]), required=True)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Parent directory; the project is created in DIR/kit-NAME.",
)
@click.option("--vendor", default="Example Vendor", show_default=True)
@click.option("--contact", default="support@example.com", show_default=True)
def plugin_new(name: str, kind: str, directory: str, vendor: str, contact: str) -> None:
    """Scaffold a plugin project that installs, tests green and certifies bronze."""
    from kit.trust.scaffold import scaffold

    root = scaffold(name, kind, Path(directory), vendor=vendor, contact=contact)
    click.echo(f"created {root}\nnext: cd {root} && uv pip install -e . && pytest && kit certify .")


@plugin.command("verify")
@click.argument("names", nargs=-1)
@click.pass_context
def plugin_verify(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Signature status (Core/Signed/Untrusted/Unsigned/Invalid/Modified) of installed plugins and the policy decision."""
    from importlib import metadata

    from kit.trust.truststore import TrustStore
    from kit.trust.verify import check_entry_point, decide

    s = settings_from(ctx)
    store = TrustStore.load(s.data_dir)
    refused = 0
    for ep in sorted(metadata.entry_points(group="kit"), key=lambda e: e.name):
        if names and ep.name not in names and (ep.dist and ep.dist.name) not in names:
            continue
        st = check_entry_point(ep, store)
        ok, msg = decide(st, s.plugin_policy)
        refused += not ok
        cert = f" certified {st.tier}" if st.certified else ""
        click.echo(
            f"{ep.name:<18} {st.status:<9}{cert:<16} {'loads' if ok else 'REFUSED'}  {msg or st.detail}"
        )
    click.echo(f"plugin_policy: {s.plugin_policy}")
    if refused:
        sys.exit(3)


@plugin.command("install")
@click.argument("wheel", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def plugin_install(ctx: click.Context, wheel: str) -> None:
    """Verify a plugin wheel's signature against the site policy, then install it."""
    from kit.trust.install import install_wheel
    from kit.trust.verify import decide

    s = settings_from(ctx)
    st = install_wheel(Path(wheel), s.data_dir, s.plugin_policy)
    click.echo(f"installed {wheel} ({st.status}{f', certified {st.tier}' if st.certified else ''})")
    msg = decide(st, s.plugin_policy)[1]
    if msg:
        click.echo(f"note: {msg}")


def _parse_value(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return text


@click.command("write")
@click.argument("asset")
@click.argument("point")
@click.argument("value")
@click.option("--yes", is_flag=True, help="Confirm without asking (scripts).")
@click.option(
    "--who", default=None, help="Operator name for the audit trail (default: login name)."
)
@click.option("--url", help="NATS URL of the runtime (default: the local one).")
@click.pass_context
def write(
    ctx: click.Context,
    asset: str,
    point: str,
    value: str,
    yes: bool,
    who: str | None,
    url: str | None,
) -> None:
    """Write VALUE to POINT of ASSET through the guarded-write layer (recipe allow-list, bounds,
    rate limit, confirmation, audit)."""
    s = settings_from(ctx)
    operator = who or os.environ.get("USER") or "unknown"
    v = _parse_value(value)
    if v is None or not isinstance(v, (int, float, bool, str)):
        from kit.errors import ConfigError

        raise ConfigError(f"value {value!r}: give a number, true/false or text")
    from kit.api import writes as writes_api
    from kit.errors import RuntimeNotRunning
    from kit.trust.busauth import identified_subject

    # Below admin, the audited endpoints live under kit.control.as.<role>: the server lets
    # only that role publish there, so the audit trail records who really asked.
    role = (s.nats_client.user or "admin") if s.nats_url else os.environ.get("KIT_ROLE", "admin")

    try:
        req = run(
            control_call(
                s,
                dataclasses.replace(
                    writes_api.REQUEST, name=identified_subject(writes_api.REQUEST.name, role)
                ),
                writes_api.WriteRequest(asset=asset, point=point, value=v, who=f"cli:{operator}"),
                url=url,
            )
        )
    except RuntimeNotRunning as exc:
        # A role without write rights is refused by the bus itself, which looks like silence.
        raise RuntimeNotRunning(
            f"{exc} (or the role {os.environ.get('KIT_ROLE', 'admin')!r} may not request "
            "writes: technician or admin is needed)"
        ) from None
    b = req.bounds
    click.echo(
        f"write {point} = {v!r} on {req.asset} (recipe {req.deployment}; "
        f"allowed {b.min}..{b.max}{' values ' + str(b.values) if b.values else ''})"
    )
    if not yes and not click.confirm("Send this value to the device?", default=False):
        click.echo("not confirmed; nothing was written (the request expires)")
        sys.exit(1)
    res = run(
        control_call(
            s,
            dataclasses.replace(
                writes_api.CONFIRM, name=identified_subject(writes_api.CONFIRM.name, role)
            ),
            writes_api.ConfirmRequest(request_id=req.request_id, who=f"cli:{operator}"),
            url=url,
        )
    )
    click.echo(f"written by {res.component}")


def register(cli: click.Group) -> None:
    """Add the trust commands."""
    for c in (certify, keys, sign, plugin, write):
        cli.add_command(c)

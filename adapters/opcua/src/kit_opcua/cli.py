"""CLI commands of the OPC UA plugin: ``kit opcua certs|trust|reject`` and ``kit browse``.

The certificate commands work on the data directory's ``pki/`` folders directly, so they
work whether or not the runtime is up (a running adapter picks the change up at its next
connection attempt — no restart needed).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kit.errors import ConfigError, KitError

if TYPE_CHECKING:
    from kit_opcua.pki import Pki


def _pki(ctx: click.Context, data_dir: str | None) -> Pki:
    from kit.cli.common import settings_from
    from kit_opcua.pki import Pki

    return Pki(Path(data_dir) if data_dir else settings_from(ctx).data_dir)


_data_dir = click.option(
    "--data-dir", type=click.Path(file_okay=False), help="Data directory (default: site settings)."
)


@click.group()
def opcua() -> None:
    """OPC UA: certificates the kit trusts (trusted/rejected server certificates)."""


@opcua.command("certs")
@_data_dir
@click.pass_context
def certs(ctx: click.Context, data_dir: str | None) -> None:
    """List rejected and trusted server certificates and the kit's own certificate."""
    from kit_opcua.pki import load_cert, thumbprint

    pki = _pki(ctx, data_dir)
    if pki.cert_file.is_file():
        c = load_cert(pki.cert_file)
        click.echo(
            f"own      {thumbprint(c)}  {c.subject.rfc4514_string()}  valid until "
            f"{c.not_valid_after_utc:%Y-%m-%d}  ({pki.cert_file})"
        )
    else:
        click.echo("own      (not created yet: it is generated at the first secure connection)")
    items = pki.list()
    if not items:
        click.echo("no server certificates yet")
    for info in items:
        flag = "  EXPIRED" if info.expired else ""
        click.echo(
            f"{info.state:<8} {info.thumbprint}  {info.subject}  {info.application_uri or '-'}  "
            f"{info.not_before[:10]} .. {info.not_after[:10]}{flag}"
        )
    if any(c.state == "rejected" for c in items):
        click.echo(
            "\nCompare the thumbprint with the one the server shows, then: kit opcua trust <THUMBPRINT>"
        )


@opcua.command("trust")
@click.argument("thumbprint", required=False)
@_data_dir
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def trust(ctx: click.Context, thumbprint: str | None, data_dir: str | None, yes: bool) -> None:
    """Trust a rejected server certificate (by thumbprint or a unique prefix).

    Without THUMBPRINT, the only rejected certificate is offered (if there is exactly one).
    """
    pki = _pki(ctx, data_dir)
    rejected = [c for c in pki.list() if c.state == "rejected"]
    if thumbprint is None:
        if len(rejected) != 1:
            raise KitError(
                f"{len(rejected)} rejected certificate(s); give the thumbprint (see `kit opcua certs`)"
            )
        thumbprint = rejected[0].thumbprint
    cand = [c for c in rejected if c.thumbprint.startswith(thumbprint.replace(":", "").upper())]
    if len(cand) == 1 and not yes:
        c = cand[0]
        click.echo(
            f"thumbprint {c.thumbprint}\nsubject    {c.subject}\nURI        {c.application_uri}\n"
            f"valid      {c.not_before} .. {c.not_after}{'  (EXPIRED)' if c.expired else ''}"
        )
        click.confirm("Trust this server certificate?", abort=True)
    c = pki.trust(thumbprint)
    click.echo(
        f"trusted {c.thumbprint} ({c.subject}); adapters use it at their next connection attempt"
    )


@opcua.command("reject")
@click.argument("thumbprint")
@_data_dir
@click.pass_context
def reject(ctx: click.Context, thumbprint: str, data_dir: str | None) -> None:
    """Stop trusting a server certificate (moves it back to rejected/)."""
    c = _pki(ctx, data_dir).reject(thumbprint)
    click.echo(f"no longer trusted: {c.thumbprint} ({c.subject})")


@click.command("browse")
@click.argument("url")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the draft profile here (default: stdout).",
)
@click.option(
    "--id",
    "profile_id",
    default="draft-opcua-device",
    show_default=True,
    help="Profile id of the draft.",
)
@click.option(
    "--policy",
    default="Basic256Sha256",
    show_default=True,
    type=click.Choice(["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss", "None"]),
)
@click.option(
    "--mode",
    default="SignAndEncrypt",
    show_default=True,
    type=click.Choice(["Sign", "SignAndEncrypt", "None"]),
)
@click.option(
    "--allow-insecure",
    is_flag=True,
    help="Accept security policy None (the site's explicit decision).",
)
@click.option("--user", help="User name (identity username); the password is asked for.")
@click.option("--password", help="Password (prefer the prompt).")
@click.option(
    "--max-nodes", default=5000, show_default=True, help="Stop after this many variables."
)
@_data_dir
@click.pass_context
def browse(
    ctx: click.Context,
    url: str,
    output: str | None,
    profile_id: str,
    policy: str,
    mode: str,
    allow_insecure: bool,
    user: str | None,
    password: str | None,
    max_nodes: int,
    data_dir: str | None,
) -> None:
    """Browse an OPC UA server and write a draft profile (names, NodeIds by namespace URI, types, units)."""
    from pydantic import ValidationError

    from kit_opcua import connection as conn
    from kit_opcua.browse import draft
    from kit_opcua.config import OpcuaConfig

    if policy == "None":
        mode = "None"
    if user and password is None:
        password = click.prompt("Password", hide_input=True)
    try:
        cfg = OpcuaConfig(
            profile=profile_id,
            endpoint=url,
            security_policy=policy,
            security_mode=mode,
            allow_insecure=allow_insecure,
            identity="username" if user else "anonymous",
            username=user,
            password=password,
            data_dir=Path(data_dir) if data_dir else _pki(ctx, None).root.parent,
        )
    except ValidationError as exc:
        raise ConfigError("invalid browse options", [e["msg"] for e in exc.errors()]) from None

    async def _run() -> tuple[str, int]:
        client = await conn.open_client(cfg)
        try:
            return await draft(client, url, profile_id, max_nodes=max_nodes)
        finally:
            await conn.close(client)

    text, n = asyncio.run(_run())
    if output:
        Path(output).write_text(text)
        click.echo(
            f"{n} variable(s) written to {output}; give them semantic names, then `kit profiles`",
            err=True,
        )
    else:
        click.echo(text)

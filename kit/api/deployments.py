"""Models of ``deployments.*`` (installed recipes) and ``bundles.*`` (site setups to share)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kit.api.endpoint import MAX_BODY_BYTES, Empty, Reply, Request, endpoint
from kit.api.recipes import ID, CommissioningReport, InstallReply


class DeploymentSummary(Reply):
    """One installed deployment."""

    id: str
    deployment: str
    recipe: str
    version: str
    assets: list[str] = Field(default_factory=list)
    title: str | None = None
    status: str
    installed_at: str | None = None
    result: str | None = None
    """Commissioning result (``pass``/``fail``), once the report is in."""
    components: dict[str, str] = Field(default_factory=dict)
    """Status of each component instance (``absent`` when it is not running)."""


class DeploymentList(Reply):
    """Every installed deployment."""

    deployments: list[DeploymentSummary] = Field(default_factory=list)


class DeploymentRequest(Request):
    """One deployment by id."""

    deployment: str = ID


class DeploymentDetail(Reply):
    """A deployment's record (secret values masked) and its report as Markdown."""

    id: str
    deployment: str
    recipe_id: str
    version: str
    title: str | None = None
    status: str
    params: dict[str, Any] = Field(default_factory=dict)
    components: list[dict[str, Any]] = Field(default_factory=list)
    assets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    report: CommissioningReport | None = None
    markdown: str


class ExportRequest(Request):
    """Deployments to put in a bundle."""

    deployments: list[str] = Field(min_length=1, max_length=500)


class ExportReply(Reply):
    """The bundle (zip, base64)."""

    bundle: str


_BUNDLE = Field(min_length=1, max_length=MAX_BODY_BYTES)


class InspectRequest(Request):
    """A bundle to look at before installing it."""

    bundle: str = _BUNDLE
    """The bundle's bytes, base64."""
    name: str | None = Field(None, max_length=500)


class InspectReply(Reply):
    """What a bundle holds, what this site lacks, and how it differs from what runs here."""

    manifest: dict[str, Any] = Field(default_factory=dict)
    files: list[str] = Field(default_factory=list)
    signature: str | None = None
    """``unsigned`` or ``signed by <key id>``."""
    deployments: list[dict[str, Any]] = Field(default_factory=list)
    plugins: list[dict[str, Any]] = Field(default_factory=list)
    profiles: list[dict[str, Any]] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list)
    diff: list[dict[str, Any]] = Field(default_factory=list)


class BundleInstallRequest(InspectRequest):
    """Install every deployment of a bundle, with the site-specific values it blanked."""

    values: dict[str, dict[str, Any]] | None = None
    """``{deployment: {parameter: value}}``."""
    check_duration_s: float | None = Field(None, gt=0, le=86_400)
    wait_report: bool = False
    progress: str | None = Field(None, pattern=r"^_INBOX[A-Za-z0-9_]*\.[A-Za-z0-9_.]+$")
    """A reply inbox of the caller: one message per install step goes there (the CLI shows
    them); only inbox subjects are accepted."""


class BundleInstallReply(Reply):
    """What each deployment's install did."""

    installed: list[InstallReply] = Field(default_factory=list)


LIST = endpoint("deployments.list", Empty, DeploymentList, "Installed deployments.")
SHOW = endpoint("deployments.show", DeploymentRequest, DeploymentDetail, "One deployment.")
EXPORT = endpoint("bundles.export", ExportRequest, ExportReply, "Export deployments as a bundle.")
INSPECT = endpoint("bundles.inspect", InspectRequest, InspectReply, "Look inside a bundle.")
INSTALL = endpoint("bundles.install", BundleInstallRequest, BundleInstallReply, "Install a bundle.")

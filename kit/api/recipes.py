"""Models of the recipe endpoints ``recipes.*`` (catalogue, validation, plan, install)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kit.api.endpoint import MAX_TEXT_CHARS, Empty, Reply, Request, endpoint
from kit.api.envelope import Problem

ID = Field(min_length=1, max_length=200)


class RecipeText(Request):
    """A recipe given inline instead of by id (e.g. a file the user is editing)."""

    text: str = Field(max_length=MAX_TEXT_CHARS)
    filename: str = Field("recipe.yaml", min_length=1, max_length=500)


RecipeRef = str | RecipeText
"""A recipe id from the catalogue, or ``{"text", "filename"}``."""


class AssetNeed(Reply):
    """What one asset role of a recipe needs."""

    name: str
    adapter: str
    points: list[str] = Field(default_factory=list)


class RecipeSummary(Reply):
    """One recipe of the catalogue."""

    id: str
    version: str
    title: str
    summary: str | None = None
    kpi: str | None = None
    plugins: list[str] = Field(default_factory=list)
    adapters: list[str] = Field(default_factory=list)
    file: str | None = None
    needs: list[AssetNeed] = Field(default_factory=list)


class RecipeList(Reply):
    """The catalogue and every recipe file that failed to load."""

    recipes: list[RecipeSummary] = Field(default_factory=list)
    problems: list[Problem] = Field(default_factory=list)


class ByIdRequest(Request):
    """A recipe by its catalogue id."""

    id: str = ID


class ParameterInfo(Reply):
    """One parameter a recipe asks for."""

    name: str
    type: str
    prompt: str | None = None
    default: Any = None
    unit: str | None = None
    choices: list[Any] | None = None


class RecipeDetail(RecipeSummary):
    """A recipe's text, its parsed model and its parameters."""

    text: str
    recipe: dict[str, Any]
    parameters: list[ParameterInfo] = Field(default_factory=list)


class ProfileCandidate(Reply):
    """A hardware profile that provides what an asset needs."""

    id: str
    vendor: str | None = None
    model: str | None = None
    verified: bool | None = None


class NearProfile(Reply):
    """A profile that lacks at most two of the needed points."""

    id: str
    missing: list[str] = Field(default_factory=list)


class RoleMatch(Reply):
    """How one asset role of a recipe can be satisfied on this site."""

    adapter: str
    needs: list[str] = Field(default_factory=list)
    profiles: list[ProfileCandidate] = Field(default_factory=list)
    nearly: list[NearProfile] = Field(default_factory=list)
    running_assets: list[str] = Field(default_factory=list)


class AssetCandidate(Reply):
    """A running asset that provides some of what a role needs."""

    role: str
    asset: str
    ok: bool
    missing: list[str] = Field(default_factory=list)


class MatchReply(Reply):
    """Which profiles and running assets satisfy a recipe."""

    recipe: str
    assets: dict[str, RoleMatch] = Field(default_factory=dict)
    satisfied: bool
    candidates: list[AssetCandidate] = Field(default_factory=list)


class ValidateRequest(Request):
    """Validate recipe text (shape first, then against the installed plugins)."""

    text: str = Field(max_length=MAX_TEXT_CHARS)
    filename: str | None = Field(None, max_length=500)
    params: dict[str, Any] | None = None
    """Values to plan with; without them the recipe is planned with sample values."""


class ValidateReply(Reply):
    """Whether the recipe is valid, and every problem found."""

    ok: bool
    problems: list[Problem] = Field(default_factory=list)
    pass_: str = Field(alias="pass")
    """The last pass run: ``shape`` (YAML and model) or ``plugins`` (components, profiles)."""
    id: str | None = None


class PlanRequest(Request):
    """A recipe, its parameter values and an optional deployment name."""

    recipe: RecipeRef
    params: dict[str, Any] | None = None
    deployment: str | None = Field(None, min_length=1, max_length=200)


class Connection(Reply):
    """One device connection a plan creates."""

    asset: str
    path: str
    adapter: str
    profile: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)


class PlanReply(Reply):
    """What an install would create (secrets masked)."""

    recipe: str
    version: str
    deployment: str
    params: dict[str, Any] = Field(default_factory=dict)
    components: list[dict[str, Any]] = Field(default_factory=list)
    connections: list[Connection] = Field(default_factory=list)
    subjects: dict[str, list[str]] = Field(default_factory=dict)
    checks: list[dict[str, Any]] = Field(default_factory=list)


class DeviceIdent(Reply):
    """Identification of one tested device."""

    name: str
    detail: str


class TestConnectionReply(Reply):
    """Every device of the plan answered (failures are errors, not replies)."""

    identification: dict[str, str] = Field(default_factory=dict)
    devices: list[DeviceIdent] = Field(default_factory=list)


class InstallRequest(PlanRequest):
    """Install a recipe; optionally wait for its commissioning report."""

    wait_report: bool = False
    check_duration_s: float | None = Field(None, gt=0, le=86_400)


class CheckResult(Reply):
    """One commissioning check."""

    title: str | None = None
    passed: bool | None = None
    detail: str | None = None


class CommissioningReport(Reply):
    """The commissioning report of a deployment."""

    deployment: str | None = None
    result: str | None = None
    """``pass`` or ``fail``."""
    started: str | None = None
    finished: str | None = None
    duration_s: float | None = None
    checks: list[CheckResult] = Field(default_factory=list)


class InstallReply(Reply):
    """What an install (or upgrade) did."""

    deployment: str
    changed: bool = True
    status: str | None = None
    message: str | None = None
    components: list[str] = Field(default_factory=list)
    identification: dict[str, str] = Field(default_factory=dict)
    report: CommissioningReport | None = None
    repaired: list[str] | None = None
    """Components re-created by a repeated install (they had gone missing)."""
    from_: str | None = Field(None, alias="from")
    """Upgrade: the version replaced."""
    to: str | None = None
    """Upgrade: the version installed."""


class UninstallRequest(Request):
    """Remove a deployment."""

    deployment: str = ID


class UninstallReply(Reply):
    """The removed deployment and its component instances."""

    deployment: str
    removed: list[str] = Field(default_factory=list)


class UpgradeRequest(Request):
    """Replace a deployment by a new recipe version or new values."""

    deployment: str = ID
    recipe: RecipeRef
    params: dict[str, Any] | None = None
    wait_report: bool = False
    check_duration_s: float | None = Field(None, gt=0, le=86_400)


LIST = endpoint("recipes.list", Empty, RecipeList, "The recipe catalogue.")
SHOW = endpoint("recipes.show", ByIdRequest, RecipeDetail, "One recipe: text, model, parameters.")
MATCH = endpoint("recipes.match", ByIdRequest, MatchReply, "Profiles/assets that satisfy it.")
VALIDATE = endpoint("recipes.validate", ValidateRequest, ValidateReply, "Validate recipe text.")
PLAN = endpoint("recipes.plan", PlanRequest, PlanReply, "What an install would create.")
TEST_CONNECTION = endpoint(
    "recipes.test_connection", PlanRequest, TestConnectionReply, "Test the plan's devices."
)
INSTALL = endpoint("recipes.install", InstallRequest, InstallReply, "Install a recipe.")
UNINSTALL = endpoint("recipes.uninstall", UninstallRequest, UninstallReply, "Remove one.")
UPGRADE = endpoint("recipes.upgrade", UpgradeRequest, InstallReply, "Upgrade a deployment.")

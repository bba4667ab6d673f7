"""Recipe catalog: browse and search recipes, see what each needs and whether the devices
present satisfy it (``recipes.match``); Enter starts the install wizard."""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.widgets import DataTable, Input, Static

from kit.api import recipes as rec_api
from kit_tui.data.format import short
from kit_tui.messages import OpenRecipe
from kit_tui.screens.base import KitScreen
from kit_tui.widgets.banner import Unavailable
from kit_tui.widgets.tables import row_table


def recipe_id(r: rec_api.RecipeSummary) -> str:
    """The id of a recipe entry."""
    return r.id


def needs_text(r: rec_api.RecipeSummary) -> list[str]:
    """What a recipe needs, as lines: per asset role, its semantic points."""
    return [f"{n.name}: {', '.join(n.points) or n.adapter}" for n in r.needs]


def match_text(m: rec_api.MatchReply | str | None) -> tuple[str, bool | None]:
    """``(text, satisfied)`` from a ``recipes.match`` reply (a string: why it failed)."""
    if m is None:
        return "", None
    if isinstance(m, str):
        return "? unknown", None
    ok = m.satisfied
    lines = []
    for c in m.candidates[:6]:
        lines.append(
            f"  {'✓' if c.ok else '✗'} {c.asset}"
            + (f" — missing {', '.join(c.missing)}" if c.missing else "")
        )
    head = (
        "✓ devices present satisfy it"
        if ok
        else ("✗ no present device satisfies it" if ok is not None else "? unknown")
    )
    return "\n".join([head, *lines]), ok


def fits_text(m: rec_api.MatchReply | str | None) -> Text:
    """The "Fits" cell: yes / no / unknown, with a symbol."""
    if m is None:
        return Text("…")
    _, ok = match_text(m)
    return (
        Text("✓ yes", style="green")
        if ok
        else Text("✗ no", style="red")
        if ok is False
        else Text("? —")
    )


class CatalogScreen(KitScreen):
    """Searchable recipe list with details."""

    TITLE_TEXT = "Recipe catalog"
    #: The list, not the search field, has focus when the screen opens (number keys keep
    #: working). Textual applies it on activation: no query in on_mount, which can run
    #: while a background-built screen is torn down at exit (a CI failure).
    AUTO_FOCUS = "#recipes"
    BINDINGS = [
        Binding("slash", "search", "Search"),
        Binding("enter", "install", "Install", show=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.recipes: list[rec_api.RecipeSummary] = []
        self.matches: dict[str, rec_api.MatchReply | str] = {}

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder="/ search recipes (title, KPI, device)…", id="catalog-search")
        yield Unavailable(id="catalog-unavailable")
        with Horizontal(id="catalog-body"):
            table = row_table("recipes", (("id", "Recipe"), ("fits", "Fits"), ("kpi", "KPI")))
            yield table
            yield Static("", id="recipe-detail")

    def reload(self) -> None:
        self.fetch()

    @work(exclusive=True, group="catalog")
    async def fetch(self) -> None:
        """Load the recipe list."""
        try:
            await self._fetch()
        except NoMatches:
            # The app exits while the calls were on the wire (its widgets are gone), or a
            # background-built screen is not composed yet: try again after a refresh, a few
            # times (a CI failure under load).
            self._fetch_retries = getattr(self, "_fetch_retries", 0) + 1
            if self.app.is_running and self._fetch_retries <= 3:
                self.call_after_refresh(self.reload)
            return
        self._fetch_retries = 0

    async def _fetch(self) -> None:
        try:
            self.recipes = (await self.call(rec_api.LIST)).recipes
            self.query_one("#catalog-unavailable", Unavailable).show(None)
        except Exception as exc:
            self.recipes = []
            self.query_one("#catalog-unavailable", Unavailable).show(self.explain(exc))
        self._fill()
        # Then whether the devices present satisfy each recipe (one call per recipe).
        table = self.query_one("#recipes", DataTable)
        for r in list(self.recipes):
            rid = recipe_id(r)
            try:
                self.matches[rid] = await self.call(rec_api.MATCH, rec_api.ByIdRequest(id=rid))
            except Exception as exc:
                self.matches[rid] = self.explain(exc)
            if not self.app.is_running or not self.is_attached:
                return  # the app exits (or the screen went) while the matches come in
            if rid in table.rows:
                table.update_cell(rid, "fits", fits_text(self.matches[rid]), update_width=True)
            self._show_detail()

    def _visible(self) -> list[rec_api.RecipeSummary]:
        q = self.query_one("#catalog-search", Input).value.strip().lower()
        if not q:
            return self.recipes
        return [
            r
            for r in self.recipes
            if q
            in " ".join(
                str(v) for v in (recipe_id(r), r.title, r.summary, r.kpi, *needs_text(r))
            ).lower()
        ]

    def _fill(self) -> None:
        table = self.query_one("#recipes", DataTable)
        # A refetch (reconnect, revisit) must not move the cursor off the user's recipe.
        current = self._current()
        table.clear()
        for r in self._visible():
            rid = recipe_id(r)
            table.add_row(
                short(rid, 28),
                fits_text(self.matches.get(rid)),
                short(r.kpi or "", 12),
                key=rid,
            )
        if current is not None and recipe_id(current) in table.rows:
            table.move_cursor(row=table.get_row_index(recipe_id(current)))
        self._show_detail()

    def _current(self) -> rec_api.RecipeSummary | None:
        table = self.query_one("#recipes", DataTable)
        if table.row_count == 0:
            return None
        rid = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((r for r in self.recipes if recipe_id(r) == rid), None)

    def _show_detail(self) -> None:
        r = self._current()
        detail = self.query_one("#recipe-detail", Static)
        if r is None:
            detail.update("" if self.recipes else "No recipes.")
            return
        rid = recipe_id(r)
        lines = [
            f"[b]{escape(r.title)}[/b]  {escape(rid)} {escape(r.version)}",
            escape(r.summary or ""),
            "",
        ]
        needs = needs_text(r)
        if needs:
            lines += ["[b]Needs[/b]", *(f"  • {escape(n)}" for n in needs), ""]
        if rid in self.matches:
            lines += ["[b]Devices present[/b]", escape(match_text(self.matches[rid])[0])]
        else:
            lines.append("checking devices…")
        detail.update("\n".join(str(x) for x in lines))

    def on_data_table_row_highlighted(self, _e: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_data_table_row_selected(self, _e: DataTable.RowSelected) -> None:
        self.action_install()

    def on_input_changed(self, _e: Input.Changed) -> None:
        self._fill()

    def on_input_submitted(self, _e: Input.Submitted) -> None:
        self.query_one("#recipes", DataTable).focus()

    def action_search(self) -> None:
        """Focus the search field."""
        self.query_one("#catalog-search", Input).focus()

    def action_install(self) -> None:
        """Open the install wizard for the highlighted recipe."""
        r = self._current()
        if r is not None:
            self.post_message(OpenRecipe(recipe_id(r)))

"""The admin's start page: what each role acts on, as panels of figures and recent items.

Each app contributes the panels of its own domain (`start_panel` in its admin modules:
accounts for key managers, audit for auditors, scores for credit data operators); a panel
is shown to whoever holds its permission, so a role sees its own and a superuser all.
Every figure links to the list it counts, filtered; a panel costs at most one query per
figure (a group of figures read by one aggregate counts once) and reads summaries, never
a scan of the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.http import HttpRequest


@dataclass(frozen=True, slots=True)
class Figure:
    """A number (or a short value) with its label, linking to what it counts."""

    label: str
    value: int | str
    url: str | None = None
    figure_id: str = ""


@dataclass(frozen=True, slots=True)
class Item:
    """One recent thing (an import, an export, a change to a key), linking to its page."""

    text: str
    url: str | None = None
    when: datetime | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class StartPanel:
    panel_id: str
    title: str
    figures: Sequence[Figure] = ()
    # Figures in a table: column headings, then (row label, figures) per row.
    table_columns: Sequence[str] = ()
    table_rows: Sequence[tuple[str, Sequence[Figure]]] = ()
    items_title: str = ""
    items: Sequence[Item] = ()
    empty: str = ""
    note: str = ""
    links: Sequence[tuple[str, str]] = field(default_factory=tuple)


PanelBuilder = Callable[[HttpRequest], StartPanel | None]
_BUILDERS: list[tuple[int, PanelBuilder]] = []


def start_panel(order: int) -> Callable[[PanelBuilder], PanelBuilder]:
    """Register a panel builder: it returns the panel for this request's user, or None
    when the user's role does not include it. Panels are shown by `order`."""

    def register(builder: PanelBuilder) -> PanelBuilder:
        _BUILDERS.append((order, builder))
        _BUILDERS.sort(key=lambda entry: entry[0])
        return builder

    return register


def start_panels(request: HttpRequest) -> list[StartPanel]:
    """The panels this request's user sees, in order."""
    panels = (builder(request) for _order, builder in _BUILDERS)
    return [panel for panel in panels if panel is not None]

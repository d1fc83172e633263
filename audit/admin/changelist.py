"""The audit trail's changelist at ten million rows and more (docs/audit.md).

Django's changelist counts the filtered rows (`COUNT(*)`) and pages with OFFSET, and its
date drill-down lists the years with `SELECT DISTINCT date_trunc(...)`: each of them reads
the whole table or most of it. Here instead:

- Pages are keyset pages, newest first: "older" continues below the last row shown
  (`?before=<time>.<id>`), so any page costs what the first one does. The order is fixed
  (time, then id) because the keyset depends on it.
- The count is exact up to EXACT_COUNT_LIMIT rows, and beyond that the planner's estimate.
- Time is filtered by a range of days (`OccurredBetweenFilter`), with no drill-down.
- API keys are filtered and linked by their prefix, never by their primary key (which
  holds the key's hash).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from audit.forms import DayRangeForm
from audit.order import NEWEST_FIRST, OLDEST_FIRST, Cursor
from audit.selectors import RowCount, rows_counted
from scores.models import Consultation

CURSOR_VAR = "before"
# Up to here a count is exact (a bounded COUNT); beyond it, the planner's estimate.
EXACT_COUNT_LIMIT = 10_000


class AuditTrailChangeList(ChangeList):
    """Keyset pages of the audit trail, counted without reading the table."""

    result_list: list[Consultation]

    def __init__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        self.cursor = Cursor.parse(request.GET.get(CURSOR_VAR))
        super().__init__(request, *args, **kwargs)
        self.params.pop(CURSOR_VAR, None)  # the search box starts from the newest row too

    def get_filters_params(self, params: Any = None) -> dict[str, Any]:
        lookup_params: dict[str, Any] = super().get_filters_params(params)
        lookup_params.pop(CURSOR_VAR, None)
        return lookup_params

    def get_query_string(
        self, new_params: dict[str, Any] | None = None, remove: Iterable[str] | None = None
    ) -> str:
        """Links that change the filters or the search start again from the newest row."""
        return str(super().get_query_string(new_params, [*(remove or []), CURSOR_VAR]))

    def get_ordering(self, request: HttpRequest, queryset: QuerySet[Any]) -> list[Any]:
        return list(NEWEST_FIRST)

    def get_results(self, request: HttpRequest) -> None:
        per_page = self.list_per_page
        page = self.queryset
        if self.cursor is not None:
            page = page.filter(self.cursor.older())
        rows = list(page[: per_page + 1])
        self.result_list = rows[:per_page]
        if self.cursor is None and len(rows) <= per_page:
            self.row_count = RowCount(len(rows), exact=True)  # all of them are on this page
        else:
            self.row_count = rows_counted(self.queryset, limit=EXACT_COUNT_LIMIT)
        # Django's templates read these: one page, no "show all", no admin actions, and no
        # "N results (M total)" beside the search box (the count is under the list).
        self.result_count = self.full_result_count = self.row_count.value or 0
        self.show_full_result_count = False
        self.show_admin_actions = False
        self.can_show_all = False
        self.multi_page = False
        self.paginator = None

        older = Cursor.of(rows[per_page - 1]) if len(rows) > per_page else None
        self.older_url = self.get_query_string({CURSOR_VAR: str(older)}) if older else None
        self.newest_url = self.get_query_string() if self.cursor is not None else None
        self.newer_url = self._newer_url(rows[0] if rows else None)
        self.export_query = self.get_query_string()

    def _newer_url(self, first: Consultation | None) -> str | None:
        """The page before this one: the rows just newer than its first row, found from
        there upwards (oldest first), the way "older" finds its rows downwards."""
        start = Cursor.of(first) if first is not None else self.cursor
        if self.cursor is None or start is None:
            return None
        beyond = list(
            self.queryset.filter(start.newer())
            .order_by(*OLDEST_FIRST)
            .values_list("occurred_at", "pk")[self.list_per_page : self.list_per_page + 1]
        )
        if not beyond:
            return self.newest_url  # fewer than a page of newer rows: the newest page
        return self.get_query_string({CURSOR_VAR: str(Cursor(*beyond[0]))})


class OccurredBetweenFilter(admin.ListFilter):
    """A range of days (`occurred_from`, `occurred_to`, both included, in the portal's
    time zone) instead of the date drill-down. An inverted or malformed range shows its
    error and no rows."""

    title = _("time")
    template = "admin/scores/consultation/occurred_between_filter.html"
    parameter_since = "occurred_from"
    parameter_until = "occurred_to"

    def __init__(
        self, request: HttpRequest, params: dict[str, list[str]], model: Any, model_admin: Any
    ) -> None:
        super().__init__(request, params, model, model_admin)
        for name in self.expected_parameters():
            if name in params:
                self.used_parameters[name] = params.pop(name)[-1]
        data = {
            "since": self.used_parameters.get(self.parameter_since, ""),
            "until": self.used_parameters.get(self.parameter_until, ""),
        }
        self.form = DayRangeForm(data if self.used_parameters else None)

    def has_output(self) -> bool:
        return True

    def expected_parameters(self) -> list[str | None]:
        return [self.parameter_since, self.parameter_until]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.used_parameters:
            return queryset
        if not self.form.is_valid():
            return queryset.none()
        since, until = self.form.bounds()
        if since is not None:
            queryset = queryset.filter(occurred_at__gte=since)
        if until is not None:
            queryset = queryset.filter(occurred_at__lt=until)
        return queryset

    def choices(self, changelist: Any) -> Iterator[dict[str, Any]]:
        ours = {*self.expected_parameters(), CURSOR_VAR}
        yield {
            "form": self.form,
            "parameter_since": self.parameter_since,
            "parameter_until": self.parameter_until,
            # The other filters and the search, kept when the range is applied.
            "hidden": [
                (name, value)
                for name, values in changelist.filter_params.items()
                if name not in ours
                for value in values
            ],
            "clear_url": changelist.get_query_string(remove=self.expected_parameters())
            if self.used_parameters
            else None,
        }


class OrganizationListFilter(admin.RelatedFieldListFilter):
    """An organization. With one of its keys chosen too, the key alone says it; with a key
    of another organization, nothing matches, and that is known without reading rows.

    Both conditions together would look like a large result to the planner (it takes them
    for independent) and send it walking the whole time index to find nothing.
    """

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        key_prefix = request.GET.get(ApiKeyListFilter.lookup)
        if not (key_prefix and self.lookup_val):
            filtered = super().queryset(request, queryset)
            return queryset if filtered is None else filtered
        from accounts.models import ApiKey

        organization_id = (
            ApiKey.objects.filter(prefix=key_prefix)
            .values_list("organization_id", flat=True)
            .first()
        )
        if str(organization_id) in self.lookup_val:
            return queryset
        return queryset.none()


class ApiKeyListFilter(admin.RelatedFieldListFilter):
    """Keys by prefix (the filter's value), shown with their name and organization."""

    lookup = "api_key__prefix__exact"  # no join: the prefix is the audit row's own column

    def field_choices(self, field: Any, request: HttpRequest, model_admin: Any) -> list[Any]:
        from accounts.models import ApiKey

        keys = (
            ApiKey.objects.select_related("organization")
            .only("prefix", "name", "organization__name")
            .order_by("organization__name", "name", "prefix")
        )
        return [(key.prefix, f"{key.prefix} · {key.name} ({key.organization})") for key in keys]

"""The audit trail in the admin: every score query, read-only, and its CSV export.

The model is the scores app's (the score path writes it); its pages are the auditors'.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.urls import URLPattern, path, reverse
from django.utils import formats, timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from audit.admin.changelist import (
    CURSOR_VAR,
    ApiKeyListFilter,
    AuditTrailChangeList,
    OccurredBetweenFilter,
    OrganizationListFilter,
)
from audit.exceptions import ExportFiltersTooLong
from audit.services.exports import audit_export_start
from scoreportal.admin_bases import ReadOnlyAdminMixin
from scores.admin.cpf_search import CpfSearchMixin, cpf_search_recall
from scores.core.scorecard import InvalidScorecard, bins_from_text
from scores.models import Consultation, CreditProfile
from scores.selectors import scorecard_get

EXPORT_PERMISSION = "scores.export_consultation"


@admin.register(Consultation)
class ConsultationAdmin(ReadOnlyAdminMixin, CpfSearchMixin, admin.ModelAdmin[Consultation]):
    """Read-only browser of every score query, fast at any size (audit/admin/changelist.py),
    and its CSV export."""

    search_help_text = _("Exact CPF (with or without punctuation) or request id.")
    # What an auditor scans a page for, at 1366 px with the sidebar and the filters open;
    # the HTTP status, band, source and latency are on the consultation's page (and
    # filterable), the whole request id too.
    list_display = [
        "occurred_at",
        "request",
        "organization",
        "api_key_prefix",
        "cpf_masked",
        "purpose",
        "outcome",
        "score",
    ]
    list_display_links = ["occurred_at"]
    list_filter = [
        OccurredBetweenFilter,
        ("organization", OrganizationListFilter),
        ("api_key", ApiKeyListFilter),
        "outcome",
        "purpose",
        "source",
        "endpoint",
    ]
    list_select_related = ["organization"]
    list_per_page = 100
    search_fields = ["request_id"]  # shows the search box; the search itself is below
    sortable_by = ()  # newest first, always: the pages depend on it
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a count per choice would read the whole table
    actions = None
    fieldsets = [
        (
            _("Request"),
            {"fields": ["occurred_at", "request_id", "endpoint", "client_ip", "latency_ms"]},
        ),
        (_("Caller"), {"fields": ["organization", "key", "presented_key_prefix"]}),
        (_("Consultation"), {"fields": ["cpf_masked", "purpose", "outcome", "http_status"]}),
        (
            _("Score served"),
            {"fields": ["score", "band", "model_version", "source", "bins_served"]},
        ),
    ]
    readonly_fields = [
        "occurred_at",
        "request_id",
        "endpoint",
        "client_ip",
        "latency_ms",
        "organization",
        "key",
        "presented_key_prefix",
        "cpf_masked",
        "purpose",
        "outcome",
        "http_status",
        "score",
        "band",
        "model_version",
        "source",
        "bins_served",
    ]

    @admin.display(description=_("request id"))
    def request(self, obj: Consultation) -> str:
        """The request id's first characters (enough to tell rows apart); the whole id on
        hovering it, and on the consultation's page."""
        full = str(obj.request_id)
        return format_html('<span class="request-id" title="{}">{}…</span>', full, full[:8])

    @admin.display(description=_("characteristic bins"))
    def bins_served(self, obj: Consultation) -> str:
        """Which bin of each characteristic the served score fell in, as the scorecard's
        page shows bins (its bounds), by the characteristic's label."""
        bins = bins_from_text(obj.characteristic_bins)
        if not bins:
            return "-"
        try:
            characteristics = scorecard_get(obj.model_version).characteristics
        except InvalidScorecard:
            return obj.characteristic_bins  # a version this installation does not know
        if len(characteristics) != len(bins):
            return obj.characteristic_bins
        shown = [
            (
                capfirst(CreditProfile.characteristic_label(characteristic.name)),
                formats.localize(characteristic.bins[index].lower),
                "∞"
                if characteristic.bins[index].upper is None
                else formats.localize(characteristic.bins[index].upper),
            )
            for characteristic, index in zip(characteristics, bins, strict=True)
            if index < len(characteristic.bins)
        ]
        return format_html(
            '<ul class="served-bins">{}</ul>',
            format_html_join("", "<li>{}: {} &ndash; {}</li>", shown),
        )

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[AuditTrailChangeList]:
        return AuditTrailChangeList

    def get_urls(self) -> list[URLPattern]:
        export = self.admin_site.admin_view(self.export_view)
        return [path("export/", export, name="scores_consultation_export"), *super().get_urls()]

    @method_decorator(require_POST)
    def export_view(self, request: HttpRequest) -> HttpResponseBase:
        """Start an export of the audit trail as filtered and searched on its page: every
        matching row up to the moment the export starts, newest first, masked CPFs only,
        written to a file by a task in steps (audit.services.exports). The export is
        recorded (who, when, filters, rows) first; its page shows the progress, then the
        download.

        A POST from the page's button (its filters in the address, as on the page; the
        CSRF token in the body): a link followed from another site is a GET, and must not
        write an export in the auditor's name."""
        if not request.user.has_perm(EXPORT_PERMISSION):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            # Filters the page cannot apply either: back to it, which says so as it does.
            return HttpResponseRedirect(
                f"{reverse('admin:scores_consultation_changelist')}?{ERROR_FLAG}=1"
            )
        rows = changelist.queryset.filter(occurred_at__lte=timezone.now())
        try:
            export = audit_export_start(
                actor=request.user,  # type: ignore[arg-type]  # the admin's users are signed in
                rows=rows,
                filters={k: v for k, v in changelist.filter_params.items() if k != CURSOR_VAR},
                searched=cpf_search_recall(request, changelist.query),
            )
        except ExportFiltersTooLong:
            self.message_user(
                request,
                gettext("These filters are too long to be recorded with an export; narrow them."),
                messages.ERROR,
            )
            return HttpResponseRedirect(reverse("admin:scores_consultation_changelist"))
        self.message_user(
            request,
            gettext(
                "The export is being written (%(count)s rows). Its file can be downloaded "
                "here when it is ready."
            )
            % {"count": formats.localize(export.row_count)},
            messages.SUCCESS,
        )
        return HttpResponseRedirect(reverse("admin:audit_auditexport_change", args=[export.pk]))

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {"can_export": request.user.has_perm(EXPORT_PERMISSION)}
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        # The key filter's lookup reads the audit row's own column (the key's prefix);
        # Django's check takes a to_field for a second relation.
        return lookup == ApiKeyListFilter.lookup or super().lookup_allowed(lookup, value, request)

    def _search_other(
        self, request: HttpRequest, queryset: QuerySet[Any], term: str
    ) -> tuple[QuerySet[Any], bool]:
        try:
            return queryset.filter(request_id=uuid.UUID(term)), False
        except ValueError:
            return queryset.none(), False

    @admin.display(description=_("API key"))
    def key(self, row: Consultation) -> str:
        """The key's prefix, linked to the key (by prefix: its primary key holds its hash)."""
        if row.api_key_id is None:
            return self.get_empty_value_display()
        url = (
            reverse("admin:accounts_apikey_changelist")
            + "?"
            + urlencode({"prefix": row.api_key_id})
        )
        return format_html('<a href="{}">{}</a>', url, row.api_key_id)

    @admin.display(description=_("presented key prefix"))
    def presented_key_prefix(self, row: Consultation) -> str:
        """What a request that failed authentication presented as its key's prefix."""
        if row.api_key_id is not None or not row.api_key_prefix:
            return self.get_empty_value_display()
        return row.api_key_prefix

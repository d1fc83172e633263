"""The records of who read the audit trail, in the admin: exports and per-CPF report runs,
read-only, searched by the CPF they concern."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from audit.models import AuditExport, CpfReportRun
from scoreportal.admin_bases import ReadOnlyAdminMixin
from scores.admin.cpf_search import CpfSearchMixin


@admin.register(AuditExport)
class AuditExportAdmin(ReadOnlyAdminMixin, CpfSearchMixin, admin.ModelAdmin[Any]):
    """Who exported the audit trail, when, with which filters, how many rows; searched by
    the CPF searched for, or by name."""

    actions = None
    show_full_result_count = False
    search_help_text = _("Exact CPF searched for (with or without punctuation), or a name.")
    list_display = ["occurred_at", "actor_name", "filters_link", "cpf_masked", "row_count"]
    list_filter = ["actor_name"]
    search_fields = ["actor_name"]
    fields = ("occurred_at", "actor_name", "actor", "filters_link", "cpf_masked", "row_count")
    readonly_fields = fields

    @admin.display(description=_("filters"))
    def filters_link(self, export: AuditExport) -> str:
        """The export's filters, linked to the audit trail with them; a CPF's search is
        not repeated (it was kept masked, which finds nothing)."""
        if not export.filters:
            return str(_("none (the whole audit trail)"))
        url = reverse("admin:scores_consultation_changelist")
        kept = parse_qsl(export.filters, keep_blank_values=True)
        if export.cpf_hash:
            kept = [(name, value) for name, value in kept if name != "q"]
        return format_html('<a href="{}?{}">{}</a>', url, urlencode(kept), export.filters)


@admin.register(CpfReportRun)
class CpfReportRunAdmin(ReadOnlyAdminMixin, CpfSearchMixin, admin.ModelAdmin[Any]):
    """Who ran the consultation report for which CPF, when, over which days; searched by
    the CPF, or by name."""

    actions = None
    show_full_result_count = False
    search_help_text = _("Exact CPF (with or without punctuation), or a name.")
    list_display = [
        "occurred_at",
        "actor_name",
        "cpf_masked",
        "period_start",
        "period_end",
        "output",
        "row_count",
    ]
    list_filter = ["output", "actor_name"]
    search_fields = ["actor_name"]
    fields = (
        "occurred_at",
        "actor_name",
        "actor",
        "cpf_masked",
        "period_start",
        "period_end",
        "output",
        "row_count",
    )
    readonly_fields = fields

"""The records of who read the audit trail, in the admin: exports and per-CPF report runs,
read-only, searched by the CPF they concern."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.urls import reverse
from django.utils import formats
from django.utils.dateparse import parse_date
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.admin.changelist import CURSOR_VAR, OccurredBetweenFilter
from audit.models import AuditExport, CpfReportRun
from scoreportal.admin_bases import ReadOnlyAdminMixin
from scores.admin.cpf_search import CpfSearchMixin
from scores.models import Consultation


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
        return format_html(
            '<a href="{}?{}"><ul class="export-filters">{}</ul></a>',
            url,
            urlencode(kept),
            format_html_join("", "<li>{}: {}</li>", filters_readable(export.filters)),
        )


def filters_readable(filters: str) -> list[tuple[str, str]]:
    """The audit trail's filters as its page names them: (label, value) in the reader's
    language, a choice by its label and a day in the local format; the rest as kept."""
    readable = []
    for name, value in parse_qsl(filters, keep_blank_values=True):
        if name == CURSOR_VAR:
            continue  # a page of the trail, not a filter
        if name in (OccurredBetweenFilter.parameter_since, OccurredBetweenFilter.parameter_until):
            since = name == OccurredBetweenFilter.parameter_since
            label = gettext("From") if since else gettext("Until")
            day = parse_date(value) if len(value) == 10 else None
            readable.append((label, formats.date_format(day) if day else value))
            continue
        if name == "q":
            readable.append((gettext("Search"), value))
            continue
        try:
            field = Consultation._meta.get_field(name.split("__")[0])
        except FieldDoesNotExist:
            readable.append((name, value))
            continue
        choices = dict(getattr(field, "flatchoices", None) or ())
        label = capfirst(str(getattr(field, "verbose_name", name)))
        readable.append((label, str(choices.get(value, value))))
    return readable


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
        "reason",
    )
    readonly_fields = fields

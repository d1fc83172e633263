"""The records of who read the audit trail, in the admin: exports and per-CPF report runs,
read-only, searched by the CPF they concern; and who brought the usage summary up to date."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
)
from django.urls import URLPattern, path, reverse
from django.utils import formats
from django.utils.dateparse import parse_date
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from audit.admin.changelist import CURSOR_VAR, OccurredBetweenFilter
from audit.exceptions import ExportNotReady, ExportNotResumable
from audit.models import (
    AuditExport,
    AuditExportDownload,
    AuditExportFile,
    CpfReportRun,
    UsageSummaryRefresh,
)
from audit.services.exports import audit_export_download, audit_export_resume
from scoreportal.admin_bases import ReadOnlyAdminMixin
from scores.admin.cpf_search import CpfSearchMixin
from scores.models import Consultation

EXPORT_PERMISSION = "scores.export_consultation"
# While an export is written, its page reloads itself this often (a <meta> refresh: no
# script needed under the CSP).
_PROGRESS_REFRESH_SECONDS = 2


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

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/download/",
                view(self.download_view),
                name="audit_auditexport_download",
            ),
            path(
                "<path:object_id>/resume/", view(self.resume_view), name="audit_auditexport_resume"
            ),
            *super().get_urls(),
        ]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The export's record, and its file: progress while the task writes it, then the
        download (a POST: each download is recorded)."""
        export = self.get_object(request, object_id)  # None for an id that is no export's
        file = AuditExportFile.objects.filter(export=export).first() if export else None
        exporter = request.user.has_perm(EXPORT_PERMISSION)
        context = {
            "export_file": file,
            "downloadable": file is not None and file.status == AuditExportFile.Status.DONE,
            "refresh_seconds": (
                _PROGRESS_REFRESH_SECONDS if file and file.running and not file.stalled else None
            ),
            "resumable": file is not None and file.stalled and exporter,
            "link_minutes": max(1, settings.AUDIT_EXPORT_LINK_SECONDS // 60),
        }
        return super().change_view(
            request, object_id, form_url, {**context, **(extra_context or {})}
        )

    def _export(self, request: HttpRequest, object_id: str) -> AuditExport:
        if not request.user.has_perm(EXPORT_PERMISSION):
            raise PermissionDenied
        export = self.get_object(request, object_id)
        if not isinstance(export, AuditExport):
            raise Http404
        return export

    @method_decorator(require_POST)
    def download_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        """Record the download, then send the auditor to the file: a link to the bucket
        that lasts a few minutes, or the file itself (a laptop)."""
        export = self._export(request, object_id)
        try:
            link = audit_export_download(
                export=export,
                actor=request.user,  # type: ignore[arg-type]  # the admin's users are signed in
            )
        except ExportNotReady:
            self.message_user(request, gettext("This export's file is not ready."), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:audit_auditexport_change", args=[export.pk]))
        if link.url is not None:
            response: HttpResponseBase = HttpResponseRedirect(link.url)
            response.status_code = 303
        else:
            assert link.path is not None
            response = FileResponse(
                link.path.open("rb"), as_attachment=True, filename=link.file_name
            )
            response["Content-Type"] = "text/csv; charset=utf-8"
        response["Cache-Control"] = "no-store"  # audit data: no copies in caches
        return response

    @method_decorator(require_POST)
    def resume_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        """Start a stalled export's task again, from where its last step stopped."""
        export = self._export(request, object_id)
        try:
            audit_export_resume(export=export)
        except ExportNotResumable:
            self.message_user(
                request,
                gettext("This export is not stalled: it is finished or still making progress."),
                messages.ERROR,
            )
        return HttpResponseRedirect(reverse("admin:audit_auditexport_change", args=[export.pk]))

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


@admin.register(AuditExportDownload)
class AuditExportDownloadAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Any]):
    """Who downloaded which export's file, when."""

    actions = None
    show_full_result_count = False
    list_display = ["occurred_at", "actor_name", "export"]
    list_filter = ["actor_name"]
    search_fields = ["actor_name"]
    fields = ("occurred_at", "actor_name", "actor", "export")
    readonly_fields = fields


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


@admin.register(UsageSummaryRefresh)
class UsageSummaryRefreshAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[Any]):
    """Who brought the usage summary up to date from the usage report's page, when, and
    how far it got."""

    actions = None
    show_full_result_count = False
    list_display = ["occurred_at", "actor_name", "days", "last_day", "up_to_date"]
    list_filter = [("occurred_at", admin.DateFieldListFilter)]
    search_fields = ["actor_name"]
    fields = readonly_fields = ("occurred_at", "actor_name", "days", "last_day", "up_to_date")

"""The auditors' report pages in the admin: the usage report and the consultation report
for a CPF (Decreto 9.936/2019 art. 10).

Thin views: forms validate, selectors read, services record accesses; every string is
translated. Each is an admin entry's page, so the admin's sign-in policy (TOTP, roles)
applies.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import formats
from django.utils.decorators import method_decorator
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from audit.constants import OutcomeClass
from audit.csv_download import (
    csv_decimal,
    csv_response,
    csv_time,
    download_name,
    field_label,
    local_now_stamp,
)
from audit.forms import (
    CPF_REPORT_DEFAULT_DAYS,
    USAGE_REPORT_DEFAULT_DAYS,
    CpfReportForm,
    UsageReportForm,
    range_ending_today,
)
from audit.models import CpfReport, CpfReportRun, DailyUsage, UsageReport
from audit.selectors import (
    UsageFigures,
    consultations_by_organization,
    consultations_for_cpf,
    daily_usage_rows,
    usage_report,
)
from audit.services import cpf_report_record, usage_summary_refresh
from scoreportal.admin_bases import ReportAdmin
from scores.constants import BAND_LABELS
from scores.core.scorecard import Band
from scores.models import Consultation
from scores.selectors import consumer_requests_of

# ---------------------------------------------------------------------------------------
# The usage report
# ---------------------------------------------------------------------------------------
OUTCOME_CLASS_COLORS = {
    OutcomeClass.SERVED: "#2e7d32",
    OutcomeClass.NO_CREDIT_DATA: "#9e9d24",
    OutcomeClass.INVALID: "#f9a825",
    OutcomeClass.REFUSED: "#6a1b9a",
    OutcomeClass.THROTTLED: "#ef6c00",
    OutcomeClass.FAILED: "#c62828",
}
BAND_COLORS = {
    Band.LOW: "#c62828",
    Band.FAIR: "#ef6c00",
    Band.GOOD: "#1565c0",
    Band.EXCELLENT: "#2e7d32",
}


def _usage_csv_query(form: UsageReportForm) -> str:
    """The CSV download's address for the report shown (its defaults spelled out)."""
    organization = form.cleaned_data["organization"]
    return urlencode(
        {
            "since": form.cleaned_data["since"].isoformat(),
            "until": form.cleaned_data["until"].isoformat(),
            "organization": organization.pk if organization else "",
            "format": "csv",
        }
    )


def _usage_charts(report: Any) -> dict[str, Any]:
    """What the charts draw (scores/static/audit/usage_report.js reads it as JSON)."""
    days = [formats.date_format(day, "MONTH_DAY_FORMAT") for day, _figures in report.by_day]
    figures: list[UsageFigures] = [figures for _day, figures in report.by_day]

    def rounded(value: float | None, places: int = 1) -> float | None:
        return None if value is None else round(value, places)

    return {
        "labels": days,
        "outcomes": [
            {
                "label": str(outcome_class.label),
                "color": OUTCOME_CLASS_COLORS[outcome_class],
                "data": [getattr(day, outcome_class.value) for day in figures],
            }
            for outcome_class in OutcomeClass
        ],
        "latency": {
            "p50": {
                "label": str(_("p50 latency (ms)")),
                "data": [rounded(d.p50_ms) for d in figures],
            },
            "p95": {
                "label": str(_("p95 latency (ms)")),
                "data": [rounded(d.p95_ms) for d in figures],
            },
            "cache": {
                "label": str(_("Cache hits (% of scores served)")),
                "data": [rounded(d.cache_hit_percent) for d in figures],
            },
        },
        "bands": [
            {
                "label": str(BAND_LABELS[band]),
                "color": BAND_COLORS[band],
                "data": [getattr(day, f"band_{band.value}") for day in figures],
            }
            for band in Band
        ],
        "mean_score": {
            "label": str(_("Mean score")),
            "data": [rounded(d.mean_score) for d in figures],
        },
        "axes": {
            "consultations": str(_("Consultations")),
            "milliseconds": str(_("Milliseconds")),
            "percent": str(_("Percent")),
            "scores_served": str(_("Scores served")),
            "score": str(_("Score")),
        },
    }


def _usage_csv(since: Any, until: Any, organization: Any) -> HttpResponseBase:
    header = [
        field_label(DailyUsage, "day"),
        field_label(DailyUsage, "organization"),
        field_label(DailyUsage, "api_key"),
        *(field_label(DailyUsage, name) for name in ("requests", "consultations")),
        *(str(outcome_class.label) for outcome_class in OutcomeClass),
        str(_("Cache hits (% of scores served)")),
        str(_("p50 latency (ms)")),
        str(_("p95 latency (ms)")),
        *(str(BAND_LABELS[band]) for band in Band),
        str(_("Mean score")),
    ]

    def rows() -> Iterator[list[Any]]:
        for usage in daily_usage_rows(since=since, until=until, organization=organization):
            figures = UsageFigures()
            figures.add(usage)
            yield [
                usage.day.isoformat(),
                str(usage.organization or ""),
                usage.api_key_id or "",
                figures.requests,
                figures.consultations,
                *(getattr(figures, outcome_class.value) for outcome_class in OutcomeClass),
                csv_decimal(figures.cache_hit_percent),
                csv_decimal(figures.p50_ms),
                csv_decimal(figures.p95_ms),
                *(getattr(figures, f"band_{band.value}") for band in Band),
                csv_decimal(figures.mean_score),
            ]

    return csv_response(
        filename=download_name(gettext("usage"), f"{since.isoformat()}-{until.isoformat()}"),
        header=header,
        rows=rows(),
    )


# ---------------------------------------------------------------------------------------
# The consultation report for a CPF
# ---------------------------------------------------------------------------------------
def _cpf_report_csv(consultations: list[Consultation]) -> HttpResponseBase:
    header = [
        f"{field_label(Consultation, 'occurred_at')} ({settings.TIME_ZONE})",
        field_label(Consultation, "organization"),
        field_label(Consultation, "purpose"),
        field_label(Consultation, "outcome"),
        field_label(Consultation, "cpf_masked"),
    ]
    rows = (
        [
            csv_time(consultation.occurred_at),
            str(consultation.organization or ""),
            consultation.get_purpose_display(),
            consultation.get_outcome_display(),
            consultation.cpf_masked,
        ]
        for consultation in consultations
    )
    return csv_response(
        filename=download_name(gettext("consultations-by-cpf"), local_now_stamp()),
        header=header,
        rows=rows,
    )


# Bringing the summary up to date from the page stops between days after this long: a
# long backlog takes a few presses (each says how far it got), never a request that times out.
REFRESH_SECONDS = 20


@admin.register(UsageReport)
class UsageReportAdmin(ReportAdmin):
    """The usage report (Auditors, Credit data operators)."""

    def get_urls(self) -> list[URLPattern]:
        refresh = self.admin_site.admin_view(self.refresh_view)
        return [
            path("refresh/", refresh, name="audit_usagereport_refresh"),
            *super().get_urls(),
        ]

    @method_decorator(require_POST)
    def refresh_view(self, request: HttpRequest) -> HttpResponseBase:
        """Summarize the days not summarized yet, now, in the name of who asked (recorded:
        the press, and on each day's summary); back to the report as it was."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        refresh = usage_summary_refresh(actor=cast(User, request.user), max_seconds=REFRESH_SECONDS)
        if not refresh.up_to_date:
            self.message_user(
                request,
                ngettext(
                    "%(done)s day summarized, up to %(day)s; bring it up to date again for "
                    "the rest.",
                    "%(done)s days summarized, up to %(day)s; bring it up to date again for "
                    "the rest.",
                    refresh.days,
                )
                % {
                    "done": refresh.days,
                    "day": (
                        formats.date_format(refresh.last_day, "SHORT_DATE_FORMAT")
                        if refresh.last_day
                        else "—"
                    ),
                },
                messages.WARNING,
            )
        else:
            self.message_user(
                request,
                gettext("The usage summary is up to date (%(done)s days summarized).")
                % {"done": refresh.days},
                messages.SUCCESS,
            )
        # The report's own filters, re-encoded: only a query string of our page goes back.
        back = QueryDict(request.POST.get("query", "")).urlencode()
        url = reverse("admin:audit_usagereport_changelist")
        return HttpResponseRedirect(f"{url}?{back}" if back else url)

    def report(self, request: HttpRequest) -> HttpResponseBase:
        """Per organization and key, per day, over a range of days (default the last 30):
        volume, outcomes, cache hits, latency, and the score mix of what was served."""
        form = UsageReportForm(
            request.GET if request.GET else range_ending_today(USAGE_REPORT_DEFAULT_DAYS)
        )
        report = None
        if form.is_valid():
            since, until = form.cleaned_data["since"], form.cleaned_data["until"]
            organization = form.cleaned_data["organization"]
            if request.GET.get("format") == "csv":
                return _usage_csv(since, until, organization)
            report = usage_report(since=since, until=until, organization=organization)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Usage report"),
            "form": form,
            "report": report,
            "charts": _usage_charts(report) if report else None,
            "csv_query": _usage_csv_query(form) if report else "",
            "outcome_classes": list(OutcomeClass),
            "refreshes_url": (
                reverse("admin:audit_usagesummaryrefresh_changelist")
                if request.user.has_perm("audit.view_usagesummaryrefresh")
                else ""
            ),
        }
        return TemplateResponse(request, "admin/audit/usagereport/report.html", context)


@admin.register(CpfReport)
class CpfReportAdmin(ReportAdmin):
    """The consultation report for a CPF (Auditors)."""

    def report(self, request: HttpRequest) -> HttpResponseBase:
        """Which organizations consulted a CPF, when and why (Decreto 9.936/2019 art. 10),
        over a range of days (default the last six months). The CPF travels in the form's
        body, never in an address; every run is recorded before its result is shown."""
        if request.method == "POST":
            form = CpfReportForm(request.POST)
        else:
            form = CpfReportForm(initial=range_ending_today(CPF_REPORT_DEFAULT_DAYS))
        context: dict[str, Any] = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Consultation report by CPF"),
            "form": form,
            "report": None,
        }
        if request.method == "POST" and form.is_valid():
            cpf = form.cleaned_data["cpf"]
            since, until = form.cleaned_data["since"], form.cleaned_data["until"]
            since_at, until_at = form.required_bounds()
            consultations = consultations_for_cpf(
                cpf_hash=cpf.lookup_hash(settings.CPF_HASH_KEY), since=since_at, until=until_at
            )
            output = (
                CpfReportRun.Output.CSV
                if request.POST.get("output") == CpfReportRun.Output.CSV
                else CpfReportRun.Output.PAGE
            )
            run = cpf_report_record(
                actor=request.user,  # type: ignore[arg-type]  # the admin's users are signed in
                cpf=cpf,
                period_start=since,
                period_end=until,
                output=output,
                row_count=len(consultations),
                reason=form.cleaned_data["reason"],
            )
            if output == CpfReportRun.Output.CSV:
                return _cpf_report_csv(consultations)
            context["report"] = {
                # What the person asked of us, beside who consulted them.
                "requests": list(
                    consumer_requests_of(cpf_hash=cpf.lookup_hash(settings.CPF_HASH_KEY))
                ),
                "cpf_masked": cpf.masked,
                "since": since,
                "until": until,
                "consultations": consultations,
                "by_organization": consultations_by_organization(consultations),
                "run": run,
            }
        # The admin's views are never cached (no-store): no copy of the report stays behind.
        return TemplateResponse(request, "admin/audit/cpfreport/report.html", context)

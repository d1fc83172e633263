"""The auditors' report pages in the admin (SPEC §10): the audit trail's CSV export, the
usage report, and the consultation report for a CPF.

Thin views: forms validate, selectors read, services record accesses; every string is
translated. Each is reached through its ModelAdmin's URLs, so the admin's sign-in policy
(TOTP, roles) applies (scores/admin.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import PermissionDenied
from django.db.models import Field, Model
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from scores.audit_changelist import CURSOR_VAR
from scores.constants import BAND_LABELS, OutcomeClass
from scores.cpf_search import cpf_search_recall
from scores.csv_download import csv_decimal, csv_response, csv_time
from scores.exceptions import ExportFiltersTooLong
from scores.forms import (
    CPF_REPORT_DEFAULT_DAYS,
    USAGE_REPORT_DEFAULT_DAYS,
    CpfReportForm,
    UsageReportForm,
    range_ending_today,
)
from scores.models import Consultation, CpfReportRun, DailyUsage
from scores.scorecard import Band
from scores.selectors import (
    UsageFigures,
    consultations_by_organization,
    consultations_for_cpf,
    consultations_in_order,
    daily_usage_rows,
    usage_report,
)
from scores.services.audit_reports import audit_export_record, cpf_report_record

if TYPE_CHECKING:
    from scores.admin import ConsultationAdmin, CpfReportAdmin, UsageReportAdmin

EXPORT_PERMISSION = "scores.export_consultation"


def _field(model: type[Model], name: str) -> Field[Any, Any]:
    field = model._meta.get_field(name)
    if not isinstance(field, Field):  # pragma: no cover  (our names are fields)
        raise TypeError(name)
    return field


def _label(model: type[Model], name: str) -> str:
    return str(capfirst(_field(model, name).verbose_name))


def _local_now_stamp() -> str:
    return timezone.localtime().strftime("%Y%m%d-%H%M%S")


def _filename(stem: str, suffix: str) -> str:
    """A download's name: a translated stem (its own call, so makemessages finds it)."""
    return f"{stem}-{suffix}.csv"


# ---------------------------------------------------------------------------------------
# The audit trail's CSV export
# ---------------------------------------------------------------------------------------
_EXPORT_FIELDS = (
    "occurred_at",
    "request_id",
    "organization__name",
    "api_key_id",
    "api_key_prefix",
    "client_ip",
    "endpoint",
    "purpose",
    "cpf_masked",
    "outcome",
    "http_status",
    "score",
    "band",
    "model_version",
    "source",
    "latency_ms",
)


@require_POST
def consultation_export(request: HttpRequest, model_admin: ConsultationAdmin) -> HttpResponseBase:
    """The audit trail as filtered and searched on its page, as CSV: every matching row
    up to the moment the export starts, newest first, masked CPFs only. The export is
    recorded (who, when, filters, rows) before its first row is sent.

    A POST from the page's button (its filters in the address, as on the page; the
    CSRF token in the body): a link followed from another site is a GET, and must not
    write an export in the auditor's name."""
    if not request.user.has_perm(EXPORT_PERMISSION):
        raise PermissionDenied
    try:
        changelist = model_admin.get_changelist_instance(request)
    except IncorrectLookupParameters:
        # Filters the page cannot apply either: back to it, which says so as it does.
        return HttpResponseRedirect(
            f"{reverse('admin:scores_consultation_changelist')}?{ERROR_FLAG}=1"
        )
    started = timezone.now()
    rows = changelist.queryset.filter(occurred_at__lte=started)
    count = rows.count()
    limit = settings.AUDIT_EXPORT_MAX_ROWS
    if limit is not None and count > limit:
        model_admin.message_user(
            request,
            gettext(
                "This export would have %(count)s rows; here exports are limited to "
                "%(limit)s. Narrow the filters (a shorter range of days, an organization)."
            )
            % {"count": formats.localize(count), "limit": formats.localize(limit)},
            messages.ERROR,
        )
        return HttpResponseRedirect(
            reverse("admin:scores_consultation_changelist") + changelist.get_query_string()
        )
    try:
        audit_export_record(
            actor=request.user,  # type: ignore[arg-type]  # the admin's users are signed in
            filters={k: v for k, v in changelist.filter_params.items() if k != CURSOR_VAR},
            row_count=count,
            searched=cpf_search_recall(request, changelist.query),
        )
    except ExportFiltersTooLong:
        model_admin.message_user(
            request,
            gettext("These filters are too long to be recorded with an export; narrow them."),
            messages.ERROR,
        )
        return HttpResponseRedirect(reverse("admin:scores_consultation_changelist"))
    header = [
        f"{_label(Consultation, 'occurred_at')} ({settings.TIME_ZONE})",
        _label(Consultation, "request_id"),
        _label(Consultation, "organization"),
        _label(Consultation, "api_key"),
        str(capfirst(_("presented key prefix"))),
        _label(Consultation, "client_ip"),
        _label(Consultation, "endpoint"),
        _label(Consultation, "purpose"),
        _label(Consultation, "cpf_masked"),
        _label(Consultation, "outcome"),
        _label(Consultation, "http_status"),
        _label(Consultation, "score"),
        _label(Consultation, "band"),
        _label(Consultation, "model_version"),
        _label(Consultation, "source"),
        _label(Consultation, "latency_ms"),
    ]
    return csv_response(
        filename=_filename(gettext("score-consultations"), _local_now_stamp()),
        header=header,
        rows=_export_rows(rows),
    )


def _export_rows(queryset: Any) -> Iterator[list[Any]]:
    labels = {
        name: {value: str(label) for value, label in _field(Consultation, name).flatchoices}
        for name in ("endpoint", "purpose", "outcome", "band", "source")
    }
    for (
        occurred_at,
        request_id,
        organization,
        api_key,
        prefix,
        client_ip,
        endpoint,
        purpose,
        cpf_masked,
        outcome,
        http_status,
        score,
        band,
        model_version,
        source,
        latency_ms,
    ) in consultations_in_order(queryset, fields=_EXPORT_FIELDS):
        yield [
            csv_time(occurred_at),
            request_id,
            organization or "",
            api_key or "",
            "" if api_key else prefix,
            client_ip or "",
            labels["endpoint"].get(endpoint, endpoint),
            labels["purpose"].get(purpose, purpose),
            cpf_masked,
            labels["outcome"].get(outcome, outcome),
            http_status,
            "" if score is None else score,
            labels["band"].get(band, band),
            model_version,
            labels["source"].get(source, source),
            latency_ms,
        ]


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


def usage_report_view(request: HttpRequest, model_admin: UsageReportAdmin) -> HttpResponseBase:
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
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": _("Usage report"),
        "form": form,
        "report": report,
        "charts": _usage_charts(report) if report else None,
        "csv_query": _usage_csv_query(form) if report else "",
        "outcome_classes": list(OutcomeClass),
        "bands": [BAND_LABELS[band] for band in Band],
    }
    return TemplateResponse(request, "admin/scores/usagereport/report.html", context)


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
    """What the charts draw (scores/static/scores/usage_report.js reads it as JSON)."""
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
        _label(DailyUsage, "day"),
        _label(DailyUsage, "organization"),
        _label(DailyUsage, "api_key"),
        *(_label(DailyUsage, name) for name in ("requests", "consultations")),
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
        filename=_filename(gettext("usage"), f"{since.isoformat()}-{until.isoformat()}"),
        header=header,
        rows=rows(),
    )


# ---------------------------------------------------------------------------------------
# The consultation report for a CPF
# ---------------------------------------------------------------------------------------
def cpf_report_view(request: HttpRequest, model_admin: CpfReportAdmin) -> HttpResponseBase:
    """Which organizations consulted a CPF, when and why (Decreto 9.936/2019 art. 10),
    over a range of days (default the last six months). The CPF travels in the form's
    body, never in an address; every run is recorded before its result is shown."""
    if request.method == "POST":
        form = CpfReportForm(request.POST)
    else:
        form = CpfReportForm(initial=range_ending_today(CPF_REPORT_DEFAULT_DAYS))
    context: dict[str, Any] = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
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
        )
        if output == CpfReportRun.Output.CSV:
            return _cpf_report_csv(consultations)
        context["report"] = {
            "cpf_masked": cpf.masked,
            "since": since,
            "until": until,
            "consultations": consultations,
            "by_organization": consultations_by_organization(consultations),
            "run": run,
        }
    # The admin's views are never cached (no-store): no copy of the report stays behind.
    return TemplateResponse(request, "admin/scores/cpfreport/report.html", context)


def _cpf_report_csv(consultations: list[Consultation]) -> HttpResponseBase:
    header = [
        f"{_label(Consultation, 'occurred_at')} ({settings.TIME_ZONE})",
        _label(Consultation, "organization"),
        _label(Consultation, "purpose"),
        _label(Consultation, "outcome"),
        _label(Consultation, "cpf_masked"),
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
        filename=_filename(gettext("consultations-by-cpf"), _local_now_stamp()),
        header=header,
        rows=rows,
    )

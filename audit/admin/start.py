"""The auditors' start page: consultations today and this month by outcome (from the usage
summary, never the trail), and the latest exports and reports for a CPF; and the latest
population stability for whoever watches the scorecard."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from django.db.models import Q, Sum
from django.http import HttpRequest
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext

from accounts.start_page import Figure, Item, StartPanel, start_panel
from audit.admin.changelist import OccurredBetweenFilter
from audit.constants import OUTCOME_CLASSES, OutcomeClass
from audit.models import AuditExport, CpfReportRun, DailyUsage, DailyUsageStatus
from audit.stability import latest_psi


def _trail_url(since: date, until: date, outcome_class: OutcomeClass) -> str:
    """The audit trail over these local days with the outcomes of this class."""
    outcomes = sorted(str(o) for o, c in OUTCOME_CLASSES.items() if c == outcome_class)
    query = {
        OccurredBetweenFilter.parameter_since: since.isoformat(),
        OccurredBetweenFilter.parameter_until: until.isoformat(),
    }
    query["outcome__in" if len(outcomes) > 1 else "outcome__exact"] = ",".join(outcomes)
    return f"{reverse('admin:scores_consultation_changelist')}?{urlencode(query)}"


@start_panel(order=20)
def consultations_panel(request: HttpRequest) -> StartPanel | None:
    """Today's and this month's consultations by outcome: one aggregate over the month's
    summarized days, and the day's summary status for how recent it is."""
    if not request.user.has_perm("scores.view_consultation"):
        return None
    today = timezone.localdate()
    month = today.replace(day=1)
    sums = {}
    for outcome_class in OutcomeClass:
        sums[f"today_{outcome_class.value}"] = Sum(outcome_class.value, filter=Q(day=today))
        sums[f"month_{outcome_class.value}"] = Sum(outcome_class.value)
    totals = DailyUsage.objects.filter(day__gte=month, day__lte=today).aggregate(**sums)
    status = DailyUsageStatus.objects.filter(day=today).first()
    if status is None:
        note = gettext("Today is not summarized yet: bring the usage report up to date.")
    else:
        note = gettext("Counted up to %(moment)s (the usage summary).") % {
            "moment": formats.time_format(timezone.localtime(status.covered_until))
        }
    rows = [
        (
            str(outcome_class.label),
            [
                Figure(
                    gettext("Today"),
                    totals[f"today_{outcome_class.value}"] or 0,
                    _trail_url(today, today, outcome_class),
                    f"today-{outcome_class.value}",
                ),
                Figure(
                    gettext("This month"),
                    totals[f"month_{outcome_class.value}"] or 0,
                    _trail_url(month, today, outcome_class),
                    f"month-{outcome_class.value}",
                ),
            ],
        )
        for outcome_class in OutcomeClass
    ]
    return StartPanel(
        panel_id="consultations",
        title=gettext("Score consultations"),
        table_columns=[gettext("Today"), gettext("This month")],
        table_rows=rows,
        note=note,
        links=[
            (gettext("Usage report"), reverse("admin:audit_usagereport_changelist")),
            (gettext("Audit trail"), reverse("admin:scores_consultation_changelist")),
        ],
    )


@start_panel(order=30)
def audit_records_panel(request: HttpRequest) -> StartPanel | None:
    """The last exports of the trail and reports for a CPF (one query each)."""
    if not request.user.has_perm("audit.view_auditexport"):
        return None
    exports = AuditExport.objects.order_by("-occurred_at")[:4]
    runs = CpfReportRun.objects.order_by("-occurred_at")[:4]
    items = [
        Item(
            text=gettext("Export of the audit trail: %(rows)s rows") % {"rows": export.row_count},
            url=reverse("admin:audit_auditexport_change", args=[export.pk]),
            when=export.occurred_at,
            detail=export.actor_name,
        )
        for export in exports
    ] + [
        Item(
            text=gettext("Report for CPF %(cpf)s") % {"cpf": run.cpf_masked},
            url=reverse("admin:audit_cpfreportrun_change", args=[run.pk]),
            when=run.occurred_at,
            detail=run.actor_name,
        )
        for run in runs
    ]
    items.sort(key=lambda item: item.when or timezone.now(), reverse=True)
    return StartPanel(
        panel_id="audit-records",
        title=gettext("Who read the audit trail"),
        items_title=gettext("Latest exports and reports for a CPF"),
        items=items[:6],
        empty=gettext("No exports or reports yet."),
        links=[(gettext("Report for a CPF"), reverse("admin:audit_cpfreport_changelist"))],
    )


@start_panel(order=55)
def stability_panel(request: HttpRequest) -> StartPanel | None:
    """The served population's latest weekly PSI against the active scorecard's first week
    (from the daily summary, never the trail)."""
    if not request.user.has_perm("audit.view_stabilityreport"):
        return None
    latest = latest_psi()
    value = "-" if latest is None or latest.psi is None else formats.number_format(latest.psi, 3)
    return StartPanel(
        panel_id="stability",
        title=gettext("Population stability"),
        figures=[
            Figure(
                gettext("Latest weekly PSI"),
                value,
                reverse("admin:audit_stabilityreport_changelist"),
                "latest-psi",
            )
        ],
        note=""
        if latest is None
        else gettext("Week %(week)s: %(reading)s.")
        % {"week": latest.label, "reading": latest.reading},
        empty=gettext("Not enough scores served since the activation yet."),
    )

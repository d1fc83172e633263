"""The population stability report: PSI of the served scores and CSI of each characteristic
per week and per month since the active scorecard's activation, read as stable, watch or
act; charts and a CSV."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponseBase
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.csv_download import csv_decimal, csv_response, download_name, local_now_stamp
from audit.models import StabilityReport
from audit.stability import PSI_ACT, PSI_WATCH, StabilityRow, stability_report
from scoreportal.admin_bases import ReportAdmin
from scores.constants import BAND_LABELS
from scores.core.scorecard import Band
from scores.models import CreditProfile

READINGS = {
    "stable": _("stable"),
    "watch": _("watch"),
    "act": _("act"),
}


def _rows(rows: list[StabilityRow]) -> list[dict[str, Any]]:
    return [
        {
            "row": row,
            "shares": [
                None if not row.served else 100 * count / row.served for count in row.counts
            ],
            "reading": READINGS.get(row.reading, ""),
            "csi": [
                {"value": value, "reading": reading, "label": READINGS.get(reading, "")}
                for value, reading in zip(row.csi, row.csi_readings, strict=True)
            ],
        }
        for row in rows
    ]


def _reading_text(row: StabilityRow) -> str:
    if not row.comparable:
        return gettext("not comparable")
    return str(READINGS.get(row.reading, ""))


@admin.register(StabilityReport)
class StabilityReportAdmin(ReportAdmin):
    """Population stability (Credit data operators, Model approvers, Auditors)."""

    def report(self, request: HttpRequest) -> HttpResponseBase:
        report = stability_report()
        labels = [CreditProfile.characteristic_label(name) for name in report.characteristics]
        if request.method == "POST":  # the CSV, as every download of the admin
            return csv_response(
                filename=download_name(gettext("population-stability"), local_now_stamp()),
                header=[
                    gettext("Period"),
                    gettext("From"),
                    gettext("To"),
                    *(str(BAND_LABELS[band]) for band in Band),
                    gettext("PSI"),
                    gettext("Reading"),
                    gettext("Scores without bins"),
                    *(
                        gettext("CSI: %(characteristic)s") % {"characteristic": label}
                        for label in labels
                    ),
                ],
                rows=[
                    [
                        kind,
                        row.start.isoformat(),
                        row.end.isoformat(),
                        *row.counts,
                        csv_decimal(row.psi, 4),
                        _reading_text(row),
                        row.without_bins,
                        *(csv_decimal(value, 4) for value in row.csi),
                    ]
                    for kind, rows in (
                        (gettext("week"), report.weeks),
                        (gettext("month"), report.months),
                    )
                    for row in rows
                ],
            )
        context = {
            **self.report_context(request, _("Population stability")),
            "report": report,
            "weeks": _rows(report.weeks),
            "months": _rows(report.months),
            "bands": [BAND_LABELS[band] for band in Band],
            "baseline_shares": [
                None if not sum(report.baseline) else 100 * count / sum(report.baseline)
                for count in report.baseline
            ],
            "watch": PSI_WATCH,
            "act": PSI_ACT,
            "characteristics": labels,
            "csi_chart": {
                "labels": [row.label for row in report.weeks],
                "series": [
                    {
                        "label": label,
                        "csi": [
                            None if row.csi[i] is None else round(row.csi[i] or 0, 4)
                            for row in report.weeks
                        ],
                    }
                    for i, label in enumerate(labels)
                ],
                "watch": PSI_WATCH,
                "act": PSI_ACT,
                "watch_label": gettext("0.10: watch"),
                "act_label": gettext("0.25: act"),
            },
            "chart": {
                "labels": [row.label for row in report.weeks],
                "psi": [None if row.psi is None else round(row.psi, 4) for row in report.weeks],
                "label": gettext("PSI per week"),
                "watch": PSI_WATCH,
                "act": PSI_ACT,
                "watch_label": gettext("0.10: watch"),
                "act_label": gettext("0.25: act"),
            },
        }
        return TemplateResponse(request, "admin/audit/stabilityreport/report.html", context)

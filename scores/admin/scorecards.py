"""The shipped scorecards in the admin, read-only: scaling, characteristics, bins, points
and reason texts in both languages, the active one marked."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.http import HttpRequest, HttpResponseBase
from django.template.response import TemplateResponse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from scoreportal.admin_bases import ReportAdmin
from scores.models import CreditProfile, ScorecardVersion
from scores.selectors import active_scorecard, shipped_scorecards


@admin.register(ScorecardVersion)
class ScorecardVersionAdmin(ReportAdmin):
    """The shipped scorecards, read-only (Credit data operators)."""

    def report(self, request: HttpRequest) -> HttpResponseBase:
        """Every shipped scorecard, read-only: its scaling, characteristics, bins and points,
        and reason texts in both languages; the active one (SCORECARD_VERSION) marked."""
        context = {
            **self.report_context(request, _("Scorecards")),
            "scorecards": [
                (
                    scorecard,
                    [
                        (c, c.descriptions["pt-BR"], _characteristic_label(c.name))
                        for c in scorecard.characteristics
                    ],
                )
                for scorecard in shipped_scorecards()
            ],
            "active_version": active_scorecard().version,
            "configured_version": settings.SCORECARD_VERSION,
        }
        return TemplateResponse(request, "admin/scores/scorecardversion/scorecards.html", context)


def _characteristic_label(name: str) -> str:
    """A characteristic by its label on the profile's page (its column name beside it)."""
    try:
        return capfirst(str(getattr(CreditProfile._meta.get_field(name), "verbose_name", name)))
    except FieldDoesNotExist:
        return name

"""The credit data operators' start page: the last imports and their state, the cache
invalidations still pending, and the scorecard the API serves."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext

from accounts.start_page import Figure, Item, StartPanel, start_panel
from scores.models import PendingInvalidation, ProfileImport
from scores.selectors import active_scorecard


@start_panel(order=50)
def credit_data_panel(request: HttpRequest) -> StartPanel | None:
    """The last imports (one query), the pending invalidations (one count) and the active
    scorecard (the shipped file the settings name: no query)."""
    if not request.user.has_perm("scores.view_profileimport"):
        return None
    imports = ProfileImport.objects.order_by("-created_at")[:5]
    pending = PendingInvalidation.objects.count()
    links = [(gettext("All imports"), reverse("admin:scores_profileimport_changelist"))]
    if request.user.has_perm("scores.import_creditprofile"):
        links.insert(0, (gettext("Import a file"), reverse("admin:scores_profileimport_add")))
    return StartPanel(
        panel_id="credit-data",
        title=gettext("Credit data"),
        figures=[
            Figure(gettext("Cache invalidations pending"), pending, None, "pending-invalidations"),
            # The scorecard the API serves now. Scorecard versions (with their approval and
            # drift figures) replace this with their own figures.
            Figure(
                gettext("Active scorecard"),
                active_scorecard().version,
                reverse("admin:scores_scorecardversion_changelist"),
                "active-scorecard",
            ),
        ],
        items_title=gettext("Latest imports"),
        items=[
            Item(
                text=f"{record.file_name} — {record.get_status_display()}",
                url=reverse("admin:scores_profileimport_change", args=[record.pk]),
                when=record.created_at,
                detail=record.actor_name,
            )
            for record in imports
        ],
        empty=gettext("No imports yet."),
        links=links,
        note=""
        if settings.SCORECARD_VERSION
        else gettext("SCORECARD_VERSION is not set: the newest shipped scorecard is served."),
    )

"""The credit data operators' start page: the last imports and their state, the cache
invalidations still pending, and the scorecard the API serves; and for whoever handles
consumers' requests, the disputes due and the latest requests."""

from __future__ import annotations

from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from accounts.start_page import Figure, Item, StartPanel, start_panel
from scores.models import (
    ConsumerRequest,
    ConsumerRequestKind,
    ConsumerRequestState,
    PendingInvalidation,
    ProfileImport,
)
from scores.selectors import active_scorecard, consumer_disputes_due


@start_panel(order=50)
def credit_data_panel(request: HttpRequest) -> StartPanel | None:
    """The last imports (one query), the pending invalidations (one count) and the active
    scorecard (the portal's record: one query)."""
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
            # The version the portal last activated (one query).
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
    )


@start_panel(order=60)
def consumer_requests_panel(request: HttpRequest) -> StartPanel | None:
    """Open disputes past their deadline and due today, suspensions in force (one count
    each) and the latest requests (one query), for the consumer service and the operators
    who resolve disputes."""
    user = request.user
    if not user.has_perm("scores.view_consumerrequest") or not (
        user.has_perm("scores.add_consumerrequest")
        or user.has_perm("scores.resolve_consumerrequest")
    ):
        return None
    today = timezone.localdate()
    due = consumer_disputes_due(on=today)
    changelist = reverse("admin:scores_consumerrequest_changelist")
    links = [(gettext("All requests"), changelist)]
    if user.has_perm("scores.add_consumerrequest"):
        links.insert(
            0, (gettext("Register a request"), reverse("admin:scores_consumerrequest_add"))
        )
    return StartPanel(
        panel_id="consumer-requests",
        title=gettext("Consumers' requests"),
        figures=[
            Figure(
                gettext("Disputes overdue"),
                due.filter(due_on__lt=today).count(),
                f"{changelist}?deadline=overdue",
                "disputes-overdue",
            ),
            Figure(
                gettext("Disputes due today"),
                due.filter(due_on=today).count(),
                f"{changelist}?deadline=today",
                "disputes-due-today",
            ),
            Figure(
                gettext("Suspensions in force"),
                ConsumerRequest.objects.filter(
                    kind=ConsumerRequestKind.SUSPEND, state=ConsumerRequestState.IN_FORCE
                ).count(),
                f"{changelist}?kind__exact=suspend&state__exact=in_force",
                "suspensions-in-force",
            ),
        ],
        items_title=gettext("Latest requests"),
        items=[
            Item(
                text=f"{item.protocol} — {item.get_kind_display()} — {item.get_state_display()}",
                url=reverse("admin:scores_consumerrequest_change", args=[item.pk]),
                when=item.received_at,
                detail=item.cpf_masked,
            )
            for item in ConsumerRequest.objects.order_by("-received_at", "-id")[:5]
        ],
        empty=gettext("No requests yet."),
        links=links,
    )

"""The consumer's requests in the admin: the consumer service registers them (suspension,
cancellation, reopening, dispute), everyone who handles them follows them by protocol,
CPF and deadline, and the credit data operators resolve disputes."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin.utils import display_for_value, unquote
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
)
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from scores.admin.cpf_search import CpfSearchMixin
from scores.admin.forms import ConsumerRequestForm, DisputeResolutionForm
from scores.exceptions import ConsumerRequestRefused
from scores.models import (
    ConsumerRequest,
    ConsumerRequestEvent,
    ConsumerRequestKind,
    ConsumerRequestState,
    CreditProfile,
)
from scores.services import consumer_request_register, consumer_request_resolve

RESOLVE_PERMISSION = "scores.resolve_consumerrequest"


def _local_today() -> date:
    return timezone.localdate()


class DeadlineFilter(admin.SimpleListFilter):
    """Open disputes by deadline: overdue, due today."""

    title = _("deadline")
    parameter_name = "deadline"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("overdue", _("Overdue")), ("today", _("Due today"))]

    def queryset(
        self, request: HttpRequest, queryset: QuerySet[ConsumerRequest]
    ) -> QuerySet[ConsumerRequest]:
        still_open = queryset.filter(state=ConsumerRequestState.OPEN)
        if self.value() == "overdue":
            return still_open.filter(due_on__lt=_local_today())
        if self.value() == "today":
            return still_open.filter(due_on=_local_today())
        return queryset


class ConsumerRequestEventInline(admin.TabularInline[ConsumerRequestEvent, ConsumerRequest]):
    """A request's history, read-only."""

    model = ConsumerRequestEvent
    fields = readonly_fields = ("occurred_at", "action", "actor_name", "note")
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Whoever may open a request reads its history: it is part of the request.
        return request.user.has_perm("scores.view_consumerrequest")


@admin.register(ConsumerRequest)
class ConsumerRequestAdmin(CpfSearchMixin, admin.ModelAdmin[ConsumerRequest]):
    """The register of consumers' requests. Nothing is edited or deleted: a request changes
    only by what the services do (a reopening lifts, a resolution closes), and its history
    says who and why."""

    form = ConsumerRequestForm
    list_display = [
        "protocol",
        "kind",
        "cpf_masked",
        "received_at",
        "due",
        "state",
    ]
    list_filter = [DeadlineFilter, "kind", "state", "channel"]
    search_fields = ["protocol"]
    search_help_text = _("A protocol number, or a CPF.")
    readonly_fields = [
        "protocol",
        "kind",
        "cpf_masked",
        "channel",
        "received_at",
        "due_on",
        "state",
        "disputed",
        "reason",
        "outcome",
        "resolution",
        "registered_by_name",
        "resolved_by_name",
        "resolved_at",
        "related",
    ]
    inlines = [ConsumerRequestEventInline]
    actions = None
    change_form_template = "admin/scores/consumerrequest/change_form.html"

    def get_fields(self, request: HttpRequest, obj: ConsumerRequest | None = None) -> Any:
        if obj is None:
            return ConsumerRequestForm.base_fields.keys()
        return self.readonly_fields

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return self.readonly_fields if obj is not None else []

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if obj is not None else []

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("due on"), ordering="due_on")
    def due(self, consumer_request: ConsumerRequest) -> str:
        """The deadline, marked when an open dispute is past it or due today."""
        due_on = consumer_request.due_on
        shown = display_for_value(due_on, "")
        if consumer_request.state != ConsumerRequestState.OPEN:
            return str(shown)
        today = _local_today()
        if due_on < today:
            return format_html('<span class="deadline-overdue">{} · {}</span>', shown, _("overdue"))
        if due_on == today:
            return format_html('<span class="deadline-today">{} · {}</span>', shown, _("today"))
        return str(shown)

    @admin.display(description=_("disputed characteristics"))
    def disputed(self, consumer_request: ConsumerRequest) -> str:
        labels = [
            CreditProfile.characteristic_label(name) for name in consumer_request.disputed_fields
        ]
        return ", ".join(labels) or "-"

    @admin.display(description=_("see also"))
    def related(self, consumer_request: ConsumerRequest) -> str:
        """The CPF's profile (if there is one) and its other requests, by a search token:
        never the CPF in an address."""
        links = []
        if CreditProfile.objects.filter(pk=consumer_request.cpf_hash).exists():
            links.append(
                (
                    reverse("admin:scores_creditprofile_change", args=[consumer_request.cpf_hash]),
                    gettext("Credit profile"),
                )
            )
        return format_html_join(" · ", '<a href="{}">{}</a>', links) or "-"

    def save_model(
        self, request: HttpRequest, obj: ConsumerRequest, form: Any, change: bool
    ) -> None:
        data = form.cleaned_data
        try:
            registered = consumer_request_register(
                cpf=data["cpf"],
                kind=data["kind"],
                channel=data["channel"],
                protocol=data.get("protocol") or "",
                received_at=data["received_at"],
                disputed_fields=data.get("characteristics") or [],
                reason=data.get("reason") or "",
                actor=cast(User, request.user),
            )
        except ConsumerRequestRefused as exc:
            # Checked by the form a moment ago; another registration won the race.
            messages.error(request, exc.message)
            return
        obj.pk = registered.pk
        obj.protocol = registered.protocol

    def log_addition(self, request: HttpRequest, obj: Any, message: Any) -> Any:
        # The request's own history records it; nothing was added if it was refused.
        return None

    def response_add(
        self, request: HttpRequest, obj: ConsumerRequest, post_url_continue: str | None = None
    ) -> HttpResponse:
        if not obj.pk:  # refused: save_model said why
            return HttpResponseRedirect(reverse("admin:scores_consumerrequest_add"))
        registered = ConsumerRequest.objects.get(pk=obj.pk)
        messages.success(request, _registered_message(registered))
        return HttpResponseRedirect(
            reverse("admin:scores_consumerrequest_change", args=[registered.pk])
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/resolve/",
                self.admin_site.admin_view(self.resolve_view),
                name="scores_consumerrequest_resolve",
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
        context = {"can_resolve": request.user.has_perm(RESOLVE_PERMISSION)}
        return super().change_view(
            request, object_id, form_url, {**context, **(extra_context or {})}
        )

    def resolve_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        """Resolve an open dispute: corrected or confirmed as recorded, and why."""
        if not request.user.has_perm(RESOLVE_PERMISSION):
            raise PermissionDenied
        # Django's own lookup, as its object pages do: an id no request can have is a 404.
        dispute = self.get_object(request, unquote(object_id))
        if dispute is None:
            raise Http404
        change_url = reverse("admin:scores_consumerrequest_change", args=[dispute.pk])
        if (
            dispute.kind != ConsumerRequestKind.DISPUTE
            or dispute.state != ConsumerRequestState.OPEN
        ):
            messages.error(request, gettext("Only an open dispute can be resolved."))
            return HttpResponseRedirect(change_url)
        form = DisputeResolutionForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            try:
                consumer_request_resolve(
                    request=dispute,
                    outcome=form.cleaned_data["outcome"],
                    resolution=form.cleaned_data["resolution"],
                    actor=cast(User, request.user),
                )
            except ConsumerRequestRefused as exc:
                messages.error(request, exc.message)
            else:
                messages.success(
                    request,
                    gettext("The dispute %(protocol)s is resolved; its cached score is replaced.")
                    % {"protocol": dispute.protocol},
                )
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Resolve the dispute %(protocol)s") % {"protocol": dispute.protocol},
            "dispute": dispute,
            "disputed": self.disputed(dispute),
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/scores/consumerrequest/resolve.html", context)


def _registered_message(registered: ConsumerRequest) -> str:
    due = display_for_value(registered.due_on, "")
    effects = {
        ConsumerRequestKind.SUSPEND: gettext(
            "From now on the API answers this CPF's score as suspended."
        ),
        ConsumerRequestKind.CANCEL: gettext(
            "The CPF's credit data were removed, and no import brings them back until a "
            "reopening request."
        ),
        ConsumerRequestKind.REOPEN: gettext(
            "What was suspended or cancelled for this CPF is lifted."
        ),
        ConsumerRequestKind.DISPUTE: gettext(
            "The API says the data are under dispute until a credit data operator resolves it."
        ),
    }[ConsumerRequestKind(registered.kind)]
    return gettext(
        "Request registered: protocol %(protocol)s (give it to the consumer), due on %(due)s. "
        "%(effect)s"
    ) % {"protocol": registered.protocol, "due": due, "effect": effects}

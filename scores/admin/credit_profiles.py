"""Credit profiles in the admin: find one by CPF, correct it (its cached score is
invalidated), see the score the active scorecard gives it; invalidate cached scores, some
or all."""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language, gettext, ngettext, pgettext
from django.utils.translation import gettext_lazy as _

from scoreportal.admin_bases import ReadOnlyAdminMixin
from scores.admin.cpf_search import CpfSearchMixin
from scores.admin.forms import CreditProfileCorrectionForm
from scores.constants import BAND_LABELS, PROFILE_CHARACTERISTICS
from scores.core.scorecard import Band
from scores.exceptions import ScoreCacheUnavailable
from scores.models import ConsumerRequestState, CreditProfile, CreditProfileCorrection
from scores.selectors import consumer_requests_of, credit_profile_score
from scores.services import credit_profile_update, scores_invalidate, scores_invalidate_all

IMPORT_PERMISSION = "scores.import_creditprofile"
INVALIDATE_PERMISSION = "scores.invalidate_cached_scores"
# How long the "invalidate cached scores" action drains before answering; what it does not
# reach stays pending for the scheduled drain (a request must end well within 29 s).
ADMIN_DRAIN_SECONDS = 10.0
# A profile's page lists its latest corrections; older ones are in the corrections' list.
CORRECTIONS_SHOWN = 10


class _CharacteristicAboveFilter(admin.SimpleListFilter):
    """Profiles with a characteristic above a threshold, or not (yes / no)."""

    characteristic = ""
    threshold: Any = 0

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Yes")), ("no", _("No"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        above = {f"{self.characteristic}__gt": self.threshold}
        if self.value() == "yes":
            return queryset.filter(**above)
        if self.value() == "no":
            return queryset.exclude(**above)
        return queryset


class NegativeRecordsFilter(_CharacteristicAboveFilter):
    title = _("with active negative records")
    parameter_name = "negative_records"
    characteristic = "active_negative_records"


class ProtestsFilter(_CharacteristicAboveFilter):
    title = _("with protests")
    parameter_name = "protests"
    characteristic = "protests"


class DelinquenciesFilter(_CharacteristicAboveFilter):
    title = _("delinquent over 30 days (12 months)")
    parameter_name = "delinquent"
    characteristic = "delinquencies_30d_12m"


class HighUtilizationFilter(_CharacteristicAboveFilter):
    title = _("credit utilization above 80%")
    parameter_name = "high_utilization"
    characteristic = "credit_utilization"
    threshold = "0.8"


def _reason_language() -> str:
    """The scorecard's language for reason texts: pt-BR in a Portuguese admin, else English."""
    return "pt-BR" if (get_language() or "").lower().startswith("pt") else "en"


@admin.register(CreditProfile)
class CreditProfileAdmin(CpfSearchMixin, admin.ModelAdmin[CreditProfile]):
    """Find and correct profiles (saving invalidates the cached score), see the score the
    active scorecard gives one, invalidate cached scores. New profiles come by import."""

    search_help_text = _("Exact CPF (with or without punctuation).")
    # What fits 1366 px with the sidebar and the filters open: the characteristics the
    # filters ask about, and the last change; every characteristic is on the profile's page.
    list_display = [
        "cpf_masked",
        "on_time_payment_ratio",
        "delinquencies_30d_12m",
        "active_negative_records",
        "protests",
        "credit_utilization",
        "updated_at",
    ]
    list_filter = [
        ("updated_at", admin.DateFieldListFilter),
        NegativeRecordsFilter,
        ProtestsFilter,
        DelinquenciesFilter,
        HighUtilizationFilter,
    ]
    search_fields = ["cpf_hash"]  # shows the search box; the search itself is by CPF
    readonly_fields = [
        "cpf_masked",
        "active_score",
        "consumer_requests",
        "version",
        "created_at",
        "updated_at",
        "corrections",
    ]
    form = CreditProfileCorrectionForm
    fieldsets = [
        (None, {"fields": ["cpf_masked", "active_score", "consumer_requests"]}),
        (
            _("Characteristics"),
            {
                "fields": [
                    "on_time_payment_ratio",
                    "delinquencies_30d_12m",
                    "max_days_past_due_12m",
                    "active_negative_records",
                    "protests",
                    "credit_utilization",
                    "hard_inquiries_90d",
                    "credit_history_months",
                    "active_credit_contracts",
                ]
            },
        ),
        (_("Correction"), {"fields": ["correction_protocol", "correction_reason"]}),
        (_("Record"), {"fields": ["version", "created_at", "updated_at", "corrections"]}),
    ]
    actions = ["invalidate_cached_scores"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a count per choice would read the whole table

    class Media:
        css = {"all": ["scores/credit_data.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if isinstance(db_field, models.DecimalField):
            kwargs["localize"] = True  # 0,96 in Portuguese (and 0.96 still), as shown
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _search_other(
        self, request: HttpRequest, queryset: QuerySet[Any], term: str
    ) -> tuple[QuerySet[Any], bool]:
        return queryset.none(), False  # a profile has nothing else to search by

    def has_invalidate_cached_scores_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(INVALIDATE_PERMISSION)

    def get_urls(self) -> list[URLPattern]:
        invalidate_all = self.admin_site.admin_view(self.invalidate_all_view)
        return [
            path(
                "invalidate-all/",
                invalidate_all,
                name="scores_creditprofile_invalidate_all",
            ),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {
            "can_invalidate": request.user.has_perm(INVALIDATE_PERMISSION),
            "can_import": request.user.has_perm(IMPORT_PERMISSION),
        }
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def save_model(self, request: HttpRequest, obj: CreditProfile, form: Any, change: bool) -> None:
        values = {
            name: form.cleaned_data[name]
            for name in form.changed_data
            if name in PROFILE_CHARACTERISTICS
        }
        if values:
            credit_profile_update(
                profile=obj,
                values=values,
                protocol=form.cleaned_data["correction_protocol"],
                reason=form.cleaned_data["correction_reason"],
                actor=cast(User, request.user),
            )

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The admin's log of the profile, after its corrections (with protocol and reason)."""
        profile = self.get_object(request, unquote(object_id))
        corrections = (
            CreditProfileCorrection.objects.filter(cpf_hash=profile.cpf_hash)
            if profile is not None
            else CreditProfileCorrection.objects.none()
        )
        return super().history_view(
            request, object_id, {"corrections": corrections, **(extra_context or {})}
        )

    @admin.display(description=_("corrections"))
    def corrections(self, profile: CreditProfile) -> str:
        """The profile's latest corrections (when, protocol, who), each linked to its
        record (the reason and what changed)."""
        latest = CreditProfileCorrection.objects.filter(cpf_hash=profile.cpf_hash)[
            :CORRECTIONS_SHOWN
        ]
        items = format_html_join(
            "",
            '<li><a href="{}">{} · {} · {}</a></li>',
            (
                (
                    reverse("admin:scores_creditprofilecorrection_change", args=[correction.pk]),
                    formats.date_format(
                        timezone.localtime(correction.occurred_at), "SHORT_DATETIME_FORMAT"
                    ),
                    correction.protocol,
                    correction.actor_name,
                )
                for correction in latest
            ),
        )
        return (
            format_html('<ul class="corrections">{}</ul>', items)
            if items
            else gettext("No corrections.")
        )

    @admin.display(description=_("consumer's requests"))
    def consumer_requests(self, profile: CreditProfile) -> str:
        """What the consumer asked that still holds (a suspension, an open dispute), each
        linked to its request: correct a disputed value here, then resolve the dispute."""
        holding = consumer_requests_of(cpf_hash=profile.cpf_hash).filter(
            state__in=[ConsumerRequestState.IN_FORCE, ConsumerRequestState.OPEN]
        )
        items = [
            (
                reverse("admin:scores_consumerrequest_change", args=[request.pk]),
                request.get_kind_display(),
                request.protocol,
                ", ".join(
                    CreditProfile.characteristic_label(name) for name in request.disputed_fields
                ),
            )
            for request in holding
        ]
        if not items:
            return gettext("None in force.")
        return format_html(
            '<ul class="consumer-requests" id="profile-consumer-requests">{}</ul>',
            format_html_join("", '<li><a href="{}">{} · {}</a> {}</li>', items),
        )

    @admin.display(description=_("score (active scorecard)"))
    def active_score(self, profile: CreditProfile) -> str:
        """Score, band, probability of default and reasons, as the active scorecard gives
        them now: computed for this page (the cache is neither read nor written)."""
        scored = credit_profile_score(profile=profile, language=_reason_language())
        result = scored.result
        reasons = format_html_join(
            "", "<li><code>{}</code> {}</li>", ((r.code, r.description) for r in scored.reasons)
        )
        return format_html(
            '<div id="profile-score"><p><strong class="profile-score-value">{}</strong> '
            '<span class="score-band score-band-{}">{}</span> · {} {} · {} {}</p>'
            '<p class="profile-score-reasons-title">{}</p><ul class="profile-score-reasons">{}</ul>'
            "</div>",
            result.score,
            result.band.value,
            BAND_LABELS[Band(result.band)],
            gettext("probability of default"),
            formats.localize(result.probability_of_default),
            pgettext("profile score", "scorecard"),
            scored.scorecard_version,
            gettext("Reasons") if scored.reasons else gettext("No points lost: no reasons."),
            reasons,
        )

    @admin.action(
        description=_("Invalidate cached scores"), permissions=["invalidate_cached_scores"]
    )
    def invalidate_cached_scores(
        self, request: HttpRequest, queryset: QuerySet[CreditProfile]
    ) -> None:
        drained = scores_invalidate(
            profiles=queryset, patient=False, max_seconds=ADMIN_DRAIN_SECONDS
        )
        if drained.failed:
            self.message_user(
                request,
                gettext(
                    "%(count)s cached scores could not be invalidated yet: the score cache "
                    "could not be reached. They stay pending and are invalidated within "
                    "minutes, when it answers again."
                )
                % {"count": formats.localize(drained.failed)},
                messages.WARNING,
            )
            return
        self.message_user(
            request,
            ngettext(
                "The cached score of %(count)s profile was invalidated.",
                "The cached scores of %(count)s profiles were invalidated.",
                drained.drained,
            )
            % {"count": formats.localize(drained.drained)},
            messages.SUCCESS,
        )

    def invalidate_all_view(self, request: HttpRequest) -> HttpResponseBase:
        """A confirmation page; on its POST, every cached score becomes a miss."""
        if not request.user.has_perm(INVALIDATE_PERMISSION):
            raise PermissionDenied
        if request.method == "POST" and request.POST.get("confirmed") == "yes":
            try:
                scores_invalidate_all(patient=False)
            except ScoreCacheUnavailable:
                self.message_user(
                    request,
                    gettext(
                        "The score cache could not be reached: nothing was invalidated. "
                        "Try again in a moment."
                    ),
                    messages.ERROR,
                )
            else:
                self.message_user(
                    request, gettext("Every cached score was invalidated."), messages.SUCCESS
                )
            return HttpResponseRedirect(reverse("admin:scores_creditprofile_changelist"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Invalidate all cached scores"),
        }
        return TemplateResponse(request, "admin/scores/creditprofile/invalidate_all.html", context)


@admin.register(CreditProfileCorrection)
class CreditProfileCorrectionAdmin(ReadOnlyAdminMixin, CpfSearchMixin, admin.ModelAdmin[Any]):
    """Every correction of a profile made in the admin: who, when, under which protocol,
    why and which characteristics; searched by the CPF or by the protocol. (An import's
    changes are in its own record.)"""

    actions = None
    show_full_result_count = False
    search_help_text = _("Exact CPF (with or without punctuation), or a protocol.")
    list_display = ["occurred_at", "cpf_masked", "protocol", "changed", "actor_name"]
    list_filter = [("occurred_at", admin.DateFieldListFilter)]
    search_fields = ["protocol"]
    fields = readonly_fields = (
        "occurred_at",
        "cpf_masked",
        "protocol",
        "reason",
        "changed",
        "profile_version",
        "actor_name",
    )

    def _search_other(
        self, request: HttpRequest, queryset: QuerySet[Any], term: str
    ) -> tuple[QuerySet[Any], bool]:
        return queryset.filter(protocol=term), False  # protocols are looked up exactly

    @admin.display(description=_("characteristics changed"))
    def changed(self, correction: CreditProfileCorrection) -> str:
        return correction.changed_labels()

"""The credit data operators' admin: credit profiles, their imports, the scorecards and
the score cache's control; and the CPF search the auditors' pages use too.

CPF search everywhere is exact: the input is normalized and hashed, then matched against
`cpf_hash`, so no plaintext CPF is needed in (or leaked from) the database. The search box
sends a CPF by POST and the changelist shows its search at a token (scores/cpf_search.py).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import URLPattern, path
from django.utils import formats
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language, gettext, ngettext, pgettext
from django.utils.translation import gettext_lazy as _

from scoreportal.admin_bases import ReportAdmin
from scores import operator_views
from scores.constants import BAND_LABELS
from scores.cpf import Cpf, InvalidCpf
from scores.cpf_search import cpf_search_recall, is_cpf_search_token
from scores.models import CreditProfile, ProfileImport, ScorecardVersion
from scores.scorecard import Band
from scores.selectors import credit_profile_score
from scores.services import credit_profile_update, scores_invalidate

# How long the "invalidate cached scores" action drains before answering; what it does not
# reach stays pending for the scheduled drain (a request must end well within 29 s).
ADMIN_DRAIN_SECONDS = 10.0


def _cpf_hash_of(term: str) -> str | None:
    try:
        return Cpf.parse(term).lookup_hash(settings.CPF_HASH_KEY)
    except InvalidCpf:
        return None


class CpfSearchMixin:
    """Search by CPF through its lookup hash: a CPF search's token of this session, or a
    CPF in any accepted form; `_search_other` for any other term."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        searched = cpf_search_recall(request, term)
        if searched is not None:
            return queryset.filter(cpf_hash=searched.lookup_hash), False
        if is_cpf_search_token(term):
            messages.warning(
                request,
                gettext(
                    "That CPF search ended with the session it was made in: search for "
                    "the CPF again."
                ),
            )
            return queryset.none(), False
        cpf_hash = _cpf_hash_of(term)
        if cpf_hash is not None:
            return queryset.filter(cpf_hash=cpf_hash), False
        return self._search_other(request, queryset, term)

    def _search_other(
        self, request: HttpRequest, queryset: QuerySet[Any], term: str
    ) -> tuple[QuerySet[Any], bool]:
        """Any other term: the admin's own search over `search_fields`."""
        found: tuple[QuerySet[Any], bool] = super().get_search_results(  # type: ignore[misc]
            request, queryset, term
        )
        return found


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
    list_display = [
        "cpf_masked",
        "on_time_payment_ratio",
        "delinquencies_30d_12m",
        "max_days_past_due_12m",
        "active_negative_records",
        "protests",
        "credit_utilization",
        "hard_inquiries_90d",
        "credit_history_months",
        "active_credit_contracts",
        "version",
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
    readonly_fields = ["cpf_masked", "active_score", "version", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["cpf_masked", "active_score"]}),
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
        (_("Record"), {"fields": ["version", "created_at", "updated_at"]}),
    ]
    actions = ["invalidate_cached_scores"]
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a count per choice would read the whole table

    class Media:
        css = {"all": ["scores/credit_data.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _search_other(
        self, request: HttpRequest, queryset: QuerySet[Any], term: str
    ) -> tuple[QuerySet[Any], bool]:
        return queryset.none(), False  # a profile has nothing else to search by

    def has_invalidate_cached_scores_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(operator_views.INVALIDATE_PERMISSION)

    def get_urls(self) -> list[URLPattern]:
        invalidate_all = self.admin_site.admin_view(
            partial(operator_views.cached_scores_invalidate_all_view, model_admin=self)
        )
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
            "can_invalidate": request.user.has_perm(operator_views.INVALIDATE_PERMISSION),
            "can_import": request.user.has_perm(operator_views.IMPORT_PERMISSION),
        }
        return super().changelist_view(request, {**context, **(extra_context or {})})

    def save_model(self, request: HttpRequest, obj: CreditProfile, form: Any, change: bool) -> None:
        credit_profile_update(
            profile=obj, values={name: form.cleaned_data[name] for name in form.changed_data}
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


@admin.register(ProfileImport)
class ProfileImportAdmin(admin.ModelAdmin[ProfileImport]):
    """Import a CSV file of profiles (upload, preview, confirm) and the record of every
    import, from the admin or the command line: scores/operator_views.py."""

    list_display = [
        "created_at",
        "file_name",
        "actor_name",
        "source",
        "status",
        "strict",
        "checked_rows",
        "bad_rows",
        "created",
        "updated",
        "unchanged",
    ]
    list_filter = ["status", "source", "strict"]
    search_fields = ["file_name", "actor_name", "file_sha256"]
    actions = None
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(operator_views.IMPORT_PERMISSION)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        def view(function: Any) -> Any:
            return self.admin_site.admin_view(partial(function, model_admin=self))

        return [
            path(
                "uploaded/",
                view(operator_views.profile_import_uploaded_view),
                name="scores_profileimport_uploaded",
            ),
            path(
                "<path:object_id>/resume/",
                view(operator_views.profile_import_resume_view),
                name="scores_profileimport_resume",
            ),
            path(
                "<path:object_id>/confirm/",
                view(operator_views.profile_import_confirm_view),
                name="scores_profileimport_confirm",
            ),
            *super().get_urls(),
        ]

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        return operator_views.profile_import_upload_view(request, self)  # type: ignore[return-value]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        return operator_views.profile_import_page_view(request, self, object_id)  # type: ignore[return-value]


@admin.register(ScorecardVersion)
class ScorecardVersionAdmin(ReportAdmin):
    """The shipped scorecards, read-only (Credit data operators): scores/operator_views.py."""

    def report(self, request: HttpRequest) -> HttpResponseBase:
        return operator_views.scorecards_view(request, self)

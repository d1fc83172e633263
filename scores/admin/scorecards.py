"""Scorecards in the admin: every version (shipped and uploaded) read-only, which one is
active, the upload of a new version, proposals with their impact, the second person's
decision, the rollback, and the record of every step.

Thin views: forms validate, services decide (scores.services.scorecards); each view is
reached through this ModelAdmin's URLs, so the admin's sign-in policy and the roles'
permissions apply, and the services check the four-eyes rules again.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from scoreportal.admin_bases import ReadOnlyAdminMixin, ReportAdmin
from scoreportal.exceptions import ApplicationError
from scores.constants import BAND_LABELS
from scores.core.scorecard import Violation
from scores.exceptions import (
    ImpactNotResumable,
    ScoreCacheUnavailable,
    ScorecardDecisionRefused,
    ScorecardNotProposable,
    ScorecardRefused,
    ScorecardRollbackRefused,
)
from scores.impact import BANDS, POPULATIONS, empty_tallies, histogram_labels, impact_summary
from scores.models import CreditProfile, ScorecardEvent, ScorecardProposal, ScorecardVersion
from scores.selectors import (
    all_scorecards,
    challenger_comparison,
    default_scorecard_version,
    scorecard_activations,
    scorecard_active_version,
    scorecard_challenger,
    scorecard_get,
    scorecard_proposal_get,
    scorecard_proposals,
)
from scores.services.scorecards import (
    APPROVE_PERMISSION,
    PROPOSE_PERMISSION,
    scorecard_approve,
    scorecard_challenger_set,
    scorecard_impact_resume,
    scorecard_propose,
    scorecard_refuse,
    scorecard_rollback,
    scorecard_upload,
)

# While an impact is computed, its page reloads itself this often (no script needed).
_PROGRESS_REFRESH_SECONDS = 2

# Each rule of scores.core.scorecard, as staff read it.
VIOLATION_TEXTS = {
    "not_utf8": _("The file is not UTF-8 text."),
    "not_json": _("The file is not JSON (%(detail)s)."),
    "version_exists": _("Version %(detail)s already exists: a stored version never changes."),
    "missing": _("Missing."),
    "not_object": _("Must be an object."),
    "not_list": _("Must be a list."),
    "not_number": _("Must be a number."),
    "not_integer": _("Must be a whole number."),
    "not_text": _("Must be a non-empty text."),
    "version_format": _("Must look like YYYY.N (2027.1)."),
    "not_positive": _("Must be above zero."),
    "no_bins": _("Needs at least one bin."),
    "first_bin_not_zero": _("The first bin must start at 0."),
    "last_bin_bounded": _("The last bin must have no upper bound (null)."),
    "not_contiguous": _("Must start where the previous bin ends (%(detail)s)."),
    "empty_bin": _("Empty bin: its upper bound must be above its lower bound."),
    "points_rise_with_risk": _("Points must not rise as risk increases."),
    "points_fall_as_risk_falls": _("Points must not fall as risk decreases."),
    "unknown_risk": _("Must be increasing, decreasing or none."),
    "missing_language": _("Needs a reason text in %(detail)s."),
    "duplicate_reason_code": _("Reason code %(detail)s is used twice."),
    "duplicate_name": _("Characteristic %(detail)s appears twice."),
    "unknown_characteristic": _("%(detail)s is not a characteristic of the credit profile."),
    "missing_characteristic": _("The profile's characteristic %(detail)s is not scored."),
}

# What the services' refusals say, as staff read them (their messages are English).
_REFUSALS = {
    "own proposal": _("You cannot approve or refuse your own proposal: a second person must."),
    "model approver": _("Only a model approver may decide on a proposal."),
    "already decided": _("This proposal was already decided."),
    "not computed": _("The impact of this proposal is not computed yet."),
    "changed since": _(
        "The active version changed since this proposal: its impact is out of date. "
        "Propose it again."
    ),
    "needs a reason": _("Give a reason."),
    "already active": _("This version is already active."),
    "already waits": _("This version already waits for approval."),
    "no scorecard version": _("There is no such scorecard version."),
    "credit data operator": _("Only a credit data operator may propose a scorecard."),
    "roll back.": _("Only a model approver may roll back."),
    "no earlier": _("There is no earlier scorecard version to roll back to."),
    "set a challenger": _("Only a model approver may set a challenger."),
    "percentage": _("The share is a percentage, 0 to 100."),
}


def violation_text(violation: Violation) -> str:
    text = VIOLATION_TEXTS.get(violation.code)
    if text is None:
        return str(violation)
    return str(text) % {"detail": violation.detail} if "%(detail)s" in str(text) else str(text)


def refusal_text(exc: ApplicationError) -> str:
    if isinstance(exc, ScoreCacheUnavailable):
        return gettext("The score cache could not be reached; nothing was activated. Retry.")
    for fragment, text in _REFUSALS.items():
        if fragment in exc.message:
            return str(text)
    return exc.message


class ScorecardUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Scorecard file (JSON)"),
        help_text=_("The format of the shipped files (scores/scorecards/*.json), a new version."),
        widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > settings.SCORECARD_MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("The file is larger than %(limit)s."),
                code="too_large",
                params={"limit": filesizeformat(settings.SCORECARD_MAX_UPLOAD_BYTES)},
            )
        return upload


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
    )


class ProposeForm(ReasonForm):
    version = forms.CharField(max_length=16, widget=forms.HiddenInput)


class ChallengerForm(ReasonForm):
    version = forms.ChoiceField(label=_("Challenger"), required=False)
    share = forms.IntegerField(
        label=_("Share of computed scores (%)"), min_value=0, max_value=100, initial=10
    )

    def __init__(self, *args: Any, versions: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = [("", _("None (stop the shadow scoring)"))] + [  # type: ignore[attr-defined]
            (version, version) for version in versions
        ]


class DecisionForm(ReasonForm):
    decision = forms.ChoiceField(
        choices=[("approve", _("Approve")), ("refuse", _("Refuse"))], widget=forms.HiddenInput
    )


@admin.register(ScorecardVersion)
class ScorecardVersionAdmin(ReportAdmin):
    """Scorecard versions: read-only, the active one marked; upload, propose, decide, roll
    back (Credit data operators propose, Model approvers decide)."""

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("upload/", view(self.upload_view), name="scores_scorecardversion_upload"),
            path("propose/", view(self.propose_view), name="scores_scorecardversion_propose"),
            path("rollback/", view(self.rollback_view), name="scores_scorecardversion_rollback"),
            path(
                "challenger/", view(self.challenger_view), name="scores_scorecardversion_challenger"
            ),
            path(
                "proposals/<int:proposal_id>/",
                view(self.proposal_view),
                name="scores_scorecardversion_proposal",
            ),
            path(
                "proposals/<int:proposal_id>/resume/",
                view(self.resume_view),
                name="scores_scorecardversion_resume",
            ),
            path(
                "proposals/<int:proposal_id>/decide/",
                view(self.decide_view),
                name="scores_scorecardversion_decide",
            ),
            path(
                "proposals/<int:proposal_id>/matrix.csv",
                view(self.matrix_csv_view),
                name="scores_scorecardversion_matrix_csv",
            ),
            *super().get_urls(),
        ]

    def report(self, request: HttpRequest) -> HttpResponseBase:
        """Every version, newest first: its scaling, characteristics, bins and points, and
        reason texts in both languages; the active one marked; proposals and actions."""
        active = scorecard_active_version()
        activations = scorecard_activations()
        context = {
            **self.report_context(request, _("Scorecards")),
            "scorecards": [
                (
                    scorecard,
                    stored,
                    [
                        (
                            c,
                            c.descriptions["pt-BR"],
                            capfirst(CreditProfile.characteristic_label(c.name)),
                        )
                        for c in scorecard.characteristics
                    ],
                )
                for scorecard, stored in all_scorecards()
            ],
            "active_version": active,
            "default_version": default_scorecard_version(),
            "last_activation": activations[0] if activations else None,
            "proposals": scorecard_proposals(),
            "can_propose": request.user.has_perm(PROPOSE_PERMISSION),
            "can_approve": request.user.has_perm(APPROVE_PERMISSION),
            "propose_form": ReasonForm(),
        }
        return TemplateResponse(request, "admin/scores/scorecardversion/scorecards.html", context)

    def upload_view(self, request: HttpRequest) -> HttpResponseBase:
        """Upload a new version: checked by the engine's rules, every violation listed by
        path and reason; stored (immutable) when it passes."""
        if not request.user.has_perm(PROPOSE_PERMISSION):
            raise PermissionDenied
        violations: list[tuple[str, str]] = []
        if request.method == "POST":
            form = ScorecardUploadForm(request.POST, request.FILES)
            if form.is_valid():
                upload = form.cleaned_data["file"]
                try:
                    stored = scorecard_upload(
                        actor=request.user,  # type: ignore[arg-type]  # signed in
                        file_name=upload.name,
                        content=upload.read(),
                    )
                except ScorecardRefused as exc:
                    violations = [(v.path or "—", violation_text(v)) for v in exc.violations]
                    if not violations:
                        violations = [("—", refusal_text(exc))]
                else:
                    self.message_user(
                        request,
                        gettext("Scorecard %(version)s stored. You can now propose it.")
                        % {"version": stored.version},
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(
                        reverse("admin:scores_scorecardversion_changelist")
                        + f"#scorecard-{stored.version}"
                    )
        else:
            form = ScorecardUploadForm()
        context = {
            **self.report_context(request, _("Upload a scorecard version")),
            "form": form,
            "violations": violations,
        }
        return TemplateResponse(request, "admin/scores/scorecardversion/upload.html", context)

    @method_decorator(require_POST)
    def propose_view(self, request: HttpRequest) -> HttpResponseBase:
        """Propose a version for activation; its impact is then computed (a task)."""
        if not request.user.has_perm(PROPOSE_PERMISSION):
            raise PermissionDenied
        form = ProposeForm(request.POST)
        if not form.is_valid():
            return HttpResponseRedirect(reverse("admin:scores_scorecardversion_changelist"))
        try:
            proposal = scorecard_propose(
                version=form.cleaned_data["version"],
                actor=request.user,  # type: ignore[arg-type]  # signed in
                reason=form.cleaned_data["reason"],
            )
        except ScorecardNotProposable as exc:
            self.message_user(request, refusal_text(exc), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:scores_scorecardversion_changelist"))
        return HttpResponseRedirect(
            reverse("admin:scores_scorecardversion_proposal", args=[proposal.pk])
        )

    def _proposal(self, request: HttpRequest, proposal_id: int) -> ScorecardProposal:
        if not self.has_view_permission(request):
            raise PermissionDenied
        proposal = scorecard_proposal_get(proposal_id)
        if proposal is None:
            raise Http404
        return proposal

    def proposal_view(self, request: HttpRequest, proposal_id: int) -> HttpResponseBase:
        """A proposal: who and why, its impact (histograms, band migration, means, reason
        changes, for every profile and those consulted lately), and the decision."""
        proposal = self._proposal(request, proposal_id)
        computing = proposal.impact_status == ScorecardProposal.ImpactStatus.COMPUTING
        summary = impact_summary(
            current=scorecard_get(proposal.baseline_version),
            proposed=scorecard_get(proposal.version),
            tallies=proposal.impact or empty_tallies(),
        )
        band_labels = [str(BAND_LABELS[band]) for band in BANDS]
        populations = []
        for name, label in zip(
            POPULATIONS,
            (_("Every credit profile"), _("Consulted in the last 30 days")),
            strict=True,
        ):
            impact = summary.populations[name]
            rows = [
                (
                    band_labels[i],
                    [
                        (count, None if share is None else share * 100, i == j)
                        for j, (count, share) in enumerate(
                            zip(impact.matrix[i], impact.matrix_shares[i], strict=True)
                        )
                    ],
                )
                for i in range(len(BANDS))
            ]
            changed = impact.reason_changed_share
            populations.append(
                {
                    "name": name,
                    "label": label,
                    "impact": impact,
                    "rows": rows,
                    "reason_changed_percent": None if changed is None else changed * 100,
                }
            )
        charts = {
            "labels": histogram_labels(),
            "current": gettext("Current (%(version)s)") % {"version": proposal.baseline_version},
            "proposed": gettext("Proposed (%(version)s)") % {"version": proposal.version},
            "axis": gettext("Profiles"),
            "populations": {
                name: {
                    "current": list(summary.populations[name].histogram_current),
                    "proposed": list(summary.populations[name].histogram_proposed),
                }
                for name in POPULATIONS
            },
        }
        user = request.user
        decidable = (
            proposal.status == ScorecardProposal.Status.PENDING
            and proposal.impact_status == ScorecardProposal.ImpactStatus.COMPUTED
            and user.has_perm(APPROVE_PERMISSION)
        )
        context = {
            **self.report_context(
                request,
                gettext("Proposal %(id)s: scorecard %(version)s")
                % {"id": proposal.pk, "version": proposal.version},
            ),
            "proposal": proposal,
            "summary": summary,
            "populations": populations,
            "band_labels": band_labels,
            "charts": charts,
            "profiles_done": summary.populations["all"].profiles,
            "refresh_seconds": (
                _PROGRESS_REFRESH_SECONDS if computing and not proposal.impact_stalled else None
            ),
            "resumable": proposal.impact_stalled and user.has_perm(PROPOSE_PERMISSION),
            "decidable": decidable,
            "own_proposal": proposal.proposed_by_id == user.pk,
            "decision_form": ReasonForm(),
            "events": proposal.events.order_by("occurred_at", "id"),
        }
        return TemplateResponse(request, "admin/scores/scorecardversion/proposal.html", context)

    @method_decorator(require_POST)
    def resume_view(self, request: HttpRequest, proposal_id: int) -> HttpResponseBase:
        """Start a stalled impact's task again (its page offers this once it has made no
        progress for a while), from where its last step stopped."""
        if not request.user.has_perm(PROPOSE_PERMISSION):
            raise PermissionDenied
        proposal = self._proposal(request, proposal_id)
        try:
            scorecard_impact_resume(proposal_id=proposal.pk)
        except ImpactNotResumable:
            self.message_user(
                request,
                gettext("This impact is not stalled: it is computed or still making progress."),
                messages.ERROR,
            )
        return HttpResponseRedirect(
            reverse("admin:scores_scorecardversion_proposal", args=[proposal.pk])
        )

    @method_decorator(require_POST)
    def decide_view(self, request: HttpRequest, proposal_id: int) -> HttpResponseBase:
        """Approve (and activate) or refuse a proposal; the services refuse the proposer."""
        if not request.user.has_perm(APPROVE_PERMISSION):
            raise PermissionDenied
        proposal = self._proposal(request, proposal_id)
        form = DecisionForm(request.POST)
        back = HttpResponseRedirect(
            reverse("admin:scores_scorecardversion_proposal", args=[proposal.pk])
        )
        if not form.is_valid():
            self.message_user(request, gettext("Give a reason."), messages.ERROR)
            return back
        actor = request.user
        reason = form.cleaned_data["reason"]
        try:
            if form.cleaned_data["decision"] == "approve":
                scorecard_approve(
                    proposal_id=proposal.pk,
                    actor=actor,  # type: ignore[arg-type]  # signed in
                    reason=reason,
                    patient=False,
                )
                self.message_user(
                    request,
                    gettext("Approved: scorecard %(version)s is active from the next request.")
                    % {"version": proposal.version},
                    messages.SUCCESS,
                )
            else:
                scorecard_refuse(
                    proposal_id=proposal.pk,
                    actor=actor,  # type: ignore[arg-type]  # signed in
                    reason=reason,
                )
                self.message_user(request, gettext("Proposal refused."), messages.SUCCESS)
        except (ScorecardDecisionRefused, ScoreCacheUnavailable) as exc:
            self.message_user(request, refusal_text(exc), messages.ERROR)
        return back

    @method_decorator(require_POST)
    def matrix_csv_view(self, request: HttpRequest, proposal_id: int) -> HttpResponseBase:
        """The band migration matrix of a proposal's impact, both populations, as CSV."""
        proposal = self._proposal(request, proposal_id)
        summary = impact_summary(
            current=scorecard_get(proposal.baseline_version),
            proposed=scorecard_get(proposal.version),
            tallies=proposal.impact or empty_tallies(),
        )
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(
            [
                "population",
                f"current_band ({proposal.baseline_version})",
                f"proposed_band ({proposal.version})",
                "profiles",
                "share",
            ]
        )
        for name in POPULATIONS:
            impact = summary.populations[name]
            for i, current_band in enumerate(BANDS):
                for j, proposed_band in enumerate(BANDS):
                    share = impact.matrix_shares[i][j]
                    writer.writerow(
                        [
                            name,
                            current_band.value,
                            proposed_band.value,
                            impact.matrix[i][j],
                            "" if share is None else share,
                        ]
                    )
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="scorecard-{proposal.version}-migration-{proposal.pk}.csv"'
        )
        return response

    def challenger_view(self, request: HttpRequest) -> HttpResponseBase:
        """The challenger in shadow and its comparison with the active scorecard."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        return _challenger_page(self, request)

    def rollback_view(self, request: HttpRequest) -> HttpResponseBase:
        """Back to the version active before the current one: a confirmation page, then the
        rollback with its reason (Model approvers)."""
        if not request.user.has_perm(APPROVE_PERMISSION):
            raise PermissionDenied
        activations = scorecard_activations()
        last = activations[0] if activations else None
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                version = scorecard_rollback(
                    actor=request.user,  # type: ignore[arg-type]  # signed in
                    reason=form.cleaned_data["reason"],
                    patient=False,
                )
            except (ScorecardRollbackRefused, ScoreCacheUnavailable) as exc:
                self.message_user(request, refusal_text(exc), messages.ERROR)
            else:
                self.message_user(
                    request,
                    gettext("Rolled back: scorecard %(version)s is active from the next request.")
                    % {"version": version},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(reverse("admin:scores_scorecardversion_changelist"))
        context = {
            **self.report_context(request, _("Roll back the scorecard")),
            "form": form,
            "last": last,
            "active_version": scorecard_active_version(),
        }
        return TemplateResponse(request, "admin/scores/scorecardversion/rollback.html", context)


def _challenger_page(admin_: ScorecardVersionAdmin, request: HttpRequest) -> HttpResponseBase:
    """The challenger in shadow: which, on what share, set by whom; the comparison with the
    active scorecard on the same requests; the form to change it (model approvers)."""
    active = scorecard_active_version()
    current = scorecard_challenger()
    versions = [scorecard.version for scorecard, _stored in all_scorecards()]
    can_set = request.user.has_perm(APPROVE_PERMISSION)
    form = ChallengerForm(
        request.POST if request.method == "POST" else None,
        versions=[version for version in versions if version != active],
        initial={
            "version": current.version if current else "",
            "share": current.challenger_share if current else 10,
        },
    )
    if request.method == "POST":
        if not can_set:
            raise PermissionDenied
        if form.is_valid():
            try:
                scorecard_challenger_set(
                    actor=request.user,  # type: ignore[arg-type]  # signed in
                    version=form.cleaned_data["version"] or None,
                    share=form.cleaned_data["share"],
                    reason=form.cleaned_data["reason"],
                    patient=False,
                )
            except (ScorecardDecisionRefused, ScoreCacheUnavailable) as exc:
                admin_.message_user(request, refusal_text(exc), messages.ERROR)
            else:
                admin_.message_user(request, gettext("Challenger saved."), messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:scores_scorecardversion_challenger"))
    comparison = (
        challenger_comparison(champion_version=active, challenger_version=current.version)
        if current
        else None
    )
    band_labels = [str(BAND_LABELS[band]) for band in BANDS]
    context = {
        **admin_.report_context(request, _("Challenger in shadow")),
        "active_version": active,
        "current": current,
        "comparison": comparison,
        "agreement": (
            None
            if comparison is None or not comparison.requests
            else 100 * comparison.same_band / comparison.requests
        ),
        "matrix_rows": (
            list(zip(band_labels, comparison.matrix, strict=True)) if comparison else []
        ),
        "band_labels": band_labels,
        "organizations": [
            (name, count, 100 * same / count if count else None, difference)
            for name, count, same, difference in (comparison.organizations if comparison else [])
        ],
        "form": form if can_set else None,
    }
    return TemplateResponse(request, "admin/scores/scorecardversion/challenger.html", context)


@admin.register(ScorecardEvent)
class ScorecardEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin[ScorecardEvent]):
    """Every step of the scorecard versions (uploaded, proposed, impact computed, approved,
    refused, activated, rolled back): who, when, why. Read-only, append-only."""

    list_display = [
        "occurred_at",
        "action",
        "version",
        "previous_version",
        "actor_name",
        "reason",
        "proposal",
    ]
    list_filter = ["action"]
    search_fields = ["version", "actor_name"]
    actions = None
    list_select_related = ["proposal"]

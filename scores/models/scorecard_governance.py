"""Scorecard versions as the portal governs them: uploaded versions (immutable), proposals
with their impact and their four-eyes decision, the challenger in shadow, and the record
of every step (append-only)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scoreportal.models import AppendOnlyRecord
from scoreportal.steps import step_stalled
from scores.models.profile_import import STALLED_AFTER


class StoredScorecard(AppendOnlyRecord):
    """A scorecard version uploaded in the admin: the file's text as uploaded, checked by
    the engine's rules before it was stored. Append-only: a stored version never changes
    (a correction is a new version)."""

    version = models.CharField(_("version"), max_length=16, unique=True, editable=False)
    document = models.TextField(_("document (JSON)"), editable=False)
    file_name = models.CharField(_("file name"), max_length=255, editable=False)
    file_sha256 = models.CharField(_("file SHA-256"), max_length=64, editable=False)
    uploaded_at = models.DateTimeField(_("uploaded at"), default=timezone.now, editable=False)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        verbose_name=_("uploaded by"),
    )

    class Meta:
        ordering = ["-uploaded_at"]
        verbose_name = _("uploaded scorecard")
        verbose_name_plural = _("uploaded scorecards")

    def __str__(self) -> str:
        return self.version


class ScorecardProposal(models.Model):
    """A proposal to activate a scorecard version: who proposed it and why, its impact
    against the version active when proposed, and the decision of a second person."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved and activated")
        REFUSED = "refused", _("Refused")
        SUPERSEDED = "superseded", _("Superseded (another version was activated)")

    class ImpactStatus(models.TextChoices):
        COMPUTING = "computing", _("Computing")
        COMPUTED = "computed", _("Computed")
        FAILED = "failed", _("Failed")

    version = models.CharField(_("proposed version"), max_length=16, editable=False)
    baseline_version = models.CharField(
        _("active version when proposed"), max_length=16, editable=False
    )
    reason = models.TextField(_("reason"), blank=True, editable=False)
    proposed_at = models.DateTimeField(_("proposed at"), default=timezone.now, editable=False)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
        verbose_name=_("proposed by"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True, editable=False)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("decided by"),
    )
    decision_reason = models.TextField(_("reason for the decision"), blank=True, editable=False)
    impact_status = models.CharField(
        _("impact"),
        max_length=16,
        choices=ImpactStatus.choices,
        default=ImpactStatus.COMPUTING,
        editable=False,
    )
    # The running tallies while the impact is computed in steps, then its result
    # (scores.impact.Impact.to_json).
    impact = models.JSONField(_("impact"), default=dict, editable=False)
    impact_cursor = models.CharField(
        _("impact computed up to (CPF hash)"), max_length=64, blank=True, editable=False
    )
    impact_progressed_at = models.DateTimeField(
        _("impact's last progress"), default=timezone.now, editable=False
    )

    class Meta:
        ordering = ["-proposed_at", "-id"]
        verbose_name = _("scorecard proposal")
        verbose_name_plural = _("scorecard proposals")
        permissions = [
            ("propose_scorecardproposal", "Can upload and propose scorecard versions"),
            ("approve_scorecardproposal", "Can approve, refuse and roll back scorecard versions"),
        ]
        constraints = [
            # One proposal of a version waits at a time.
            models.UniqueConstraint(
                fields=["version"],
                condition=models.Q(status="pending"),
                name="scorecardproposal_one_pending_per_version",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.version}"

    @property
    def impact_stalled(self) -> bool:
        """Its impact computing with no step ended for longer than a step can last: the
        task was lost (an invocation that could not be made, or that died)."""
        return step_stalled(
            running=self.impact_status == self.ImpactStatus.COMPUTING,
            progressed_at=self.impact_progressed_at,
            after=STALLED_AFTER,
        )


class ScorecardEvent(AppendOnlyRecord):
    """One step in the life of scorecard versions: who, when, which version, why.
    Append-only (the database refuses UPDATE, DELETE and TRUNCATE)."""

    class Action(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")
        PROPOSED = "proposed", _("Proposed")
        IMPACT_COMPUTED = "impact_computed", _("Impact computed")
        APPROVED = "approved", _("Approved")
        REFUSED = "refused", _("Refused")
        ACTIVATED = "activated", _("Activated")
        ROLLED_BACK = "rolled_back", _("Rolled back")
        CHALLENGER_SET = "challenger_set", _("Challenger set")
        CHALLENGER_REMOVED = "challenger_removed", _("Challenger removed")

    occurred_at = models.DateTimeField(_("time"), default=timezone.now, editable=False)
    action = models.CharField(_("action"), max_length=32, choices=Action.choices, editable=False)
    version = models.CharField(_("version"), max_length=16, editable=False)
    previous_version = models.CharField(
        _("version active before"), max_length=16, blank=True, editable=False
    )
    proposal = models.ForeignKey(
        ScorecardProposal,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="events",
        editable=False,
        verbose_name=_("proposal"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("by"),
    )
    actor_name = models.CharField(_("by (name)"), max_length=150, blank=True, editable=False)
    reason = models.TextField(_("reason"), blank=True, editable=False)
    challenger_share = models.PositiveSmallIntegerField(
        _("challenger's share of requests (%)"), null=True, blank=True, editable=False
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("scorecard event")
        verbose_name_plural = _("scorecard record")
        indexes = [
            models.Index(fields=["action", "-occurred_at"], name="scorecardevent_action_idx")
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.version}"


class ShadowScore(models.Model):
    """The challenger's answer beside the active scorecard's, on one request that computed a
    score: for comparison only, never returned to the partner nor cached. No CPF is kept:
    the comparison is of distributions, per organization."""

    occurred_at = models.DateTimeField(_("time"), default=timezone.now, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("organization"),
    )
    champion_version = models.CharField(_("active version"), max_length=16, editable=False)
    champion_score = models.PositiveSmallIntegerField(_("active score"), editable=False)
    champion_band = models.CharField(_("active band"), max_length=16, editable=False)
    challenger_version = models.CharField(_("challenger"), max_length=16, editable=False)
    challenger_score = models.PositiveSmallIntegerField(_("challenger's score"), editable=False)
    challenger_band = models.CharField(_("challenger's band"), max_length=16, editable=False)
    challenger_reason_codes = models.JSONField(
        _("challenger's reasons"), default=list, editable=False
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("shadow score")
        verbose_name_plural = _("shadow scores")
        indexes = [
            models.Index(
                fields=["challenger_version", "champion_version", "occurred_at"],
                name="shadowscore_versions_idx",
            ),
            # prune_audit removes them by age, oldest first, in batches.
            models.Index(fields=["occurred_at"], name="shadowscore_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.champion_version}/{self.challenger_version} {self.occurred_at}"

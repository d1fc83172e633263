"""Credit profiles: what a score is computed from, keyed by the HMAC of the CPF."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from scoreportal.models import AppendOnlyRecord
from scores.constants import PROFILE_CHARACTERISTICS
from scores.core.scorecard import ProfileValue

_ZERO = Decimal("0")
_ONE = Decimal("1")
# Utilization may exceed 100% (over-limit); beyond 10x the input is a data error.
_MAX_UTILIZATION = Decimal("10")


class CreditProfile(models.Model):
    """The credit characteristics of one consumer, keyed by the HMAC of their CPF.

    The CPF itself is never stored: `cpf_hash` is the lookup key and `cpf_masked` the
    display form. `version` grows with every change and is copied into cached scores.
    """

    cpf_hash = models.CharField(_("CPF hash"), max_length=64, primary_key=True, editable=False)
    cpf_masked = models.CharField(_("CPF"), max_length=14, editable=False)

    on_time_payment_ratio = models.DecimalField(
        _("on-time payment ratio (12 months)"),
        max_digits=5,
        decimal_places=4,
        validators=[MinValueValidator(_ZERO), MaxValueValidator(_ONE)],
        help_text=_("Share of bills paid on time in the last 12 months (0 to 1)."),
    )
    delinquencies_30d_12m = models.PositiveSmallIntegerField(
        _("delinquencies over 30 days (12 months)")
    )
    max_days_past_due_12m = models.PositiveSmallIntegerField(_("max days past due (12 months)"))
    active_negative_records = models.PositiveSmallIntegerField(
        _("active negative records"), help_text=_("Negativações currently active.")
    )
    protests = models.PositiveSmallIntegerField(
        _("protests"), help_text=_("Protestos currently registered.")
    )
    credit_utilization = models.DecimalField(
        _("credit utilization"),
        max_digits=6,
        decimal_places=4,
        validators=[MinValueValidator(_ZERO), MaxValueValidator(_MAX_UTILIZATION)],
        help_text=_("Used credit over available limits (1 = 100%)."),
    )
    hard_inquiries_90d = models.PositiveSmallIntegerField(_("hard inquiries (90 days)"))
    credit_history_months = models.PositiveSmallIntegerField(
        _("credit history (months)"),
        validators=[MaxValueValidator(1200)],
        help_text=_("Age of the oldest credit line."),
    )
    active_credit_contracts = models.PositiveSmallIntegerField(_("active credit contracts"))

    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
        verbose_name = _("credit profile")
        verbose_name_plural = _("credit profiles")
        # The credit data operators' jobs beyond editing: importing a CSV file in
        # the admin, and invalidating cached scores by hand.
        permissions = [
            ("import_creditprofile", _("Can import credit profiles from CSV")),
            ("invalidate_cached_scores", _("Can invalidate cached scores")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    on_time_payment_ratio__gte=_ZERO, on_time_payment_ratio__lte=_ONE
                ),
                name="creditprofile_on_time_payment_ratio_0_1",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    credit_utilization__gte=_ZERO, credit_utilization__lte=_MAX_UTILIZATION
                ),
                name="creditprofile_credit_utilization_0_10",
            ),
            models.CheckConstraint(
                condition=models.Q(credit_history_months__lte=1200),
                name="creditprofile_credit_history_months_max",
            ),
        ]

    def __str__(self) -> str:
        return self.cpf_masked

    @classmethod
    def characteristic_label(cls, name: str) -> str:
        """A characteristic's label, in the staff's language (the name itself for one the
        profile does not have)."""
        try:
            return str(getattr(cls._meta.get_field(name), "verbose_name", name))
        except FieldDoesNotExist:
            return name

    def characteristics(self) -> dict[str, ProfileValue]:
        """The values the scorecard reads, by characteristic name."""
        return {name: getattr(self, name) for name in PROFILE_CHARACTERISTICS}


class CreditProfileCorrection(AppendOnlyRecord):
    """A correction of one profile by a credit data operator: who, when, under which
    protocol and why, and which characteristics changed. Append-only.

    The values are not kept: they are credit data, which a consumer's cancellation removes
    with the profile, while this record of the correction stays."""

    occurred_at = models.DateTimeField(_("time"), default=timezone.now, editable=False)
    cpf_hash = models.CharField(_("CPF hash"), max_length=64, editable=False)
    cpf_masked = models.CharField(_("CPF"), max_length=14, editable=False)
    profile_version = models.PositiveIntegerField(_("profile version"), editable=False)
    characteristics = models.JSONField(_("characteristics changed"), editable=False)
    protocol = models.CharField(
        _("protocol"),
        max_length=40,
        editable=False,
        help_text=_("The number of the case that asked for the correction."),
    )
    reason = models.TextField(_("reason"), max_length=500, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        verbose_name=_("by"),
    )
    actor_name = models.CharField(_("by (name)"), max_length=150, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("profile correction")
        verbose_name_plural = _("profile corrections")
        indexes = [
            models.Index(fields=["cpf_hash", "-occurred_at"], name="scores_correction_cpf"),
            models.Index(fields=["protocol"], name="scores_correction_protocol"),
        ]

    def __str__(self) -> str:
        return f"{self.cpf_masked} ({self.protocol})"

    def changed_labels(self) -> str:
        """The characteristics changed, by their labels in the staff's language."""
        return ", ".join(
            capfirst(CreditProfile.characteristic_label(name)) for name in self.characteristics
        )


class ScorecardVersion(CreditProfile):
    """The shipped scorecards (files in scores/scorecards/, not rows): an entry of the admin
    and its permission; no table of its own."""

    class Meta:
        proxy = True
        verbose_name = _("scorecard")
        verbose_name_plural = _("scorecards")

"""Credit profiles (what a score is computed from) and the audit trail of score queries."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import ApiKey, Organization
from scores.constants import (
    BAND_CHOICES,
    OUTCOME_CHOICES,
    OUTCOME_SCORED,
    PROFILE_CHARACTERISTICS,
    Endpoint,
    Purpose,
    ScoreSource,
)
from scores.scorecard import ProfileValue

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

    def characteristics(self) -> dict[str, ProfileValue]:
        """The values the scorecard reads, by characteristic name."""
        return {name: getattr(self, name) for name in PROFILE_CHARACTERISTICS}


class Consultation(models.Model):
    """One CPF of one score request, successful or not: the audit trail (SPEC §10).

    Append-only: written once, before the response leaves, and never changed. Keys and
    organizations are referenced with PROTECT (they are revoked or deactivated, never
    deleted); the key prefix is copied so failed authentications are traceable too.
    """

    occurred_at = models.DateTimeField(_("time"), default=timezone.now, editable=False)
    request_id = models.UUIDField(_("request id"), editable=False)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        db_index=False,  # covered by the (organization, -occurred_at) index
        related_name="consultations",
        verbose_name=_("organization"),
    )
    # By the key's unique prefix, not its primary key (`prefix.sha512$$…`, 150 characters):
    # 8 characters per row instead, and no key hash in admin URLs (docs/audit.md).
    api_key = models.ForeignKey(
        ApiKey,
        to_field="prefix",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        db_index=False,  # covered by the (api_key, -occurred_at) index
        related_name="consultations",
        verbose_name=_("API key"),
    )
    api_key_prefix = models.CharField(
        _("key prefix"),
        max_length=8,
        blank=True,
        editable=False,
        help_text=_("The key's prefix; for a failed authentication, the prefix presented."),
    )
    client_ip = models.GenericIPAddressField(_("client IP"), null=True, blank=True, editable=False)
    endpoint = models.CharField(
        _("endpoint"), max_length=32, choices=Endpoint.choices, editable=False
    )
    purpose = models.CharField(
        _("purpose"), max_length=32, choices=Purpose.choices, blank=True, editable=False
    )
    cpf_hash = models.CharField(_("CPF hash"), max_length=64, blank=True, editable=False)
    cpf_masked = models.CharField(_("CPF"), max_length=14, blank=True, editable=False)
    outcome = models.CharField(_("outcome"), max_length=32, choices=OUTCOME_CHOICES, editable=False)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), editable=False)
    score = models.PositiveSmallIntegerField(_("score"), null=True, blank=True, editable=False)
    band = models.CharField(
        _("band"), max_length=16, choices=BAND_CHOICES, blank=True, editable=False
    )
    model_version = models.CharField(_("model version"), max_length=16, blank=True, editable=False)
    source = models.CharField(
        _("source"), max_length=16, choices=ScoreSource.choices, blank=True, editable=False
    )
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("score consultation")
        verbose_name_plural = _("score consultations")
        # One index per question the auditors' pages ask, newest first (docs/audit.md has
        # their plans and sizes at 10 million rows). Not listed: `cpf_hash`'s, a hash index
        # on Postgres (a quarter of a B-tree's size over 64-character hex; the question is
        # only ever equality), created by migration 0006.
        indexes = [
            models.Index(fields=["-occurred_at"], name="consultation_occurred_idx"),
            models.Index(fields=["organization", "-occurred_at"], name="consultation_org_idx"),
            models.Index(fields=["api_key", "-occurred_at"], name="consultation_key_idx"),
            models.Index(fields=["request_id"], name="consultation_request_idx"),
            # Failures are a small share of the rows: looking one kind up must not walk the
            # scored rows. Partial, so a few percent of the table's size.
            models.Index(
                fields=["outcome", "-occurred_at"],
                name="consultation_failure_idx",
                condition=~models.Q(outcome=OUTCOME_SCORED),
            ),
            models.Index(
                fields=["organization", "outcome", "-occurred_at"],
                name="consultation_org_failure_idx",
                condition=~models.Q(outcome=OUTCOME_SCORED),
            ),
        ]

    def __str__(self) -> str:
        # Local time in the active language's format, like every other time on the page.
        occurred = formats.date_format(timezone.localtime(self.occurred_at), "DATETIME_FORMAT")
        return f"{occurred} {self.cpf_masked or '-'} {self.get_outcome_display()}"

"""Credit profiles (what a score is computed from) and the audit trail of score queries."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from accounts.models import ApiKey, Organization
from scores.constants import (
    BAND_CHOICES,
    OUTCOME_CHOICES,
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

    cpf_hash = models.CharField(max_length=64, primary_key=True, editable=False)
    cpf_masked = models.CharField("CPF", max_length=14, editable=False)

    on_time_payment_ratio = models.DecimalField(
        max_digits=5,
        decimal_places=4,
        validators=[MinValueValidator(_ZERO), MaxValueValidator(_ONE)],
        help_text="Share of bills paid on time in the last 12 months (0 to 1).",
    )
    delinquencies_30d_12m = models.PositiveSmallIntegerField(
        "delinquencies over 30 days (12 months)"
    )
    max_days_past_due_12m = models.PositiveSmallIntegerField("max days past due (12 months)")
    active_negative_records = models.PositiveSmallIntegerField(
        "active negative records", help_text="Negativações currently active."
    )
    protests = models.PositiveSmallIntegerField(help_text="Protestos currently registered.")
    credit_utilization = models.DecimalField(
        max_digits=6,
        decimal_places=4,
        validators=[MinValueValidator(_ZERO), MaxValueValidator(_MAX_UTILIZATION)],
        help_text="Used credit over available limits (1 = 100%).",
    )
    hard_inquiries_90d = models.PositiveSmallIntegerField("hard inquiries (90 days)")
    credit_history_months = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(1200)], help_text="Age of the oldest credit line."
    )
    active_credit_contracts = models.PositiveSmallIntegerField()

    version = models.PositiveIntegerField(default=1, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at"]
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

    occurred_at = models.DateTimeField(default=timezone.now, editable=False)
    request_id = models.UUIDField(editable=False)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        db_index=False,  # covered by the (organization, -occurred_at) index
        related_name="consultations",
    )
    api_key = models.ForeignKey(
        ApiKey,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        db_index=False,  # covered by the (api_key, -occurred_at) index
        related_name="consultations",
    )
    api_key_prefix = models.CharField(
        max_length=8,
        blank=True,
        editable=False,
        help_text="The key's prefix; for a failed authentication, the prefix presented.",
    )
    client_ip = models.GenericIPAddressField(null=True, blank=True, editable=False)
    endpoint = models.CharField(max_length=32, choices=Endpoint.choices, editable=False)
    purpose = models.CharField(max_length=32, choices=Purpose.choices, blank=True, editable=False)
    cpf_hash = models.CharField(max_length=64, blank=True, editable=False)
    cpf_masked = models.CharField("CPF", max_length=14, blank=True, editable=False)
    outcome = models.CharField(max_length=32, choices=OUTCOME_CHOICES, editable=False)
    http_status = models.PositiveSmallIntegerField(editable=False)
    score = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    band = models.CharField(max_length=16, choices=BAND_CHOICES, blank=True, editable=False)
    model_version = models.CharField(max_length=16, blank=True, editable=False)
    source = models.CharField(
        max_length=16, choices=ScoreSource.choices, blank=True, editable=False
    )
    latency_ms = models.PositiveIntegerField(editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["-occurred_at"], name="consultation_occurred_idx"),
            models.Index(fields=["organization", "-occurred_at"], name="consultation_org_idx"),
            models.Index(fields=["api_key", "-occurred_at"], name="consultation_key_idx"),
            models.Index(fields=["cpf_hash", "-occurred_at"], name="consultation_cpf_idx"),
            models.Index(fields=["request_id"], name="consultation_request_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.cpf_masked or '-'} {self.outcome}"

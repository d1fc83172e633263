"""The audit trail of score queries: written by the score path (scores.services.audit),
before each answer leaves; read by the auditors' app (audit)."""

from __future__ import annotations

from django.db import models
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from accounts.constants import Purpose
from accounts.models import ApiKey, Organization
from scoreportal.models import AppendOnlyRecord
from scores.constants import BAND_CHOICES, OUTCOME_CHOICES, OUTCOME_SCORED, Endpoint, ScoreSource


class Consultation(AppendOnlyRecord):
    """One CPF of one score request, successful or not: the audit trail.

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
    # The served score's bin of each characteristic ("0,3,1", the scorecard's order), for
    # characteristic stability; empty when not served or cached before bins were kept.
    # A database default: writers by COPY (generate_audit_rows) need not name it.
    characteristic_bins = models.CharField(
        _("characteristic bins"),
        max_length=64,
        blank=True,
        default="",
        db_default="",
        editable=False,
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("score consultation")
        verbose_name_plural = _("score consultations")
        permissions = [("export_consultation", _("Can export score consultations as CSV"))]
        # One index per question the auditors' pages ask (docs/audit.md has their plans
        # and sizes at 10 million rows). Time ascending, though pages read newest first (a
        # backward scan): rows arrive in time order, and B-tree pages filled in ascending
        # order split full, where descending order leaves them half empty (twice the size).
        # Not listed: `cpf_hash`'s, a hash index on Postgres (the question is only ever
        # equality, and it stores 4 bytes of the 64-character digest), made by migration 0007.
        indexes = [
            models.Index(fields=["occurred_at"], name="consultation_time_idx"),
            models.Index(fields=["organization", "occurred_at"], name="consultation_org_time_idx"),
            models.Index(fields=["api_key", "occurred_at"], name="consultation_key_time_idx"),
            models.Index(fields=["request_id"], name="consultation_request_idx"),
            # Failures are a small share of the rows: finding one kind must not walk the
            # scored rows. Partial, so each is a few percent of the table's size.
            *(
                models.Index(
                    fields=[*by, "outcome", "occurred_at"],
                    name=f"consultation_{name}_idx",
                    condition=~models.Q(outcome=OUTCOME_SCORED),
                )
                for name, by in (
                    ("failure", []),
                    ("org_failure", ["organization"]),
                    ("key_failure", ["api_key"]),
                )
            ),
        ]

    def __str__(self) -> str:
        # Local time in the active language's format, like every other time on the page.
        occurred = formats.date_format(timezone.localtime(self.occurred_at), "DATETIME_FORMAT")
        return f"{occurred} {self.cpf_masked or '-'} {self.get_outcome_display()}"

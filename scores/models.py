"""Credit profiles (what a score is computed from), their imports, and the audit trail of
score queries."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import formats, timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.constants import Purpose
from accounts.models import ApiKey, Organization
from scoreportal.models import AppendOnlyRecord
from scores.constants import (
    BAND_CHOICES,
    OUTCOME_CHOICES,
    OUTCOME_SCORED,
    PROFILE_CHARACTERISTICS,
    Endpoint,
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
        # The credit data operators' jobs beyond editing (SPEC §1): importing a CSV file in
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

    def characteristics(self) -> dict[str, ProfileValue]:
        """The values the scorecard reads, by characteristic name."""
        return {name: getattr(self, name) for name in PROFILE_CHARACTERISTICS}


# A step lasts PROFILE_IMPORT_STEP_SECONDS (under the Lambda function's 29 s timeout): a
# running import with no progress for this long has lost its task and may be resumed.
STALLED_AFTER = timedelta(minutes=5)


class ProfileImport(models.Model):
    """One import of a credit-profile CSV file, from the admin or `manage.py import_profiles`:
    who, when, which file (name, SHA-256, size; never its contents), what the check (dry
    run) found and what the import did, and how far it has got.

    An admin import is checked first and imported once confirmed; both phases run as a
    task in steps (scores.services.profile_imports). The uploaded file sits in the
    operations bucket (`imports/<id>.csv`) or under MEDIA_ROOT until it expires. No CPF is
    ever kept here: row errors name the line and the column, never a value.
    """

    class Source(models.TextChoices):
        ADMIN = "admin", _("Admin")
        COMMAND = "command", _("Command line")

    class Status(models.TextChoices):
        CHECKING = "checking", _("Checking")
        CHECKED = "checked", _("Checked, waiting for confirmation")
        IMPORTING = "importing", _("Importing")
        IMPORTED = "imported", _("Imported")
        REFUSED = "refused", _("Refused (strict: the file has bad rows)")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("imported by"),
    )
    actor_name = models.CharField(
        _("imported by (name)"),
        max_length=300,
        editable=False,
        help_text=_("The username in the admin; the operating-system user on the command line."),
    )
    confirmed_by = models.CharField(_("confirmed by"), max_length=150, blank=True, editable=False)
    file_name = models.CharField(_("file name"), max_length=255, editable=False)
    file_sha256 = models.CharField(_("file SHA-256"), max_length=64, editable=False)
    file_size = models.PositiveBigIntegerField(_("file size (bytes)"), editable=False)
    file_location = models.CharField(
        _("file location"),
        max_length=300,
        blank=True,
        editable=False,
        help_text=_(
            "Where the uploaded file is kept: s3://bucket/imports/… or a path under MEDIA_ROOT."
        ),
    )
    file_etag = models.CharField(
        _("file version (ETag)"),
        max_length=100,
        blank=True,
        editable=False,
        help_text=_(
            "The S3 object's ETag when the upload came back: every read of the file asks "
            "for that version, so a file replaced after its check is refused, not imported."
        ),
    )
    strict = models.BooleanField(
        _("strict"), default=False, editable=False, help_text=_("Any bad row: nothing imported.")
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, editable=False)
    failure = models.CharField(_("failure"), max_length=500, blank=True, editable=False)
    failure_reason = models.JSONField(
        _("failure, to translate"),
        default=dict,
        blank=True,
        editable=False,
        help_text=_(
            "The failure's message and values, so that the import's page says it in the "
            "reader's language."
        ),
    )
    # Where the running phase will go on (the task's steps): bytes and lines of the file.
    bytes_done = models.PositiveBigIntegerField(_("bytes read"), default=0, editable=False)
    next_line = models.PositiveIntegerField(_("next line"), default=2, editable=False)
    steps = models.PositiveIntegerField(_("steps"), default=0, editable=False)
    # What the check found (the preview) ...
    checked_rows = models.PositiveIntegerField(_("rows checked"), default=0, editable=False)
    to_create = models.PositiveIntegerField(_("rows to create"), default=0, editable=False)
    to_update = models.PositiveIntegerField(_("rows to update"), default=0, editable=False)
    to_leave = models.PositiveIntegerField(_("rows unchanged"), default=0, editable=False)
    bad_rows = models.PositiveIntegerField(_("bad rows"), default=0, editable=False)
    # ... and what the import did.
    rows = models.PositiveIntegerField(_("rows imported"), default=0, editable=False)
    created = models.PositiveIntegerField(_("created"), default=0, editable=False)
    updated = models.PositiveIntegerField(_("updated"), default=0, editable=False)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0, editable=False)
    skipped = models.PositiveIntegerField(_("bad rows skipped"), default=0, editable=False)
    invalidation_failures = models.PositiveIntegerField(
        _("cached scores pending invalidation"), default=0, editable=False
    )
    row_errors = models.JSONField(
        _("bad rows"),
        default=list,
        editable=False,
        help_text=_("[line, reason] of the first bad rows (PROFILE_IMPORT_MAX_ERRORS_KEPT)."),
    )
    progressed_at = models.DateTimeField(
        _("last progress"),
        default=timezone.now,
        editable=False,
        help_text=_("When the running phase last started or finished a step."),
    )
    checked_at = models.DateTimeField(_("checked at"), null=True, blank=True, editable=False)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("credit profile import")
        verbose_name_plural = _("credit profile imports")
        indexes = [models.Index(fields=["-created_at"], name="profileimport_created_idx")]

    def __str__(self) -> str:
        created = formats.date_format(timezone.localtime(self.created_at), "DATETIME_FORMAT")
        return f"{created} {self.file_name}"

    @property
    def running(self) -> bool:
        return self.status in (self.Status.CHECKING, self.Status.IMPORTING)

    @property
    def failure_message(self) -> str:
        """Why it failed, in the active language when the failure kept its reason."""
        reason = self.failure_reason
        if not reason:
            return self.failure
        text = gettext(reason["message"])
        return text % reason["params"] if reason["params"] else text

    @property
    def stalled(self) -> bool:
        """An admin import running with no step started or ended for longer than a step can
        last: its task was lost (an invocation that could not be made, or that died). A
        command-line run has no steps and no task to resume: never stalled."""
        return (
            self.source == self.Source.ADMIN
            and self.running
            and timezone.now() - self.progressed_at > STALLED_AFTER
        )

    @property
    def percent_done(self) -> int:
        """How much of the file the running phase has read (0-100)."""
        if not self.file_size:
            return 100
        return min(100, self.bytes_done * 100 // self.file_size)


class ImportSeenCpf(models.Model):
    """A CPF an admin import's running phase has read, with the line it was first on.

    The phase reads its file in steps, one Lambda invocation each, so a CPF repeated across
    steps is found here, not in a set held in memory; a step read again (a retried
    invocation) finds its CPFs at their own lines, which are not repeats. The rows live
    while the phase runs (scores.services.profile_imports); only the lookup hash is kept.
    """

    profile_import = models.ForeignKey(
        ProfileImport,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("credit profile import"),
    )
    cpf_hash = models.CharField(_("CPF hash"), max_length=64)
    line = models.PositiveIntegerField(_("line"))

    class Meta:
        verbose_name = _("CPF read by an import")
        verbose_name_plural = _("CPFs read by an import")
        constraints = [
            models.UniqueConstraint(
                fields=["profile_import", "cpf_hash"], name="importseencpf_one_per_cpf"
            )
        ]

    def __str__(self) -> str:
        return f"{self.cpf_hash[:12]}… line {self.line}"


class ScorecardVersion(CreditProfile):
    """The shipped scorecards (files in scores/scorecards/, not rows): an entry of the admin
    and its permission; no table of its own."""

    class Meta:
        proxy = True
        verbose_name = _("scorecard")
        verbose_name_plural = _("scorecards")


class PendingInvalidation(models.Model):
    """A cached score to invalidate: the outbox of profile changes (one row per CPF).

    Written in the same transaction as the profile change, so a change is never committed
    without it; deleted once the tombstone is in the cache (scores.services.invalidations).
    A crash between the commit and the cache write, or DynamoDB being down, leaves the row
    for the next drain: after the import, at the next import, on the schedule, or from
    `invalidate_scores --pending`.
    """

    cpf_hash = models.CharField(_("CPF hash"), max_length=64, primary_key=True, editable=False)
    profile_version = models.PositiveIntegerField(_("profile version"), editable=False)
    recorded_at = models.DateTimeField(_("recorded at"), editable=False)

    class Meta:
        verbose_name = _("pending cache invalidation")
        verbose_name_plural = _("pending cache invalidations")

    def __str__(self) -> str:
        return f"{self.cpf_hash[:12]}… v{self.profile_version}"


class Consultation(AppendOnlyRecord):
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

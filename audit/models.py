"""The auditors' records: who read the audit trail (exports, per-CPF report runs), the daily
usage summary, and the report pages' admin entries.

The tables keep the names they were created with in the scores app (`db_table`): the models
moved, the data did not (migration 0001).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import ApiKey, Organization
from scoreportal.models import AppendOnlyRecord
from scores.models import Consultation


class AuditExport(AppendOnlyRecord):
    """One CSV export of the audit trail: who ran it, when, with which filters, and how
    many rows matched when it started.

    Itself audit data: written once, before the first row leaves (audit.services.
    records), never changed; the database refuses UPDATE, DELETE and TRUNCATE as it
    does for consultations. The search is kept without a CPF in it: a CPF searched for
    is recorded as its hash and masked form.
    """

    occurred_at = models.DateTimeField(_("time"), default=timezone.now, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        editable=False,
        related_name="+",
        verbose_name=_("exported by"),
    )
    actor_name = models.CharField(
        _("exported by (name)"),
        max_length=150,
        editable=False,
        help_text=_("The username when the export ran, kept if the account changes."),
    )
    filters = models.CharField(
        _("filters"),
        max_length=2000,
        blank=True,
        editable=False,
        help_text=_("The audit trail's filters and search, as in its address."),
    )
    cpf_hash = models.CharField(_("CPF hash"), max_length=64, blank=True, editable=False)
    cpf_masked = models.CharField(_("CPF searched"), max_length=14, blank=True, editable=False)
    row_count = models.PositiveIntegerField(_("rows"), editable=False)

    class Meta:
        db_table = "scores_auditexport"
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("audit trail export")
        verbose_name_plural = _("audit trail exports")
        indexes = [models.Index(fields=["-occurred_at"], name="auditexport_occurred_idx")]

    def __str__(self) -> str:
        occurred = formats.date_format(timezone.localtime(self.occurred_at), "DATETIME_FORMAT")
        return f"{occurred} {self.actor_name}"


class CpfReportRun(AppendOnlyRecord):
    """One run of the consultation report for a CPF: an access to personal data, so who
    ran it, when, for which CPF (its hash and masked form) and period, and what came out.

    Append-only like consultations (audit.services.records writes it, before the
    report is shown).
    """

    class Output(models.TextChoices):
        PAGE = "page", _("Page")
        CSV = "csv", _("CSV file")

    occurred_at = models.DateTimeField(_("time"), default=timezone.now, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        editable=False,
        related_name="+",
        verbose_name=_("run by"),
    )
    actor_name = models.CharField(
        _("run by (name)"),
        max_length=150,
        editable=False,
        help_text=_("The username when the report ran, kept if the account changes."),
    )
    cpf_hash = models.CharField(_("CPF hash"), max_length=64, editable=False)
    cpf_masked = models.CharField(_("CPF"), max_length=14, editable=False)
    period_start = models.DateField(_("from"), editable=False)
    period_end = models.DateField(_("to"), editable=False)
    output = models.CharField(_("output"), max_length=8, choices=Output.choices, editable=False)
    row_count = models.PositiveIntegerField(_("consultations found"), editable=False)

    class Meta:
        db_table = "scores_cpfreportrun"
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("consultation report by CPF run")
        verbose_name_plural = _("consultation report by CPF runs")
        indexes = [
            models.Index(fields=["-occurred_at"], name="cpfreportrun_occurred_idx"),
            models.Index(fields=["cpf_hash", "-occurred_at"], name="cpfreportrun_cpf_idx"),
        ]

    def __str__(self) -> str:
        occurred = formats.date_format(timezone.localtime(self.occurred_at), "DATETIME_FORMAT")
        return f"{occurred} {self.actor_name} {self.cpf_masked}"


class CpfReport(Consultation):
    """The consultation report for a CPF (Decreto 9.936/2019 art. 10): an entry
    of the admin and its permission; no table of its own."""

    class Meta:
        proxy = True
        verbose_name = _("consultation report by CPF")
        verbose_name_plural = _("consultation report by CPF")


class DailyUsage(models.Model):
    """The consultations of one API key (or, without a key, failed authentications) on one
    day in São Paulo, summed: what the usage report reads instead of the audit trail.

    Derived data, rewritten whole for a day by `audit.services.usage.usage_summarize`
    until the day is complete (DailyUsageStatus). Latencies are kept as counts per
    bucket of LATENCY_BUCKETS_MS, from which percentiles over any set of days and keys
    are read.
    """

    day = models.DateField(_("day"), editable=False)
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("organization"),
    )
    api_key = models.ForeignKey(
        ApiKey,
        to_field="prefix",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("API key"),
    )
    requests = models.PositiveIntegerField(_("requests"), default=0, editable=False)
    consultations = models.PositiveIntegerField(_("consultations"), default=0, editable=False)
    served = models.PositiveIntegerField(_("scores served"), default=0, editable=False)
    no_credit_data = models.PositiveIntegerField(_("no credit data"), default=0, editable=False)
    invalid = models.PositiveIntegerField(_("invalid requests"), default=0, editable=False)
    refused = models.PositiveIntegerField(_("refused"), default=0, editable=False)
    throttled = models.PositiveIntegerField(_("throttled"), default=0, editable=False)
    failed = models.PositiveIntegerField(_("failed"), default=0, editable=False)
    from_cache = models.PositiveIntegerField(_("served from the cache"), default=0, editable=False)
    band_low = models.PositiveIntegerField(_("low band"), default=0, editable=False)
    band_fair = models.PositiveIntegerField(_("fair band"), default=0, editable=False)
    band_good = models.PositiveIntegerField(_("good band"), default=0, editable=False)
    band_excellent = models.PositiveIntegerField(_("excellent band"), default=0, editable=False)
    score_sum = models.PositiveBigIntegerField(_("sum of scores"), default=0, editable=False)
    latency_histogram = models.JSONField(
        _("latency histogram"),
        default=list,
        editable=False,
        help_text=_("Consultations per latency bucket (milliseconds)."),
    )

    class Meta:
        db_table = "scores_dailyusage"
        ordering = ["-day"]
        verbose_name = _("daily usage")
        verbose_name_plural = _("daily usage")
        indexes = [models.Index(fields=["day"], name="dailyusage_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.api_key_id or '-'}"


class DailyUsageStatus(models.Model):
    """How far a day's DailyUsage rows go: consultations before `covered_until` are in
    them. A day is complete once that is the next day's midnight (plus a margin for rows
    still being written), and is not summarized again."""

    day = models.DateField(_("day"), primary_key=True, editable=False)
    covered_until = models.DateTimeField(_("covered until"), editable=False)
    complete = models.BooleanField(_("complete"), default=False, editable=False)
    summarized_at = models.DateTimeField(_("summarized at"), editable=False)

    class Meta:
        db_table = "scores_dailyusagestatus"
        ordering = ["-day"]
        verbose_name = _("summarized day")
        verbose_name_plural = _("summarized days")

    def __str__(self) -> str:
        return str(self.day)


class UsageReport(DailyUsage):
    """The usage report (per organization and key, per day): an entry of the admin and
    its permission; it reads DailyUsage."""

    class Meta:
        proxy = True
        verbose_name = _("usage report")
        verbose_name_plural = _("usage report")


class StabilityReport(DailyUsage):
    """The population stability report (PSI per week and month since the activation): an
    entry of the admin and its permission; it reads DailyUsage."""

    class Meta:
        proxy = True
        verbose_name = _("stability report")
        verbose_name_plural = _("stability report")

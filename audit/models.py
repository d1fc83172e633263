"""The auditors' records: who read the audit trail (exports, per-CPF report runs), the daily
usage summary and who brought it up to date by hand, and the report pages' admin entries.

The tables keep the names they were created with in the scores app (`db_table`): the models
moved, the data did not (migration 0001).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import ApiKey, Organization
from scoreportal.models import AppendOnlyRecord
from scoreportal.steps import step_stalled
from scores.models import Consultation

# A step lasts AUDIT_EXPORT_STEP_SECONDS at most (under Lambda's timeout): past this with
# no progress, an export's task was lost and its page offers to resume it.
EXPORT_STALLED_AFTER = timedelta(minutes=2)


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


class AuditExportFile(models.Model):
    """The CSV an export writes, in steps, to the operations bucket (a file under
    MEDIA_ROOT on a laptop): how far it got, where it is. Not audit data itself (the
    export's record is), so it changes as the steps advance (audit.services.exports)."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")

    # No database constraint, as for the downloads: the export's record stays append-only
    # to TRUNCATE too (a referenced table cannot be truncated, which would answer first).
    export = models.OneToOneField(
        AuditExport,
        on_delete=models.CASCADE,
        primary_key=True,
        db_constraint=False,
        related_name="file",
        verbose_name=_("audit trail export"),
    )
    # The trail's filtered query, pickled and signed with the secret key (it is unpickled
    # only if the signature holds): the task rebuilds exactly the rows the auditor asked for.
    query = models.TextField(_("query"), editable=False)
    language = models.CharField(_("language"), max_length=16, editable=False)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.RUNNING
    )
    location = models.CharField(_("location"), max_length=500, blank=True, editable=False)
    file_name = models.CharField(_("file"), max_length=200, editable=False)
    upload_id = models.CharField(_("upload id"), max_length=1024, blank=True, editable=False)
    parts = models.JSONField(_("parts"), default=list, editable=False)
    # A bucket takes parts of 5 MiB at least but the last: a shorter step's bytes wait here
    # for the next step's (kept with the step's position, in its transaction).
    pending = models.BinaryField(_("bytes waiting for the next part"), default=b"", editable=False)
    rows_written = models.PositiveBigIntegerField(_("rows written"), default=0)
    bytes_written = models.PositiveBigIntegerField(_("size (bytes)"), default=0)
    # Where the last finished step stopped: the newest-first order's (time, id) of its last row.
    after_time = models.DateTimeField(_("written up to (time)"), null=True, editable=False)
    after_id = models.BigIntegerField(_("written up to (id)"), null=True, editable=False)
    steps = models.PositiveIntegerField(_("steps"), default=0)
    progressed_at = models.DateTimeField(_("last progress"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    failure = models.CharField(_("failure"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("export file")
        verbose_name_plural = _("export files")

    def __str__(self) -> str:
        return self.file_name

    @property
    def running(self) -> bool:
        return self.status == self.Status.RUNNING

    @property
    def stalled(self) -> bool:
        """Running with no step started or ended for longer than a step can last: its task
        was lost (an invocation that could not be made, or that died)."""
        return step_stalled(
            running=self.running, progressed_at=self.progressed_at, after=EXPORT_STALLED_AFTER
        )

    @property
    def percent_done(self) -> int:
        total = self.export.row_count
        return 100 if not total else min(100, self.rows_written * 100 // total)


class AuditExportDownload(AppendOnlyRecord):
    """One download of an export's CSV: who, when. Audit data, append-only."""

    occurred_at = models.DateTimeField(_("time"), default=timezone.now, editable=False)
    # No database constraint: the export's record may be pruned before its downloads'.
    export = models.ForeignKey(
        AuditExport,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        editable=False,
        related_name="downloads",
        verbose_name=_("audit trail export"),
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        editable=False,
        related_name="+",
        verbose_name=_("downloaded by"),
    )
    actor_name = models.CharField(_("downloaded by (name)"), max_length=150, editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("export download")
        verbose_name_plural = _("export downloads")

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
    # Why the report was run, as the auditor gave it (a request's protocol number).
    reason = models.CharField(_("reason"), max_length=500, blank=True, default="", editable=False)

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
    # Who last brought the day up to date from the usage report's page; empty: the schedule
    # (summarize_usage).
    summarized_by = models.CharField(
        _("summarized by"), max_length=150, blank=True, default="", editable=False
    )
    # The day's served scores, every key's together, per SCORE_BUCKET points (0-9, 10-19,
    # ..., 990-1000): the population stability report's PSI reads a row a day, whatever the
    # number of keys. Empty on days summarized before it was kept.
    score_histogram = models.JSONField(
        _("score histogram"),
        default=list,
        editable=False,
        help_text=_("Scores served per bucket of 10 points."),
    )
    # The day's served scores' characteristic bins, per scorecard version (the CSI):
    # {version: {"bins": [[count per bin] per characteristic], "unknown": count}} ("unknown":
    # scores served without their bins, from items cached before they were kept).
    characteristic_bins = models.JSONField(
        _("characteristic bins"),
        default=dict,
        editable=False,
        help_text=_("Scores served per bin of each characteristic, per scorecard version."),
    )

    class Meta:
        db_table = "scores_dailyusagestatus"
        ordering = ["-day"]
        verbose_name = _("summarized day")
        verbose_name_plural = _("summarized days")

    def __str__(self) -> str:
        return str(self.day)


class UsageSummaryRefresh(AppendOnlyRecord):
    """A staff member brought the usage summary up to date from the usage report's page:
    who, when, how many days it summarized and up to which, and whether it got to now (a
    long backlog takes a few presses). Audit data, append-only; the schedule's runs are
    not recorded here (each day's status says when it was last summarized)."""

    occurred_at = models.DateTimeField(_("time"), default=timezone.now, editable=False)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        editable=False,
        related_name="+",
        verbose_name=_("by"),
    )
    actor_name = models.CharField(_("by (name)"), max_length=150, editable=False)
    days = models.PositiveIntegerField(_("days summarized"), editable=False)
    last_day = models.DateField(_("summarized up to"), null=True, blank=True, editable=False)
    up_to_date = models.BooleanField(_("up to date"), editable=False)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("usage summary update")
        verbose_name_plural = _("usage summary updates")

    def __str__(self) -> str:
        occurred = formats.date_format(timezone.localtime(self.occurred_at), "DATETIME_FORMAT")
        return f"{occurred} {self.actor_name}"


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

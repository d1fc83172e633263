"""The record of every profile import, and the CPFs a running import has read."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import formats, timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from scoreportal.steps import step_stalled

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
        messages = reason["message"]
        messages = [messages] if isinstance(messages, str) else messages
        params = reason["params"]
        return "; ".join(gettext(m) % params if params else gettext(m) for m in messages)

    @property
    def row_errors_shown(self) -> list[tuple[int, str]]:
        """The kept bad rows (line, reason), each in the active language when it kept its
        reasons (rows recorded before they were kept stay in English)."""
        shown = []
        for line, message, *rest in self.row_errors:
            reasons = rest[0] if rest else []
            parts = []
            for column, text, params in reasons:
                said = gettext(text) % params if params else gettext(text)
                parts.append(f"{column}: {said}" if column else said)
            shown.append((line, "; ".join(parts) if parts else message))
        return shown

    @property
    def stalled(self) -> bool:
        """An admin import running with no step started or ended for longer than a step can
        last: its task was lost (an invocation that could not be made, or that died). A
        command-line run has no steps and no task to resume: never stalled."""
        return step_stalled(
            running=self.source == self.Source.ADMIN and self.running,
            progressed_at=self.progressed_at,
            after=STALLED_AFTER,
        )

    @property
    def percent_done(self) -> int:
        """How much of the file the running phase has read (0-100)."""
        if not self.file_size:
            return 100
        return min(100, self.bytes_done * 100 // self.file_size)


class ImportSeenCpf(models.Model):
    """A CPF an import has read, with the line it was first on (scores.imports.seen_cpfs).

    Scratch rows, a million for a file of a million lines, kept while the import reads its
    file: keyed by the import and the CPF's lookup hash (one index, no sequence), with no
    constraint trigger per row (Django's collector still cascades a deletion). On Postgres
    the table is UNLOGGED (migration 0015): no write-ahead log for scratch, which a crash
    of the database server empties. Only the lookup hash is kept.
    """

    pk = models.CompositePrimaryKey(
        "profile_import", "cpf_hash", verbose_name=_("import and CPF hash")
    )
    profile_import = models.ForeignKey(
        ProfileImport,
        on_delete=models.CASCADE,
        db_constraint=False,
        db_index=False,
        related_name="+",
        verbose_name=_("credit profile import"),
    )
    cpf_hash = models.CharField(_("CPF hash"), max_length=64)
    line = models.PositiveIntegerField(_("line"))

    class Meta:
        verbose_name = _("CPF read by an import")
        verbose_name_plural = _("CPFs read by an import")

    def __str__(self) -> str:
        return f"{self.cpf_hash[:12]}… line {self.line}"

"""CSV exports of the audit trail of any size: a task in steps writes the file to the
operations bucket (a multipart upload, one part a step; MEDIA_ROOT on a laptop), and the
auditor downloads it from the export's page through a short-lived link, each download
recorded. As the profile imports do: each step a Zappa task on Lambda (a plain call
elsewhere), resumable from where its last finished step stopped. docs/audit.md.
"""

from __future__ import annotations

import base64
import csv
import io
import logging
import pickle
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.contrib.auth.models import User
from django.core import signing
from django.db import close_old_connections, transaction
from django.db.models import QuerySet
from django.utils import timezone, translation
from django.utils.text import capfirst
from django.utils.translation import gettext, gettext_noop

from audit.csv_download import (
    BYTE_ORDER_MARK,
    csv_cell,
    csv_time,
    delimiter,
    download_name,
    field_label,
    local_now_stamp,
    model_field,
)
from audit.exceptions import ExportNotReady, ExportNotResumable
from audit.models import AuditExport, AuditExportDownload, AuditExportFile
from audit.order import NEWEST_FIRST, Cursor
from audit.services.records import audit_export_record
from scoreportal import aws_clients
from scoreportal.steps import step_task_resume
from scores.admin.cpf_search import SearchedCpf
from scores.models import Consultation

logger = logging.getLogger(__name__)

EXPORTS_PREFIX = "exports/"
_S3_SCHEME = "s3://"
# S3's smallest part of a multipart upload, except the last one.
S3_MIN_PART_BYTES = 5 * 1024 * 1024
# Rows read per query inside a step (keyset): a few megabytes of Python objects at most.
_CHUNK_ROWS = 2000
_SIGNING_SALT = "audit.export.query"

_FIELDS = (
    "occurred_at",
    "request_id",
    "organization__name",
    "api_key_id",
    "api_key_prefix",
    "client_ip",
    "endpoint",
    "purpose",
    "cpf_masked",
    "outcome",
    "http_status",
    "score",
    "band",
    "model_version",
    "source",
    "latency_ms",
)


@dataclass(frozen=True, slots=True)
class DownloadLink:
    """Where the auditor's browser goes for the file: a presigned URL (the bucket), or
    the local file to send (a laptop)."""

    url: str | None
    path: Path | None
    file_name: str


# ---------------------------------------------------------------------------------------
# Starting, stepping, resuming
# ---------------------------------------------------------------------------------------
@transaction.atomic
def audit_export_start(
    *,
    actor: User,
    rows: QuerySet[Consultation],
    filters: Mapping[str, Sequence[str]],
    searched: SearchedCpf | None,
) -> AuditExport:
    """Record the export (who, when, filters, the rows matching now) and start its task.
    `rows` is the trail as filtered and searched on its page, up to the moment the
    export starts; the task writes exactly those (ExportFiltersTooLong: nothing starts)."""
    export = audit_export_record(
        actor=actor, filters=filters, row_count=rows.count(), searched=searched
    )
    query = base64.b64encode(pickle.dumps(rows.query)).decode("ascii")
    AuditExportFile.objects.create(
        export=export,
        query=signing.dumps(query, salt=_SIGNING_SALT, compress=True),
        language=translation.get_language() or settings.LANGUAGE_CODE,
        file_name=download_name(gettext("score-consultations"), local_now_stamp()),
        location=_location(export),
    )
    transaction.on_commit(lambda: audit_export_step(export.pk))
    return export


def audit_export_resume(*, export: AuditExport) -> AuditExportFile:
    """Start a stalled export's task again, from where its last finished step stopped."""
    return step_task_resume(
        AuditExportFile,
        export.pk,
        stalled=lambda file: file.stalled,
        progressed_field="progressed_at",
        step=audit_export_step,
        refused=ExportNotResumable,
        what="audit export",
    )


def _audit_export_steps(export_id: int) -> None:
    # A task is not a request: nothing else recycles a broken or old connection (never
    # inside a transaction: a call in-process may run in one).
    if not transaction.get_connection().in_atomic_block:
        close_old_connections()
    if audit_export_advance(export_id=export_id):
        audit_export_step(export_id)


def audit_export_step(export_id: int) -> None:
    """Run the export's steps as a Zappa task: one step, then the next (a new invocation on
    Lambda, a plain call elsewhere) until the file is written. zappa.asynchronous is
    imported here, not with this module (it creates boto3 clients every cold start would
    pay for: scores.services.profile_imports)."""
    from zappa.asynchronous import task

    task(_audit_export_steps)(export_id)


def audit_export_advance(*, export_id: int) -> bool:
    """Write one step of the export; True if another step is needed."""
    file = AuditExportFile.objects.select_related("export").get(pk=export_id)
    if not file.running:
        return False
    steps_before = file.steps
    AuditExportFile.objects.filter(pk=export_id).update(progressed_at=timezone.now())
    try:
        rows = _rows(file)
    except (signing.BadSignature, pickle.UnpicklingError, AttributeError, ImportError):
        logger.exception("audit export %s: its query could not be read back", export_id)
        return _failed(file, gettext_noop("the export's query could not be read back"))
    with translation.override(file.language):
        data, count, last, finished = _step_bytes(file, rows)
    to_write, pending = _part_bytes(file, data, finished=finished)
    try:
        part = None if to_write is None else _write(file, to_write)
    except (OSError, BotoCoreError, ClientError):
        logger.exception("audit export %s: the file could not be written", export_id)
        return _failed(file, gettext_noop("the file could not be written"))
    with transaction.atomic():
        locked = AuditExportFile.objects.select_for_update().get(pk=export_id)
        if locked.steps != steps_before or not locked.running:
            return False  # another invocation ran this step (a retry)
        locked.steps += 1
        locked.progressed_at = timezone.now()
        locked.rows_written += count
        locked.bytes_written += len(data)
        locked.pending = pending
        if part is not None:
            locked.parts = [*locked.parts, part]
        if last is not None:
            locked.after_time, locked.after_id = last.occurred_at, last.pk
        if finished:
            try:
                _complete(locked)
            except (BotoCoreError, ClientError):
                logger.exception("audit export %s: the file could not be completed", export_id)
                locked.status = AuditExportFile.Status.FAILED
                locked.failure = gettext_noop("the file could not be completed")
            else:
                locked.status = AuditExportFile.Status.DONE
            locked.finished_at = timezone.now()
        locked.save()
    logger.info(
        "audit export %s: step %d, %d rows of %d written",
        export_id,
        locked.steps,
        locked.rows_written,
        file.export.row_count,
    )
    return not finished


def _failed(file: AuditExportFile, message: str) -> bool:
    AuditExportFile.objects.filter(pk=file.pk).update(
        status=AuditExportFile.Status.FAILED, failure=message, finished_at=timezone.now()
    )
    return False


def _rows(file: AuditExportFile) -> QuerySet[Consultation]:
    """The rows the auditor asked for, rebuilt from the signed query (a row, or a query
    replaced in the database without the secret key, is refused before unpickling)."""
    query = signing.loads(file.query, salt=_SIGNING_SALT)
    rows = Consultation.objects.all()
    rows.query = pickle.loads(base64.b64decode(query))  # noqa: S301 (signed by us)
    return rows


def _step_bytes(
    file: AuditExportFile, rows: QuerySet[Consultation]
) -> tuple[bytes, int, Cursor | None, bool]:
    """The CSV lines of one step, from where the last step stopped: until the step's time
    or size is spent, or the rows end. (bytes, rows, the last row's position, finished)."""
    deadline = time.monotonic() + settings.AUDIT_EXPORT_STEP_SECONDS
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter())
    if file.steps == 0:
        out.write(BYTE_ORDER_MARK)
        writer.writerow([csv_cell(title) for title in _header()])
    labels = _labels()
    position = None
    if file.after_time is not None and file.after_id is not None:
        position = Cursor(file.after_time, file.after_id)
    ordered = rows.order_by(*NEWEST_FIRST)
    count, size = 0, 0
    while True:
        chunk = ordered if position is None else ordered.filter(position.older())
        found = list(chunk.values_list("pk", *_FIELDS)[:_CHUNK_ROWS])
        for _pk, *values in found:
            writer.writerow([csv_cell(value) for value in _cells(values, labels)])
        count += len(found)
        if found:
            position = Cursor(found[-1][1], found[-1][0])
        size = out.tell()  # characters: bytes are at least as many
        if len(found) < _CHUNK_ROWS:
            return out.getvalue().encode("utf-8"), count, position, True
        if size >= settings.AUDIT_EXPORT_STEP_BYTES or time.monotonic() >= deadline:
            data = out.getvalue().encode("utf-8")
            return data, count, position, False


def _header() -> list[str]:
    return [
        f"{field_label(Consultation, 'occurred_at')} ({settings.TIME_ZONE})",
        field_label(Consultation, "request_id"),
        field_label(Consultation, "organization"),
        field_label(Consultation, "api_key"),
        str(capfirst(gettext("presented key prefix"))),
        field_label(Consultation, "client_ip"),
        field_label(Consultation, "endpoint"),
        field_label(Consultation, "purpose"),
        field_label(Consultation, "cpf_masked"),
        field_label(Consultation, "outcome"),
        field_label(Consultation, "http_status"),
        field_label(Consultation, "score"),
        field_label(Consultation, "band"),
        field_label(Consultation, "model_version"),
        field_label(Consultation, "source"),
        field_label(Consultation, "latency_ms"),
    ]


def _labels() -> dict[str, dict[Any, str]]:
    return {
        name: {value: str(label) for value, label in model_field(Consultation, name).flatchoices}
        for name in ("endpoint", "purpose", "outcome", "band", "source")
    }


def _cells(values: Sequence[Any], labels: dict[str, dict[Any, str]]) -> list[Any]:
    (
        occurred_at,
        request_id,
        organization,
        api_key,
        prefix,
        client_ip,
        endpoint,
        purpose,
        cpf_masked,
        outcome,
        http_status,
        score,
        band,
        model_version,
        source,
        latency_ms,
    ) = values
    return [
        csv_time(occurred_at),
        request_id,
        organization or "",
        api_key or "",
        "" if api_key else prefix,
        client_ip or "",
        labels["endpoint"].get(endpoint, endpoint),
        labels["purpose"].get(purpose, purpose),
        cpf_masked,
        labels["outcome"].get(outcome, outcome),
        http_status,
        "" if score is None else score,
        labels["band"].get(band, band),
        model_version,
        labels["source"].get(source, source),
        latency_ms,
    ]


# ---------------------------------------------------------------------------------------
# Where the file is written
# ---------------------------------------------------------------------------------------
def _location(export: AuditExport) -> str:
    name = f"{EXPORTS_PREFIX}{export.pk}.csv"
    if settings.OPERATIONS_BUCKET:
        return f"{_S3_SCHEME}{settings.OPERATIONS_BUCKET}/{name}"
    return str(Path(settings.MEDIA_ROOT) / name)


def _s3_object(location: str) -> tuple[str, str]:
    bucket, _slash, key = location.removeprefix(_S3_SCHEME).partition("/")
    return bucket, key


def _part_bytes(
    file: AuditExportFile, data: bytes, *, finished: bool
) -> tuple[bytes | None, bytes]:
    """What this step writes (None: nothing yet) and what waits for the next step. In a
    bucket every part but the last is S3_MIN_PART_BYTES at least: a step cut short by its
    time (a narrow filter over a large trail) leaves its bytes for the next step's part."""
    if not file.location.startswith(_S3_SCHEME):
        return data, b""
    waiting = bytes(file.pending) + data
    if not finished and len(waiting) < S3_MIN_PART_BYTES:
        return None, waiting
    return waiting, b""


def _write(file: AuditExportFile, data: bytes) -> list[Any] | None:
    """Write one step's bytes where the file goes; the part written ([number, ETag]) in a
    bucket. Writing a step again (a retry after a step was cut) replaces what it wrote."""
    if not file.location.startswith(_S3_SCHEME):
        path = Path(file.location)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with path.open("r+b" if path.exists() else "wb") as out:
            out.seek(file.bytes_written)
            out.truncate()
            out.write(data)
        path.chmod(0o600)
        return None
    bucket, key = _s3_object(file.location)
    s3 = aws_clients.s3()
    if not file.upload_id:
        upload = s3.create_multipart_upload(
            Bucket=bucket, Key=key, ContentType="text/csv; charset=utf-8"
        )
        AuditExportFile.objects.filter(pk=file.pk).update(upload_id=upload["UploadId"])
        file.upload_id = upload["UploadId"]
    number = len(file.parts) + 1
    answer = s3.upload_part(
        Bucket=bucket, Key=key, UploadId=file.upload_id, PartNumber=number, Body=data
    )
    return [number, answer["ETag"]]


def _complete(file: AuditExportFile) -> None:
    if not file.location.startswith(_S3_SCHEME):
        return
    bucket, key = _s3_object(file.location)
    aws_clients.s3().complete_multipart_upload(
        Bucket=bucket,
        Key=key,
        UploadId=file.upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in file.parts]},
    )


# ---------------------------------------------------------------------------------------
# Downloading
# ---------------------------------------------------------------------------------------
@transaction.atomic
def audit_export_download(*, export: AuditExport, actor: User) -> DownloadLink:
    """Record a download of a finished export, and where to fetch it: a presigned link
    that lasts AUDIT_EXPORT_LINK_SECONDS (the bucket), or the local file."""
    file = AuditExportFile.objects.filter(export=export).first()
    if file is None or file.status != AuditExportFile.Status.DONE:
        raise ExportNotReady()
    AuditExportDownload.objects.create(export=export, actor=actor, actor_name=actor.get_username())
    if file.location.startswith(_S3_SCHEME):
        bucket, key = _s3_object(file.location)
        url = aws_clients.s3().generate_presigned_url(
            "get_object",
            Params={
                "Bucket": bucket,
                "Key": key,
                "ResponseContentDisposition": f'attachment; filename="{file.file_name}"',
                "ResponseContentType": "text/csv; charset=utf-8",
            },
            ExpiresIn=settings.AUDIT_EXPORT_LINK_SECONDS,
        )
        return DownloadLink(url=url, path=None, file_name=file.file_name)
    return DownloadLink(url=None, path=Path(file.location), file_name=file.file_name)

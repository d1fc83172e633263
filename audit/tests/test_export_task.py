"""An export's task: the CSV written in steps to the operations bucket (moto's S3) or under
MEDIA_ROOT, each row once and newest first whatever the steps, resumed after a step was
cut, its query refused if it was changed in the database."""

from __future__ import annotations

import csv
import io
import time
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.contrib.auth.models import User

from audit.exceptions import ExportNotReady, ExportNotResumable
from audit.models import AuditExport, AuditExportDownload, AuditExportFile
from audit.services import exports
from audit.services.exports import (
    audit_export_advance,
    audit_export_download,
    audit_export_resume,
    audit_export_start,
)
from scores.constants import Endpoint
from scores.models import Consultation

START = datetime(2026, 11, 20, 12, tzinfo=UTC)


@pytest.fixture
def auditor_user(db):
    return User.objects.create_user("exporter", is_staff=True)


def rows(count):
    Consultation.objects.bulk_create(
        Consultation(
            occurred_at=START - timedelta(seconds=n),
            request_id=uuid.uuid4(),
            endpoint=Endpoint.SCORE,
            outcome="invalid_cpf",
            cpf_masked="=1+1" if n == 0 else "***.444.777-**",
            http_status=400,
            latency_ms=n,
        )
        for n in range(count)
    )


def started(actor):
    return audit_export_start(
        actor=actor, rows=Consultation.objects.all(), filters={}, searched=None
    )


def read(actor, export):
    link = audit_export_download(export=export, actor=actor)
    if link.url:
        with urllib.request.urlopen(link.url) as answer:  # noqa: S310 (the local S3)
            body = answer.read()
    else:
        assert link.path is not None
        body = link.path.read_bytes()
    text = body.decode("utf-8")
    assert text.startswith("\ufeff")
    header, *lines = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    return header, lines


def steps_to_the_end(export):
    steps = 0
    while audit_export_advance(export_id=export.pk):
        steps += 1
    return steps + 1


@pytest.fixture
def small_steps(monkeypatch, settings):
    """Steps of two rows: a step ends at its first chunk past its (one-byte) size."""
    monkeypatch.setattr(exports, "_CHUNK_ROWS", 2)
    settings.AUDIT_EXPORT_STEP_BYTES = 1


def test_if_an_export_runs_in_steps_then_its_file_has_every_row_once_newest_first(
    auditor_user, small_steps, settings
):
    rows(7)
    export = started(auditor_user)  # not committed in this test: its task waits

    assert steps_to_the_end(export) == 4
    header, lines = read(auditor_user, export)

    assert header[0] == "Horário (America/Sao_Paulo)"
    assert [int(line[-1]) for line in lines] == list(range(7))
    assert lines[0][8] == "'=1+1"  # never read as a formula
    file = AuditExportFile.objects.get(pk=export.pk)
    assert (file.status, file.rows_written, file.steps) == ("done", 7, 4)
    assert AuditExportDownload.objects.get().actor == auditor_user


def test_if_a_step_is_cut_after_writing_then_the_resumed_task_writes_its_rows_once(
    auditor_user, small_steps, django_capture_on_commit_callbacks
):
    rows(7)
    export = started(auditor_user)
    audit_export_advance(export_id=export.pk)
    after_one_step = AuditExportFile.objects.filter(pk=export.pk).values().get()
    audit_export_advance(export_id=export.pk)
    # The second step wrote its rows, and its invocation ended before it saved where it
    # stopped (Lambda's timeout, a crash): the record is as the first step left it.
    AuditExportFile.objects.filter(pk=export.pk).update(**after_one_step)

    with (
        time_machine.travel(datetime.now(UTC) + timedelta(minutes=3)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        audit_export_resume(export=export)

    _, lines = read(auditor_user, export)
    assert [int(line[-1]) for line in lines] == list(range(7))
    assert AuditExportFile.objects.get(pk=export.pk).rows_written == 7


def test_if_an_export_still_progresses_then_it_is_not_resumed(auditor_user, small_steps):
    rows(3)
    export = started(auditor_user)

    with pytest.raises(ExportNotResumable):
        audit_export_resume(export=export)


def test_if_the_export_goes_to_the_bucket_then_it_is_a_multipart_upload_read_by_a_link(
    auditor_user, operations_bucket, settings
):
    settings.AUDIT_EXPORT_STEP_BYTES = 5 * 1024 * 1024  # S3's smallest part but the last
    rows(50_000)
    export = started(auditor_user)

    steps = steps_to_the_end(export)
    _, lines = read(auditor_user, export)

    file = AuditExportFile.objects.get(pk=export.pk)
    assert file.location == f"s3://{operations_bucket}/exports/{export.pk}.csv"
    assert steps == len(file.parts) >= 2
    assert len(lines) == 50_000
    assert [int(line[-1]) for line in lines[:3]] == [0, 1, 2]
    link = audit_export_download(export=export, actor=auditor_user).url
    assert link is not None
    query = parse_qs(urlsplit(link).query)
    # Signature version 4 says how long; version 2 (botocore's default for this endpoint) when.
    lasts = (
        int(query["X-Amz-Expires"][0])
        if "X-Amz-Expires" in query
        else int(query["Expires"][0]) - time.time()
    )
    assert 240 < lasts <= 300
    assert AuditExportDownload.objects.count() == 2


def test_if_an_export_s_query_was_changed_in_the_database_then_the_task_refuses_it(
    auditor_user, small_steps
):
    rows(3)
    export = started(auditor_user)
    AuditExportFile.objects.filter(pk=export.pk).update(query="forged:query")

    assert audit_export_advance(export_id=export.pk) is False

    file = AuditExportFile.objects.get(pk=export.pk)
    assert (file.status, file.failure) == ("failed", "the export's query could not be read back")
    with pytest.raises(ExportNotReady):
        audit_export_download(export=AuditExport.objects.get(), actor=auditor_user)


def test_if_steps_are_shorter_than_s3_s_smallest_part_then_their_bytes_wait_for_one_part(
    auditor_user, operations_bucket, small_steps
):
    """Each step's bytes are far below S3's 5 MiB (a narrow filter, steps cut by time):
    uploaded as parts, the bucket would refuse to complete the file (EntityTooSmall)."""
    rows(7)
    export = started(auditor_user)

    assert steps_to_the_end(export) == 4
    _, lines = read(auditor_user, export)

    assert [int(line[-1]) for line in lines] == list(range(7))
    file = AuditExportFile.objects.get(pk=export.pk)
    assert (file.status, len(file.parts), bytes(file.pending)) == ("done", 1, b"")


def test_if_the_bucket_refuses_to_complete_the_file_then_the_export_fails_and_says_so(
    auditor_user, operations_bucket, small_steps, monkeypatch
):
    rows(7)
    export = started(auditor_user)
    # Every step its own part of a few bytes, as before the bytes waited: S3 (and moto)
    # refuse to complete a file whose parts but the last are under 5 MiB.
    monkeypatch.setattr(exports, "S3_MIN_PART_BYTES", 1)

    steps_to_the_end(export)

    file = AuditExportFile.objects.get(pk=export.pk)
    assert (file.status, file.failure) == ("failed", "the file could not be completed")
    assert len(file.parts) == 4
    with pytest.raises(ExportNotReady):
        audit_export_download(export=AuditExport.objects.get(), actor=auditor_user)

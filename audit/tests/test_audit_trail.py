"""The audit table is append-only in Postgres itself; prune_audit is the one way out.

Run as the schema's owner, who holds every privilege on these tables: the triggers are the
second line, behind the serving role's grants (scoreportal/tests/test_database_roles.py).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from audit.models import CpfReportRun
from audit.retention import AUDIT_RETENTION_MIN_DAYS
from scores.constants import Endpoint
from scores.models import Consultation

pytestmark = pytest.mark.django_db


def consultation(age_days=0):
    return Consultation.objects.create(
        occurred_at=timezone.now() - timedelta(days=age_days),
        request_id=uuid.uuid4(),
        endpoint=Endpoint.SCORE,
        outcome="invalid_cpf",
        http_status=400,
        latency_ms=3,
    )


def execute(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_if_an_audit_row_is_updated_then_postgres_refuses(connected_as_owner):
    row = consultation()

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Consultation.objects.filter(pk=row.pk).update(http_status=200)

    row.refresh_from_db()
    assert row.http_status == 400


def test_if_an_audit_row_is_deleted_then_postgres_refuses(connected_as_owner):
    row = consultation(age_days=400)

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Consultation.objects.filter(pk=row.pk).delete()

    assert Consultation.objects.filter(pk=row.pk).exists()


@pytest.mark.django_db(transaction=True)  # committed rows: no pending FK trigger events
@pytest.mark.parametrize(
    "session_settings",
    [
        pytest.param([], id="plain"),
        # The test suite's old escape hatch (scores/migrations/0005 removed it).
        pytest.param(["SET LOCAL scoreportal.allow_audit_truncate = 'on'"], id="old-switch"),
        pytest.param(["SET LOCAL scoreportal.audit_prune = 'on'"], id="prune-switch"),
    ],
)
def test_if_the_audit_table_is_truncated_then_postgres_refuses(
    connected_as_owner, session_settings
):
    consultation()

    with transaction.atomic():
        for statement in session_settings:
            execute(statement)
        with pytest.raises(DatabaseError, match="append-only"):
            execute("TRUNCATE scores_consultation")

    assert Consultation.objects.count() == 1


@pytest.mark.parametrize(
    "age_days", [0, 30, AUDIT_RETENTION_MIN_DAYS - 1], ids=lambda days: f"{days}-days-old"
)
def test_if_the_prune_flag_is_set_by_hand_then_young_rows_still_cannot_be_deleted(
    connected_as_owner, age_days
):
    row = consultation(age_days=age_days)

    with transaction.atomic():
        execute("SET LOCAL scoreportal.audit_prune = 'on'")
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            execute("DELETE FROM scores_consultation WHERE id = %s", [row.pk])

    assert Consultation.objects.filter(pk=row.pk).exists()


def test_if_the_prune_flag_is_set_and_a_row_is_past_the_floor_then_postgres_lets_it_go(
    connected_as_owner,
):
    row = consultation(age_days=AUDIT_RETENTION_MIN_DAYS + 1)

    with transaction.atomic():
        execute("SET LOCAL scoreportal.audit_prune = 'on'")
        execute("DELETE FROM scores_consultation WHERE id = %s", [row.pk])

    assert not Consultation.objects.filter(pk=row.pk).exists()


def test_if_prune_audit_runs_then_only_rows_past_retention_go(connected_as_owner, settings):
    settings.AUDIT_RETENTION_DAYS = 365
    old = [consultation(age_days=400) for _ in range(5)]
    young = [consultation(age_days=days) for days in (0, 200, 364)]
    out = StringIO()

    call_command("prune_audit", "--batch-size", "2", stdout=out)

    remaining = set(Consultation.objects.values_list("pk", flat=True))
    assert remaining == {row.pk for row in young}
    assert not remaining & {row.pk for row in old}
    assert "Deleted 5 audit rows" in out.getvalue()


def test_if_prune_audit_is_a_dry_run_then_it_counts_and_deletes_nothing(connected_as_owner):
    consultation(age_days=3000)
    out = StringIO()

    call_command("prune_audit", "--dry-run", stdout=out)

    assert Consultation.objects.count() == 1
    assert "1 audit rows older than" in out.getvalue()


def test_if_prune_audit_is_asked_for_less_than_six_months_then_it_refuses(connected_as_owner):
    consultation(age_days=100)

    with pytest.raises(CommandError, match=f"at least {AUDIT_RETENTION_MIN_DAYS} days"):
        call_command("prune_audit", "--days", "90", stdout=StringIO())

    assert Consultation.objects.count() == 1


def test_if_rows_are_inserted_then_postgres_allows_it(db):
    consultation()
    consultation()

    assert Consultation.objects.count() == 2


def test_if_prune_has_no_time_left_then_it_stops_between_batches_and_says_so(
    connected_as_owner, settings
):
    settings.AUDIT_RETENTION_DAYS = 365
    for _ in range(3):
        consultation(age_days=400)
    out = StringIO()

    call_command("prune_audit", "--max-seconds", "0", stdout=out)

    assert Consultation.objects.count() == 3
    assert "3 remain; the next run continues." in out.getvalue()


def test_if_the_scheduled_lambda_task_runs_then_old_rows_go(connected_as_owner, settings):
    from scoreportal.lambda_tasks import prune_audit

    settings.AUDIT_RETENTION_DAYS = 365
    consultation(age_days=400)
    young = consultation(age_days=10)

    prune_audit({"source": "aws.events"}, None)

    assert list(Consultation.objects.values_list("pk", flat=True)) == [young.pk]


# ---------------------------------------------------------------------------------------
# The records of exports and of per-CPF report runs are audit data too
# ---------------------------------------------------------------------------------------
@pytest.fixture
def access_records(admin_user):
    from audit.services.records import audit_export_record, cpf_report_record
    from scores.core.cpf import Cpf

    export = audit_export_record(
        actor=admin_user, filters={"outcome__exact": ["scored"]}, row_count=3
    )
    run = cpf_report_record(
        actor=admin_user,
        cpf=Cpf.parse("529.982.247-25"),
        period_start=timezone.localdate(),
        period_end=timezone.localdate(),
        output=CpfReportRun.Output.PAGE,
        row_count=0,
    )
    return {"scores_auditexport": export, "scores_cpfreportrun": run}


@pytest.mark.parametrize("table", ["scores_auditexport", "scores_cpfreportrun"])
@pytest.mark.parametrize(
    "statement",
    [
        pytest.param("UPDATE {table} SET row_count = 99 WHERE id = %s", id="update"),
        pytest.param("DELETE FROM {table} WHERE id = %s", id="delete"),
    ],
)
def test_if_an_access_record_is_changed_or_deleted_then_postgres_refuses(
    connected_as_owner, access_records, table, statement
):
    record = access_records[table]

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        execute(statement.format(table=table), [record.pk])

    assert type(record).objects.get(pk=record.pk).row_count == record.row_count


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("table", ["scores_auditexport", "scores_cpfreportrun"])
def test_if_an_access_records_table_is_truncated_then_postgres_refuses(
    connected_as_owner, access_records, table
):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        execute(f"TRUNCATE {table}")

    assert type(access_records[table]).objects.count() == 1


def test_if_prune_audit_runs_then_old_records_of_exports_and_reports_go_too(
    connected_as_owner, settings, admin_user
):
    import time_machine

    from audit.models import AuditExport
    from audit.services.records import audit_export_record, cpf_report_record
    from scores.core.cpf import Cpf

    settings.AUDIT_RETENTION_DAYS = 365
    with time_machine.travel(timezone.now() - timedelta(days=400)):
        audit_export_record(actor=admin_user, filters={}, row_count=1)
        cpf_report_record(
            actor=admin_user,
            cpf=Cpf.parse("529.982.247-25"),
            period_start=timezone.localdate(),
            period_end=timezone.localdate(),
            output=CpfReportRun.Output.PAGE,
            row_count=0,
        )
    young = audit_export_record(actor=admin_user, filters={}, row_count=2)
    out = StringIO()

    call_command("prune_audit", stdout=out)

    assert list(AuditExport.objects.all()) == [young]
    assert not CpfReportRun.objects.exists()
    assert "Deleted 2 audit rows" in out.getvalue()


def test_if_prune_audit_runs_then_shadow_scores_past_retention_go_too(connected_as_owner, settings):
    import time_machine

    from scores.models import ShadowScore

    def shadow() -> ShadowScore:
        return ShadowScore.objects.create(
            champion_version="2026.2",
            champion_score=700,
            champion_band="good",
            challenger_version="2026.1",
            challenger_score=650,
            challenger_band="good",
        )

    settings.AUDIT_RETENTION_DAYS = 365
    with time_machine.travel(timezone.now() - timedelta(days=400)):
        old = [shadow() for _ in range(3)]
    with time_machine.travel(timezone.now() - timedelta(days=364)):
        kept = shadow()
    young = shadow()
    dry = StringIO()
    call_command("prune_audit", "--dry-run", stdout=dry)
    out = StringIO()

    call_command("prune_audit", "--batch-size", "2", stdout=out)

    assert "Dry run: 3 audit rows" in dry.getvalue()
    assert set(ShadowScore.objects.all()) == {kept, young}
    assert not set(ShadowScore.objects.all()) & set(old)
    assert "Deleted 3 audit rows" in out.getvalue()

"""The audit trail's monthly partitions (Postgres): created ahead by the partitioning
manager, dropped whole past retention, append-only each, the serving role's grants on each,
and the conversion of a trail that was one table (docs/audit.md, docs/deploy.md).

Run as the schema's owner, as the ops function runs these. Months are made in 2031 and later
under time travel, so the suite's own rows (today's) never meet them; each test drops what it
made.
"""

from __future__ import annotations

import importlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from io import StringIO

import pytest
import time_machine
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from audit.selectors import UNPARTITIONED_TABLE, conversion_pending
from audit.services.partitions import consultation_partitions_create, consultation_trail_convert
from scores.constants import Endpoint
from scores.models import Consultation

pytestmark = pytest.mark.django_db

MIGRATION = importlib.import_module("scores.migrations.0016_consultation_partitioned_by_month")
BEFORE = [("scores", "0015_import_seen_cpfs_scratch")]


def at(year, month, day=1):
    return datetime(year, month, day, 12, tzinfo=UTC)


def sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


def months():
    return [
        name
        for (name,) in sql(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'scores_consultation'::regclass ORDER BY 1"
        )
    ]


def row(occurred_at, latency_ms=3):
    return Consultation.objects.create(
        occurred_at=occurred_at,
        request_id=uuid.uuid4(),
        endpoint=Endpoint.SCORE,
        outcome="invalid_cpf",
        http_status=400,
        latency_ms=latency_ms,
    )


@pytest.fixture
def future_months(connected_as_owner) -> Iterator[None]:
    """Whatever months of 2031 on a test makes are dropped after it."""
    yield
    for name in months():
        if name[-7:-3].isdigit() and name[-7:-3] >= "2031":
            sql(f"DROP TABLE {name}")


def test_if_the_partitions_are_kept_then_this_month_and_the_next_two_exist_ahead(
    future_months,
):
    with time_machine.travel(at(2031, 3, 10), tick=False):
        created = consultation_partitions_create()
        again = consultation_partitions_create()

    assert created == [
        "scores_consultation_2031_03",
        "scores_consultation_2031_04",
        "scores_consultation_2031_05",
    ]
    assert again == []
    assert set(created) <= set(months())
    [(bounds,)] = sql(
        "SELECT pg_get_expr(relpartbound, oid) FROM pg_class"
        " WHERE relname = 'scores_consultation_2031_04'"
    )
    assert bounds == "FOR VALUES FROM ('2031-04-01 00:00:00+00') TO ('2031-05-01 00:00:00+00')"


def test_if_the_command_runs_then_it_names_the_months_it_created(future_months):
    out = StringIO()
    with time_machine.travel(at(2031, 7, 1), tick=False):
        call_command("audit_partitions", stdout=out)

    assert "scores_consultation_2031_07, scores_consultation_2031_08" in out.getvalue()


@pytest.mark.parametrize(
    ("retention_days", "today", "dropped", "kept"),
    [
        # 184 days before 2031-09-20 is 2031-03-20: January and February end before it,
        # March does not (its rows of the 21st on are younger).
        pytest.param(184, at(2031, 9, 20), ["01", "02"], ["03", "04"], id="six-months"),
        pytest.param(184, at(2031, 9, 1), ["01"], ["02", "03", "04"], id="a-month-not-yet-past"),
        pytest.param(365, at(2031, 9, 20), [], ["01", "02", "03", "04"], id="a-year"),
    ],
)
def test_if_retention_passes_then_whole_months_past_it_are_dropped_and_no_younger_row(
    future_months, settings, retention_days, today, dropped, kept
):
    settings.AUDIT_RETENTION_DAYS = retention_days
    with time_machine.travel(at(2031, 1, 15), tick=False):
        consultation_partitions_create()
    with time_machine.travel(at(2031, 2, 15), tick=False):
        consultation_partitions_create()
    rows = {month: row(at(2031, int(month), 28)) for month in ("01", "02", "03", "04")}

    with time_machine.travel(today, tick=False):
        call_command("prune_audit", stdout=StringIO())

    names = set(months())
    assert {f"scores_consultation_2031_{month}" for month in dropped}.isdisjoint(names)
    assert {f"scores_consultation_2031_{month}" for month in kept} <= names
    remaining = set(Consultation.objects.values_list("pk", flat=True))
    assert remaining == {rows[month].pk for month in kept}


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param("UPDATE {table} SET latency_ms = 0", id="update"),
        pytest.param("DELETE FROM {table}", id="delete"),
        pytest.param("TRUNCATE {table}", id="truncate"),
    ],
)
@pytest.mark.parametrize(
    "table",
    [
        pytest.param("scores_consultation_2031_03", id="a-month-made-ahead"),
        pytest.param("scores_consultation_default", id="the-default-partition"),
    ],
)
def test_if_a_partition_is_changed_directly_then_postgres_refuses_even_the_owner(
    future_months, statement, table
):
    with time_machine.travel(at(2031, 3, 10), tick=False):
        consultation_partitions_create()
    row(at(2031, 3, 11))
    row(at(1999, 1, 1))

    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        sql(statement.format(table=table))

    assert Consultation.objects.count() == 2


def test_if_the_serving_role_is_granted_then_a_new_month_is_read_and_written_only(
    future_months, database_roles
):
    with time_machine.travel(at(2031, 3, 10), tick=False):
        consultation_partitions_create()
    call_command("grant_serving_role", "--role", database_roles.serving["USER"], stdout=StringIO())

    granted = {
        privilege
        for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")
        if sql(
            "SELECT has_table_privilege(%s, 'scores_consultation_2031_04', %s)",
            [database_roles.serving["USER"], privilege],
        )[0][0]
    }
    assert granted == {"SELECT", "INSERT"}


# ---------------------------------------------------------------------------------------
# A trail that was one table
# ---------------------------------------------------------------------------------------
def migrate_to(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()


def migrate_back_to_the_latest(role):
    """Every migration applied again, then the serving role's grants, as the deploy does
    after every migrate: tables the way back dropped come back with the least rights."""
    migrate_to(None)
    call_command("grant_serving_role", "--role", role, stdout=StringIO())


def old_rows(count):
    """Rows as the unpartitioned schema held them, one a day back from 2026-11-30."""
    sql(
        "INSERT INTO scores_consultation (occurred_at, request_id, api_key_prefix, endpoint,"
        " purpose, cpf_hash, cpf_masked, outcome, http_status, band, model_version, source,"
        " latency_ms) SELECT timestamptz '2026-11-30 12:00+00' - n * interval '1 day',"
        " gen_random_uuid(), '', 'score', '', '', '', 'invalid_cpf', 400, '', '', '', n"
        " FROM generate_series(1, %s) AS n",
        [count],
    )
    return dict(sql("SELECT latency_ms, occurred_at FROM scores_consultation"))


def trail():
    return dict(Consultation.objects.values_list("latency_ms", "occurred_at"))


def test_if_a_small_trail_is_migrated_then_its_rows_are_in_their_months_at_once(
    connected_as_owner, database_roles
):
    try:
        migrate_to(BEFORE)
        before = old_rows(40)

        migrate_to(None)

        assert trail() == before
        assert not conversion_pending()
        [(in_months,)] = sql("SELECT count(*) FROM ONLY scores_consultation_2026_11")
        assert in_months == 29  # 1 to 29 days before November 30th
    finally:
        migrate_back_to_the_latest(database_roles.serving["USER"])


def test_if_a_large_trail_is_converted_in_batches_while_rows_arrive_then_none_is_lost(
    connected_as_owner, monkeypatch, database_roles
):
    monkeypatch.setattr(MIGRATION, "COPY_IN_MIGRATION_MAX_ROWS", 10)
    try:
        migrate_to(BEFORE)
        before = old_rows(45)
        old_ids = {id_ for (id_,) in sql("SELECT id FROM scores_consultation")}

        migrate_to(None)
        assert conversion_pending()
        assert trail() == {}
        served = row(at(2026, 12, 1), latency_ms=1000)  # the service writes meanwhile

        first = consultation_trail_convert(batch_size=20, max_batches=1)
        between = row(at(2026, 12, 2), latency_ms=1001)
        out = StringIO()
        call_command("convert_audit_trail", "--batch-size", "20", stdout=out)

        assert (first.copied, first.done) == (20, False)
        # Newest first: the first batch is the 20 most recent days.
        assert "Copied 25 audit rows" in out.getvalue()
        assert "The audit trail is partitioned" in out.getvalue()
        assert trail() == {
            **before,
            1000: served.occurred_at,
            1001: between.occurred_at,
        }
        assert old_ids <= set(Consultation.objects.values_list("pk", flat=True))
        assert served.pk > max(old_ids)
        assert sql("SELECT to_regclass(%s)", [UNPARTITIONED_TABLE]) == [(None,)]
    finally:
        migrate_back_to_the_latest(database_roles.serving["USER"])
        consultation_trail_convert()


def test_if_a_conversion_is_unfinished_then_prune_audit_drops_no_month(
    connected_as_owner, monkeypatch, settings, database_roles
):
    monkeypatch.setattr(MIGRATION, "COPY_IN_MIGRATION_MAX_ROWS", 0)
    try:
        migrate_to(BEFORE)
        old_rows(3)
        migrate_to(None)
        names = months()

        with time_machine.travel(at(2028, 1, 1), tick=False):
            call_command("prune_audit", stdout=StringIO())

        assert months() == names
    finally:
        migrate_back_to_the_latest(database_roles.serving["USER"])
        consultation_trail_convert()


def test_if_the_scheduled_lambda_task_runs_then_the_months_ahead_exist(future_months):
    from scoreportal.lambda_tasks import audit_partitions

    with time_machine.travel(at(2032, 5, 3), tick=False):
        audit_partitions({"source": "aws.events"}, None)

    assert {f"scores_consultation_2032_0{month}" for month in (5, 6, 7)} <= set(months())

"""The audit trail's monthly partitions (Postgres): created ahead, dropped past retention.

django-postgres-extra's partitioning manager plans and applies both (which months exist,
which to create, which it may drop: only those it marked as its own). Around it, what the
trail needs besides: each new month gets the append-only TRUNCATE trigger (the parent's
statement trigger does not fire for a TRUNCATE of one partition; the row triggers are
cloned by Postgres), and no month is dropped while any of its rows is younger than the
six-month floor, whatever the retention asked. Runs as the schema's owner (the ops
function): the serving role may create and drop nothing. docs/audit.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from django.db import connection, transaction
from django.utils import timezone

from audit.retention import AUDIT_RETENTION_MIN_DAYS
from audit.selectors import UNPARTITIONED_TABLE, conversion_pending, is_partitioned
from scores.models import Consultation

# The current month and the next two exist at any time: a missed daily run or two, even a
# month of them, never leaves a row without its partition.
MONTHS_AHEAD = 3
# Partitions are named by their month: scores_consultation_2026_12.
NAME_FORMAT = "%Y_%m"


@dataclass(frozen=True, slots=True)
class ConversionProgress:
    """What a run of convert_audit_trail did, and whether the conversion is over."""

    copied: int
    done: bool


def _manager(*, retention_days: int | None) -> Any:
    """The partitioning manager's configuration of the trail. Built on demand: the library's
    models can only be defined where its database backend is configured (Postgres)."""
    from django.apps.registry import Apps
    from django.db import models
    from psqlextra.models import PostgresPartitionedModel
    from psqlextra.partitioning import (
        PostgresCurrentTimePartitioningStrategy,
        PostgresPartitioningConfig,
        PostgresPartitioningManager,
        PostgresTimePartitionSize,
    )
    from psqlextra.types import PostgresPartitioningMethod

    class FromMidnight(PostgresCurrentTimePartitioningStrategy):
        """The library's months begin at the hour it runs (3.0.1 keeps the hour when it
        takes the first of the month; SectorLabs/django-postgres-extra issue 269, open):
        counted from midnight UTC, every run agrees."""

        def get_start_datetime(self) -> datetime:
            return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)

    class ConsultationMonths(PostgresPartitionedModel):
        """The trail's table as the manager sees it (the columns it partitions by); kept
        out of the project's models (its own registry, never migrated)."""

        occurred_at = models.DateTimeField()

        class Meta:
            apps = Apps()
            app_label = "audit"
            db_table = Consultation._meta.db_table
            managed = False

        class PartitioningMeta:
            method = PostgresPartitioningMethod.RANGE
            key = ["occurred_at"]

    # The manager drops a month once its *start* is older than max_age: a month more than
    # the retention, so that its end is too.
    max_age = None if retention_days is None else relativedelta(days=retention_days, months=1)
    strategy = FromMidnight(
        size=PostgresTimePartitionSize(months=1),
        count=MONTHS_AHEAD,
        max_age=max_age,
        name_format=NAME_FORMAT,
    )
    return PostgresPartitioningManager([PostgresPartitioningConfig(ConsultationMonths, strategy)])


def consultation_partitions_create(*, since: datetime | None = None) -> list[str]:
    """Create the months ahead that do not exist yet, and with `since` every month from
    its one on (a trail to be loaded with older rows: the benchmark's); the names created."""
    if not is_partitioned():
        return []
    from psqlextra.partitioning import PostgresTimePartition
    from psqlextra.partitioning.constants import AUTO_PARTITIONED_COMMENT
    from psqlextra.partitioning.time_partition_size import PostgresTimePartitionSize

    manager = _manager(retention_days=None)
    plan = manager.plan(skip_delete=True)
    [config] = manager.configs
    past = []
    if since is not None:
        size = PostgresTimePartitionSize(months=1)
        start = size.start(since.astimezone(UTC).replace(hour=0, minute=0, second=0))
        existing = set(_month_tables())
        first_ahead = size.start(datetime.now(UTC))
        while start < first_ahead:
            month = PostgresTimePartition(size=size, start_datetime=start, name_format=NAME_FORMAT)
            if _table(month.name()) not in existing:
                past.append(month)
            start += size.as_delta()
    names = [_table(partition.name()) for partition in [*past, *plan.creations]]
    with transaction.atomic():
        if past:
            with connection.schema_editor() as schema_editor:
                for month in past:
                    # The backend's editor is the library's (settings: psqlextra.backend).
                    month.create(
                        config.model,
                        schema_editor,  # type: ignore[arg-type]
                        comment=AUTO_PARTITIONED_COMMENT,
                    )
        plan.apply()
        _guard_partitions()
    return names


def oldest_month_start() -> datetime | None:
    """Where the oldest month of the trail begins (None: no month); older rows are in the
    default partition."""
    names = _month_tables()
    if not names:
        return None
    year, month = names[0].rsplit("_", 2)[-2:]
    return datetime(int(year), int(month), 1, tzinfo=UTC)


def _month_tables() -> list[str]:
    table = Consultation._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = to_regclass(%s) AND c.relname ~ %s ORDER BY c.relname",
            [table, rf"^{table}_\d{{4}}_\d{{2}}$"],
        )
        return [name for (name,) in cursor.fetchall()]


def consultation_partitions_drop(*, retention_days: int) -> list[str]:
    """Drop the months whose every row is older than `retention_days` (at least the
    six-month floor); the names dropped. None while a conversion is unfinished: its rows
    may still be copied into them."""
    if retention_days < AUDIT_RETENTION_MIN_DAYS:
        raise ValueError(f"retention must be at least {AUDIT_RETENTION_MIN_DAYS} days")
    if not is_partitioned() or conversion_pending():
        return []
    plan = _manager(retention_days=retention_days).plan(skip_create=True)
    floor = timezone.now() - timedelta(days=AUDIT_RETENTION_MIN_DAYS)
    for partition in plan.deletions:
        # The library's arithmetic checked once more against the floor, which no
        # configuration may cross.
        end = datetime.strptime(partition.to_values, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        if end > floor:
            raise ValueError(f"{_table(partition.name())} holds rows younger than the floor")
    names = [_table(partition.name()) for partition in plan.deletions]
    plan.apply()
    return names


def _table(name: str) -> str:
    return f"{Consultation._meta.db_table}_{name}"


def _guard_partitions() -> None:
    """Give every partition of the trail that lacks it the TRUNCATE trigger."""
    table = Consultation._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = to_regclass(%s) AND NOT EXISTS (SELECT 1 FROM pg_trigger t"
            " WHERE t.tgrelid = c.oid AND t.tgname = %s)",
            [table, f"{table}_append_only_truncate"],
        )
        for (name,) in cursor.fetchall():
            cursor.execute(
                f'CREATE TRIGGER "{table}_append_only_truncate" BEFORE TRUNCATE ON "{name}"'
                " FOR EACH STATEMENT EXECUTE FUNCTION scores_audit_append_only()"
            )


def consultation_trail_convert(
    *, batch_size: int = 10_000, max_seconds: float | None = None, max_batches: int | None = None
) -> ConversionProgress:
    """Copy the rows the partitioning migration left in the unpartitioned table into the
    partitioned trail, newest first (the auditors see the recent months back first), one
    committed batch at a time while the service writes; drop that table when it is empty
    of uncopied rows. Resumable: the lowest id already copied is where the next run goes
    on (new rows took ids above every old one, migration 0016).
    """
    if not conversion_pending():
        return ConversionProgress(copied=0, done=True)
    table = Consultation._meta.db_table
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    copied = 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT min(id) FROM {table}"  # noqa: S608 (our table names)
            f" WHERE id <= (SELECT max(id) FROM {UNPARTITIONED_TABLE})"
        )
        row = cursor.fetchone()
        below = row[0] if row and row[0] is not None else None
        if below is None:
            cursor.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {UNPARTITIONED_TABLE}")  # noqa: S608
            below = cursor.fetchone()[0]
    batches = 0
    while (deadline is None or time.monotonic() < deadline) and (
        max_batches is None or batches < max_batches
    ):
        batches += 1
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"WITH moved AS (INSERT INTO {table} SELECT * FROM {UNPARTITIONED_TABLE}"  # noqa: S608
                " WHERE id < %s ORDER BY id DESC LIMIT %s RETURNING id)"
                " SELECT count(*), min(id) FROM moved",
                [below, batch_size],
            )
            count, lowest = cursor.fetchone()
            if not count:
                cursor.execute(f"DROP TABLE {UNPARTITIONED_TABLE}")
                return ConversionProgress(copied=copied, done=True)
            copied += count
            below = lowest
    return ConversionProgress(copied=copied, done=False)

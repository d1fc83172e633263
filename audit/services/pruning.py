"""Removing audit rows past retention: the one sanctioned deletion of audit data."""

from __future__ import annotations

import time
from datetime import timedelta

from django.db import connection, models, transaction
from django.utils import timezone

from audit.exceptions import AuditPruneNotPermitted
from audit.models import AuditExport, AuditExportDownload, CpfReportRun, UsageSummaryRefresh
from audit.retention import AUDIT_RETENTION_MIN_DAYS
from audit.selectors import is_partitioned
from audit.services.partitions import consultation_partitions_drop, oldest_month_start
from scores.models import Consultation, ShadowScore

# The append-only tables prune_audit may remove old rows from; and the challenger's shadow
# scores, recorded per request like the trail and kept as long (not append-only).
AUDIT_MODELS: tuple[type[models.Model], ...] = (
    Consultation,
    AuditExportDownload,
    AuditExport,
    CpfReportRun,
    UsageSummaryRefresh,
    ShadowScore,
)


def consultations_prune(
    *, retention_days: int, batch_size: int = 10_000, max_seconds: float | None = None
) -> int:
    """Delete audit rows older than `retention_days`: the one sanctioned deletion. Audit
    rows are consultations and the records of who read them (exports, per-CPF reports).

    Where the trail is partitioned by month (Postgres), its rows go a month at a time: each
    month whose every row is past retention is dropped whole (`consultation_partitions_drop`;
    a row may so stay up to a month past retention, never less than the retention); row by
    row go only the small tables of exports and reports, and the default partition's rows
    (of no month: none while the months ahead exist).

    Batches keep each transaction short; with `max_seconds` it stops between batches once
    that time is spent (a Lambda invocation has a hard limit), and the next run goes on.
    On Postgres only the schema's owner may delete audit rows (the serving role may read
    and insert them only: AuditPruneNotPermitted), and the append-only trigger lets a
    DELETE through only inside a transaction that set `scoreportal.audit_prune`, and only
    for rows older than AUDIT_RETENTION_MIN_DAYS (six months).
    """
    if retention_days < AUDIT_RETENTION_MIN_DAYS:
        raise ValueError(f"retention must be at least {AUDIT_RETENTION_MIN_DAYS} days")
    _check_may_delete_audit_rows()
    cutoff = timezone.now() - timedelta(days=retention_days)
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    deleted = 0
    cutoffs = dict.fromkeys(AUDIT_MODELS, cutoff)
    if is_partitioned():
        consultation_partitions_drop(retention_days=retention_days)
        # What is left to delete row by row is in the default partition only: older than
        # every month (the planner then reads no month).
        oldest = oldest_month_start()
        if oldest is not None:
            cutoffs[Consultation] = min(cutoff, oldest)
    for model in AUDIT_MODELS:
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                return deleted
            with transaction.atomic():
                if connection.vendor == "postgresql":
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL scoreportal.audit_prune = 'on'")
                batch = list(
                    model._default_manager.filter(occurred_at__lt=cutoffs[model])
                    .order_by("occurred_at")
                    .values_list("pk", flat=True)[:batch_size]
                )
                if not batch:
                    break
                model._default_manager.filter(pk__in=batch).delete()
                deleted += len(batch)
    return deleted


def _check_may_delete_audit_rows() -> None:
    """Refuse at once, naming the role and the tables, rather than at the first batch with
    the database's bare "permission denied"."""
    if connection.vendor != "postgresql":
        return  # SQLite has no roles; its triggers still guard young rows
    tables = [model._meta.db_table for model in AUDIT_MODELS]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_user, name FROM unnest(%s::text[]) WITH ORDINALITY AS t(name, n)"
            " WHERE NOT has_table_privilege(name, 'DELETE') ORDER BY n",
            [tables],
        )
        refused = cursor.fetchall()
    if refused:
        role = refused[0][0]
        raise AuditPruneNotPermitted(
            f"prune_audit runs as the schema's owner (on AWS, the ops function): role {role} "
            f"has no DELETE privilege on {', '.join(table for _, table in refused)}."
        )

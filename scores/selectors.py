"""Reads of the scores app."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import QuerySet
from django.utils import timezone

from scores.models import Consultation, CreditProfile
from scores.scorecard import Scorecard, available_versions, load_scorecard


def active_scorecard() -> Scorecard:
    """The scorecard the API serves: SCORECARD_VERSION, or the newest one shipped."""
    return load_scorecard(settings.SCORECARD_VERSION or available_versions()[-1])


def credit_profile_get(*, cpf_hash: str) -> CreditProfile | None:
    try:
        return CreditProfile.objects.get(cpf_hash=cpf_hash)
    except CreditProfile.DoesNotExist:
        return None


def consultations_prunable_count(*, retention_days: int) -> int:
    """How many audit rows are older than `retention_days` (what prune_audit would remove)."""
    cutoff = timezone.now() - timedelta(days=retention_days)
    return Consultation.objects.filter(occurred_at__lt=cutoff).count()


@dataclass(frozen=True, slots=True)
class RowCount:
    """How many rows a query has: exactly, or the database's estimate when there are more
    than a page could ever show (`exact` False; `value` may then be None where the
    database gives no estimate)."""

    value: int | None
    exact: bool
    at_least: int = 0


def rows_counted(queryset: QuerySet[Any], *, limit: int) -> RowCount:
    """Count exactly up to `limit` rows (a COUNT over at most limit + 1 of them); beyond,
    the planner's estimate: counting ten million audit rows would take seconds."""
    bounded = queryset.order_by().values("pk")[: limit + 1].count()
    if bounded <= limit:
        return RowCount(bounded, exact=True, at_least=bounded)
    return RowCount(planner_row_estimate(queryset), exact=False, at_least=limit)


def planner_row_estimate(queryset: QuerySet[Any]) -> int | None:
    """The rows Postgres's planner expects the query to return (EXPLAIN, nothing run);
    None on other databases."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    return int(plan[0]["Plan"]["Plan Rows"])

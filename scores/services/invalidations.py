"""Invalidating cached scores: the outbox of profile changes, and the whole cache at once.

Every write path records the changed CPFs in `PendingInvalidation` in the transaction of
the change; the rows are drained into tombstones after the commit, locked while they are
written so one CPF's tombstones come in version order. How and why: docs/architecture.md,
"Cache invalidation", and docs/credit-data.md, "The outbox".
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import islice

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from scoreportal.aws_clients import DynamoDBCallFailed
from scores.cache import score_cache
from scores.exceptions import ScoreCacheUnavailable
from scores.models import CreditProfile, PendingInvalidation

logger = logging.getLogger(__name__)

# Rows a drain locks, writes and deletes in one transaction: 20 BatchWriteItem calls.
DRAIN_BATCH_SIZE = 500


@dataclass
class DrainReport:
    """What a drain did: tombstones written (rows deleted), rows it could not write (left
    pending: DynamoDB failed), and whether it stopped on a failure."""

    drained: int = 0
    failed: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed


def invalidations_record(*, profile_versions: Mapping[str, int]) -> None:
    """Record that these profiles (cpf_hash -> new version) changed. Call it inside the
    transaction that changes them, with their rows locked: a CPF already pending gets the
    newer version."""
    if not profile_versions:
        return
    now = timezone.now()
    PendingInvalidation.objects.bulk_create(
        [
            PendingInvalidation(cpf_hash=cpf_hash, profile_version=version, recorded_at=now)
            for cpf_hash, version in profile_versions.items()
        ],
        update_conflicts=True,
        unique_fields=["cpf_hash"],
        update_fields=["profile_version", "recorded_at"],
    )


def invalidations_drain_on_commit(cpf_hash: str) -> None:
    """Drain this CPF's outbox row once the current transaction commits, with a web
    request's sub-second timeouts (a writer draining its own change); what fails stays
    pending for the schedule."""

    def drain() -> None:
        if not invalidations_drain(cpf_hashes=[cpf_hash], patient=False).ok:
            logger.warning("a changed profile's cached score stays pending invalidation")

    transaction.on_commit(drain)


def invalidations_drain(
    *,
    cpf_hashes: Iterable[str] | None = None,
    batch_size: int = DRAIN_BATCH_SIZE,
    max_seconds: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    patient: bool = True,
) -> DrainReport:
    """Write the tombstones of pending invalidations and delete their rows.

    All pending rows, or only those of `cpf_hashes` (a writer draining its own changes).
    Rows another drain holds are skipped (it writes them). Stops at the first DynamoDB
    failure (the rows stay pending; with `cpf_hashes`, all those not reached count as
    failed) and after `max_seconds`, between batches. `patient`: DynamoDB through the
    patient client (imports, the schedule, commands); a drain inside a web request passes
    False and gets the request path's sub-second timeouts.
    """
    report = DrainReport()
    started = clock()
    hashes = iter(cpf_hashes) if cpf_hashes is not None else None
    while max_seconds is None or clock() - started < max_seconds:
        wanted = list(islice(hashes, batch_size)) if hashes is not None else None
        if wanted is not None and not wanted:
            break
        written, failed = _drain_batch(wanted, batch_size, patient=patient)
        report.drained += written
        report.failed += failed
        if failed:
            if hashes is not None:
                report.failed += sum(1 for _ in hashes)
            break
        if wanted is None and not written:
            break
    return report


def _drain_batch(cpf_hashes: list[str] | None, limit: int, *, patient: bool) -> tuple[int, int]:
    with transaction.atomic():
        pending = PendingInvalidation.objects.select_for_update(skip_locked=True)
        if cpf_hashes is not None:
            pending = pending.filter(cpf_hash__in=cpf_hashes)
        rows = dict(pending.order_by().values_list("cpf_hash", "profile_version")[:limit])
        if not rows:
            return 0, 0
        failed = score_cache.invalidate_serialized(rows, patient=patient)
        if failed:
            # The batch is retried whole at the next drain: a tombstone written twice is
            # the same tombstone.
            logger.warning(
                "cached scores left pending invalidation: the score cache failed",
                extra={"fields": {"pending": len(rows)}},
            )
            return 0, len(rows)
        PendingInvalidation.objects.filter(cpf_hash__in=list(rows)).delete()
        return len(rows), 0


def invalidations_pending_count() -> int:
    """How many cached scores wait for their invalidation."""
    return PendingInvalidation.objects.count()


def scores_invalidate(
    *,
    cpf_hashes: Iterable[str] | None = None,
    profiles: QuerySet[CreditProfile] | None = None,
    patient: bool = True,
    max_seconds: float | None = None,
) -> DrainReport:
    """Invalidate the cached scores of these CPF hashes, or of these profiles (the admin's
    action on a selection), through the outbox: every one recorded first with its profile's
    current version (DRAIN_BATCH_SIZE a transaction), then drained, for at most
    `max_seconds`. What the drain did not reach stays pending (the schedule drains it) and
    counts as failed in the report. A CPF without a profile has no score to invalidate.
    A web request passes `patient=False` and a time budget.
    """
    if (cpf_hashes is None) == (profiles is None):
        raise TypeError("give cpf_hashes or profiles")
    hashes = iter(
        profiles.values_list("cpf_hash", flat=True).iterator(DRAIN_BATCH_SIZE)
        if profiles is not None
        else cpf_hashes or ()
    )
    recorded: list[str] = []
    while batch := list(islice(hashes, DRAIN_BATCH_SIZE)):
        with transaction.atomic():
            versions = dict(
                CreditProfile.objects.select_for_update()
                .filter(cpf_hash__in=batch)
                .order_by()
                .values_list("cpf_hash", "version")
            )
            invalidations_record(profile_versions=versions)
        recorded.extend(versions)
    report = invalidations_drain(cpf_hashes=recorded, patient=patient, max_seconds=max_seconds)
    report.failed = len(recorded) - report.drained
    return report


def scores_invalidate_all(*, patient: bool = True) -> int:
    """Make every cached score a miss at once (a new cache generation: one UpdateItem,
    whatever the table's size). Returns the new generation. Raises ScoreCacheUnavailable
    when the cache cannot be reached: nothing was invalidated. A web request passes
    `patient=False` (the request path's timeouts)."""
    try:
        generation = score_cache.invalidate_all(patient=patient)
    except DynamoDBCallFailed as exc:
        raise ScoreCacheUnavailable() from exc
    logger.info(
        "every cached score invalidated: new cache generation",
        extra={"fields": {"generation": generation}},
    )
    return generation

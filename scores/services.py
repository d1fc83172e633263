"""Writes and workflows of the scores app: serving a score, recording the audit trail,
importing credit profiles."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from itertools import islice
from typing import Any, TextIO

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from accounts.models import ApiKey
from scoreportal.api.errors import ApiError, ErrorCode
from scores import score_cache
from scores.constants import OUTCOME_SCORED, PROFILE_CHARACTERISTICS, Endpoint, ScoreSource
from scores.cpf import Cpf
from scores.models import Consultation, CreditProfile
from scores.profile_import import ProfileRow, RowError, read_profiles
from scores.scorecard import Reason
from scores.selectors import active_scorecard, credit_profile_get

logger = logging.getLogger(__name__)


# ==============================================================================
# Serving a score
# ==============================================================================
@dataclass(frozen=True, slots=True)
class ServedScore:
    """A score as the API answers it."""

    cpf: Cpf
    score: int
    band: str
    probability_of_default: Decimal
    reasons: tuple[Reason, ...]
    model_version: str
    computed_at: datetime
    source: ScoreSource


def score_get(*, cpf: Cpf) -> ServedScore:
    """The score of `cpf`: from the cache when it is fresh, else computed and cached.

    Raises ApiError(no_credit_data) when there is no profile: never a made-up score.
    """
    cpf_hash = cpf.lookup_hash(settings.CPF_HASH_KEY)
    scorecard = active_scorecard()
    cached = score_cache.get(cpf_hash, model_version=scorecard.version)
    source = ScoreSource.CACHE
    if cached is None:
        profile = credit_profile_get(cpf_hash=cpf_hash)
        if profile is None:
            raise ApiError(ErrorCode.NO_CREDIT_DATA)
        result = scorecard.score(profile.characteristics())
        cached = score_cache.CachedScore(
            score=result.score,
            band=result.band.value,
            probability_of_default=result.probability_of_default,
            reason_codes=result.reason_codes,
            model_version=scorecard.version,
            profile_version=profile.version,
            computed_at=timezone.now(),
        )
        score_cache.put(cpf_hash, cached)
        source = ScoreSource.COMPUTED
    return ServedScore(
        cpf=cpf,
        score=cached.score,
        band=cached.band,
        probability_of_default=cached.probability_of_default,
        reasons=tuple(scorecard.reason(code) for code in cached.reason_codes),
        model_version=cached.model_version,
        computed_at=cached.computed_at,
        source=source,
    )


# ==============================================================================
# The audit trail
# ==============================================================================
@dataclass(frozen=True, slots=True)
class ConsultationRequest:
    """What all audit rows of one request share."""

    request_id: str
    endpoint: Endpoint
    api_key: ApiKey | None
    presented_key_prefix: str
    client_ip: str | None
    purpose: str
    latency_ms: int


@dataclass(frozen=True, slots=True)
class ConsultedCpf:
    """One CPF of a request and what was answered for it (cpf is None when unparsable)."""

    cpf: Cpf | None
    http_status: int
    error: ErrorCode | None = None
    served: ServedScore | None = None


def consultations_record(
    *, request: ConsultationRequest, consulted: Sequence[ConsultedCpf]
) -> None:
    """Write the request's audit rows in one INSERT. The one writer of Consultation.

    Errors propagate: the caller must not send personal data without its trail.
    """
    api_key = request.api_key
    rows = [
        Consultation(
            request_id=request.request_id,
            endpoint=request.endpoint,
            organization_id=api_key.organization_id if api_key else None,
            api_key=api_key,
            api_key_prefix=api_key.prefix if api_key else request.presented_key_prefix,
            client_ip=request.client_ip,
            purpose=request.purpose,
            cpf_hash=item.cpf.lookup_hash(settings.CPF_HASH_KEY) if item.cpf else "",
            cpf_masked=item.cpf.masked if item.cpf else "",
            outcome=item.error.value if item.error else OUTCOME_SCORED,
            http_status=item.http_status,
            score=item.served.score if item.served else None,
            band=item.served.band if item.served else "",
            model_version=item.served.model_version if item.served else "",
            source=item.served.source if item.served else "",
            latency_ms=request.latency_ms,
        )
        for item in consulted
    ]
    _insert(rows)


@cache
def _insert_statement() -> tuple[str, str, tuple[Field[Any, Any], ...]]:
    """`INSERT INTO scores_consultation (<every column but id>) VALUES`, from the model."""
    fields = tuple(f for f in Consultation._meta.concrete_fields if f.column and not f.primary_key)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in fields)
    placeholders = f"({', '.join(['%s'] * len(fields))})"
    return (
        # Identifiers come from the model and are quoted; values are always parameters.
        f"INSERT INTO {quote(Consultation._meta.db_table)} ({columns}) VALUES ",  # noqa: S608
        placeholders,
        fields,
    )


def _insert(rows: Sequence[Consultation]) -> None:
    """One INSERT statement for all rows: atomic by itself, one round trip in autocommit.

    On the score path the ORM's INSERT compiler (save() or bulk_create(), which also wraps
    the statement in BEGIN ... COMMIT) costs more CPU than the rest of the audit write.
    The statement is built once from the model's own fields, and each value is converted
    by its field's get_db_prep_save(), as the ORM would. Model signals are not sent (no
    receiver exists for Consultation; it is append-only).
    """
    head, placeholders, fields = _insert_statement()
    params = [
        field.get_db_prep_save(getattr(row, field.attname), connection)
        for row in rows
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(head + ", ".join([placeholders] * len(rows)), params)


def consultations_prune(
    *, retention_days: int, batch_size: int = 10_000, max_seconds: float | None = None
) -> int:
    """Delete audit rows older than `retention_days`: the one sanctioned deletion.

    Batches keep each transaction short; with `max_seconds` it stops between batches once
    that time is spent (a Lambda invocation has a hard limit), and the next run goes on.
    On Postgres the append-only trigger lets a DELETE through only inside a transaction
    that set `scoreportal.audit_prune`, and only for rows older than six months.
    """
    if retention_days < settings.AUDIT_RETENTION_MIN_DAYS:
        raise ValueError(f"retention must be at least {settings.AUDIT_RETENTION_MIN_DAYS} days")
    cutoff = timezone.now() - timedelta(days=retention_days)
    deadline = None if max_seconds is None else time.monotonic() + max_seconds
    deleted = 0
    while deadline is None or time.monotonic() < deadline:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL scoreportal.audit_prune = 'on'")
            batch = list(
                Consultation.objects.filter(occurred_at__lt=cutoff)
                .order_by("occurred_at")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not batch:
                return deleted
            Consultation.objects.filter(pk__in=batch).delete()
            deleted += len(batch)
    return deleted


def consultations_prunable_count(*, retention_days: int) -> int:
    cutoff = timezone.now() - timedelta(days=retention_days)
    return Consultation.objects.filter(occurred_at__lt=cutoff).count()


# ==============================================================================
# Credit profiles
# ==============================================================================
@dataclass
class ProfileImportReport:
    """What an import did (or, in a dry run, would do)."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    invalidation_failures: int = 0
    written: bool = False


def credit_profiles_import(
    *,
    file: TextIO,
    dry_run: bool = False,
    strict: bool = False,
    chunk_size: int = 1000,
    on_progress: Callable[[int], None] | None = None,
) -> ProfileImportReport:
    """Upsert the profiles of a CSV file and invalidate the cached scores it changed.

    Every row is validated; errors are reported with their line numbers. By default the
    good rows are imported; with `strict`, a file with any error imports nothing (the file
    is read twice, so it must be seekable). `dry_run` validates and counts without writing.
    Rows are written in chunks, each in its own transaction, and each chunk's changed CPFs
    are invalidated in the cache after it commits: an interrupted import is resumed by
    running it again.
    """
    if strict and not dry_run:
        check = credit_profiles_import(file=file, dry_run=True, chunk_size=chunk_size)
        if check.errors:
            return check
        file.seek(0)

    report = ProfileImportReport(written=not dry_run)
    seen: dict[str, int] = {}  # cpf_hash -> line, to catch a CPF twice in one file
    rows = _valid_rows(read_profiles(file), report, seen)
    while chunk := list(islice(rows, chunk_size)):
        _import_chunk(chunk, report, dry_run=dry_run)
        if on_progress is not None:
            on_progress(report.rows)
    return report


def _valid_rows(
    parsed: Iterator[ProfileRow | RowError], report: ProfileImportReport, seen: dict[str, int]
) -> Iterator[tuple[str, ProfileRow]]:
    for item in parsed:
        report.rows += 1
        if isinstance(item, RowError):
            report.errors.append(item)
            continue
        cpf_hash = item.cpf.lookup_hash(settings.CPF_HASH_KEY)
        first_line = seen.setdefault(cpf_hash, item.line)
        if first_line != item.line:
            report.errors.append(RowError(item.line, f"cpf: same CPF as line {first_line}"))
            continue
        yield cpf_hash, item


def _import_chunk(
    chunk: list[tuple[str, ProfileRow]], report: ProfileImportReport, *, dry_run: bool
) -> None:
    now = timezone.now()
    created: list[CreditProfile] = []
    changed: list[CreditProfile] = []
    with transaction.atomic():
        # Lock the rows this chunk will update; a dry run only reads.
        profiles = CreditProfile.objects if dry_run else CreditProfile.objects.select_for_update()
        existing = profiles.in_bulk([h for h, _ in chunk])
        for cpf_hash, row in chunk:
            profile = existing.get(cpf_hash)
            if profile is None:
                created.append(
                    CreditProfile(cpf_hash=cpf_hash, cpf_masked=row.cpf.masked, **row.values)
                )
            elif credit_profile_apply(profile, row.values):
                profile.updated_at = now
                changed.append(profile)
        if not dry_run:
            CreditProfile.objects.bulk_create(created)
            CreditProfile.objects.bulk_update(
                changed, [*PROFILE_CHARACTERISTICS, "version", "updated_at"]
            )
    report.created += len(created)
    report.updated += len(changed)
    report.unchanged += len(chunk) - len(created) - len(changed)
    if changed and not dry_run:
        report.invalidation_failures += score_cache.invalidate(
            {profile.cpf_hash: profile.version for profile in changed}
        )


def credit_profile_apply(profile: CreditProfile, values: Mapping[str, object]) -> bool:
    """Set `values` on `profile`; bump its version and return True if anything changed."""
    differs = {name: value for name, value in values.items() if getattr(profile, name) != value}
    for name, value in differs.items():
        setattr(profile, name, value)
    if differs:
        profile.version += 1
    return bool(differs)


@transaction.atomic
def credit_profile_update(*, profile: CreditProfile, values: Mapping[str, object]) -> bool:
    """Change one profile (the admin's edit form) and invalidate its cached score."""
    locked = CreditProfile.objects.select_for_update().get(pk=profile.pk)
    if not credit_profile_apply(locked, values):
        return False
    locked.full_clean()
    locked.save()
    transaction.on_commit(lambda: _invalidate_after_commit({locked.cpf_hash: locked.version}))
    profile.version = locked.version
    return True


def _invalidate_after_commit(profile_versions: dict[str, int]) -> None:
    failed = score_cache.invalidate(profile_versions)
    if failed:
        logger.error("could not invalidate %d cached score(s) after a profile change", failed)

"""Credit profiles: importing them from CSV and correcting one, with cache invalidation, and
invalidating cached scores by hand (the admin's cache control)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import islice
from typing import TextIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from scores import score_cache
from scores.constants import PROFILE_CHARACTERISTICS
from scores.models import CreditProfile
from scores.profile_import import ProfileRow, RowError, read_profiles

logger = logging.getLogger(__name__)


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
    seen: dict[str, int] | None = None,
) -> ProfileImportReport:
    """Upsert the profiles of a CSV file and invalidate the cached scores it changed.

    Every row is validated; errors are reported with their line numbers. By default the
    good rows are imported; with `strict`, a file with any error imports nothing (the file
    is read twice, so it must be seekable). `dry_run` validates and counts without writing.
    Rows are written in chunks, each in its own transaction, and each chunk's changed CPFs
    are invalidated in the cache after it commits: an interrupted import is resumed by
    running it again. `seen` (CPF hash -> line) carries the rows an earlier part of the same
    file had, so a CPF repeated across the parts is still reported (the admin's import
    reads a file in steps); it is updated with this part's rows.
    """
    if strict and not dry_run:
        check = credit_profiles_import(file=file, dry_run=True, chunk_size=chunk_size)
        if check.errors:
            return check
        file.seek(0)

    report = ProfileImportReport(written=not dry_run)
    seen = {} if seen is None else seen  # cpf_hash -> line, to catch a CPF twice in a file
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


# ---------------------------------------------------------------------------------------
# Cache control (the admin's "Invalidate cached scores"). Stand-ins with tiny bodies: the
# score cache's outbox and generations replace them (docs/credit-data.md).
# ---------------------------------------------------------------------------------------
def cached_scores_invalidate(*, profiles: Iterable[CreditProfile]) -> int:
    """Make the cached scores of these profiles misses; returns how many could not be
    invalidated (those are served until they expire)."""
    return score_cache.invalidate({profile.cpf_hash: profile.version for profile in profiles})


def cached_scores_invalidate_all() -> int:
    """Make every cached score a miss; returns how many could not be invalidated.

    A tombstone per profile, a chunk at a time: as slow as there are profiles. The cache
    generation (one write, whatever the size) takes its place.
    """
    failed = 0
    rows = CreditProfile.objects.order_by().values_list("cpf_hash", "version").iterator(10_000)
    while chunk := dict(islice(rows, 10_000)):
        failed += score_cache.invalidate(chunk)
    return failed

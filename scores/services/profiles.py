"""Credit profiles: importing them from CSV and correcting one, with cache invalidation.

Every write path records the changed profiles in the invalidation outbox in the same
transaction as the change, and drains them after the commit (scores.services.invalidations):
a crash between the two, or DynamoDB being down, leaves them pending, never forgotten.

An import reads the file once, streaming, in chunks; each chunk is one transaction: its
existing profiles read and locked in one query, new ones written with COPY, changed ones
with one INSERT … ON CONFLICT DO UPDATE, their outbox rows with another. Memory does not
grow with the file: repeated CPFs are found in the database (scores.imports.seen_cpfs).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.services import Actor, actor_fields
from scores.constants import PROFILE_CHARACTERISTICS
from scores.imports.bulk_copy import rows_copy
from scores.imports.profile_file import ProfileRow, RowError, read_profiles
from scores.imports.seen_cpfs import SeenCpfs, seen_cpfs_forget
from scores.models import CreditProfile, CreditProfileCorrection
from scores.selectors import cpfs_cancelled
from scores.services.consumer_requests import consumer_requests_record_correction
from scores.services.invalidations import (
    DrainReport,
    invalidations_drain,
    invalidations_drain_on_commit,
    invalidations_record,
)

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 2000
# Why a row of a cancelled CPF is not imported (shown by line like every bad row).
CANCELLED_CPF_MESSAGE = (
    "cpf: its record was cancelled at the consumer's request; only a reopening request "
    "lets it be imported again"
)
# A chunk whose new CPF another import inserted meanwhile fails on the primary key; it is
# read again (that CPF is then an update) this many times in all.
_CHUNK_ATTEMPTS = 3
# How long an import drains what earlier writes left pending before reading its file.
_PENDING_DRAIN_SECONDS = 10.0


@dataclass
class ProfileImportReport:
    """What an import did (or, in a dry run, would do).

    `invalidation_failures`: changed profiles whose cached score could not be invalidated
    yet (DynamoDB failed); they stay in the outbox and are invalidated by the next drain.
    """

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
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    on_progress: Callable[[int], None] | None = None,
    import_id: uuid.UUID,
    in_parts: bool = False,
) -> ProfileImportReport:
    """Upsert the profiles of a CSV file and invalidate the cached scores it changed.

    Every row is validated; errors are reported with their line numbers (a CPF twice in the
    file is an error on the second line, naming the first). By default the good rows are
    imported; with `strict`, a file with any error imports nothing (the file is read twice,
    so it must be seekable). `dry_run` validates and counts without writing. Rows are
    written in chunks, each in its own transaction with its changed CPFs' outbox rows, and
    drained into the cache after it commits: an interrupted import is resumed by running it
    again, and the invalidations it left pending are drained first.

    The import's record (`import_id`, a ProfileImport) keeps the CPFs read while the file
    is read, and they are removed when it is done. A file imported `in_parts`, one call
    each (the admin's import, a step per invocation), keeps them between the parts; its
    caller removes them when the file is done (seen_cpfs_forget).
    """
    if strict and not dry_run:
        check = credit_profiles_import(
            file=file, dry_run=True, chunk_size=chunk_size, import_id=import_id
        )
        if check.errors:
            return check
        file.seek(0)

    report = ProfileImportReport(written=not dry_run)
    if not dry_run:
        # What an earlier import or edit could not drain; bounded, so that a backlog does
        # not eat a step's time (the schedule drains the rest).
        left = invalidations_drain(max_seconds=_PENDING_DRAIN_SECONDS, patient=False)
        if left.failed:
            logger.warning("pending cache invalidations could not be drained before the import")
    parsed = read_profiles(file)
    repeats = SeenCpfs(import_id)
    try:
        _import_chunks(parsed, report, repeats, dry_run, chunk_size, on_progress)
    finally:
        if not in_parts and not connection.needs_rollback:
            seen_cpfs_forget(import_id=import_id)
    return report


def _import_chunks(
    parsed: Iterator[ProfileRow | RowError],
    report: ProfileImportReport,
    repeats: SeenCpfs,
    dry_run: bool,
    chunk_size: int,
    on_progress: Callable[[int], None] | None,
) -> None:
    with _ChunkDrainer(report, dry_run=dry_run) as drainer:
        while True:
            chunk, errors = _next_chunk(parsed, chunk_size, report)
            if not chunk and not errors:
                break
            chunk = repeats.without_repeats(chunk, errors)
            changed, refused = _write_chunk(chunk, report, dry_run=dry_run)
            errors.extend(RowError(row.line, CANCELLED_CPF_MESSAGE) for row in refused)
            report.errors.extend(sorted(errors, key=lambda error: error.line))
            # The chunk is committed; whatever stops the import from here on (a crash,
            # an exception from `on_progress`) leaves its invalidations in the outbox.
            if on_progress is not None:
                on_progress(report.rows)
            if changed and not dry_run:
                drainer.drain(changed)


class _ChunkDrainer:
    """Drains each chunk's invalidations once it has committed.

    On a thread of its own, while the next chunk is read and written, when the import's
    commits are real (autocommit on Postgres: the thread's own connection sees them); in
    line otherwise (inside a transaction, as in tests; SQLite, which allows one writer).
    One chunk's drain at a time: the next waits for it, so nothing piles up in memory.
    After a failure (DynamoDB down) the rest of the import does not wait on DynamoDB once
    per chunk: its invalidations stay in the outbox for the next drain.
    """

    def __init__(self, report: ProfileImportReport, *, dry_run: bool) -> None:
        self.report = report
        self.failed = False
        background = (
            not dry_run and connection.vendor == "postgresql" and not connection.in_atomic_block
        )
        self.thread = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-drain")
            if background
            else None
        )
        self.running: Future[DrainReport] | None = None

    def __enter__(self) -> _ChunkDrainer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            self._wait()
        finally:
            if self.thread is not None:
                self.thread.submit(_close_connection).result()
                self.thread.shutdown()

    def drain(self, cpf_hashes: list[str]) -> None:
        self._wait()
        if self.failed:
            self.report.invalidation_failures += len(cpf_hashes)
        elif self.thread is not None:
            self.running = self.thread.submit(_drain, cpf_hashes)
        else:
            self._account(_drain(cpf_hashes))

    def _wait(self) -> None:
        if self.running is not None:
            running, self.running = self.running, None
            self._account(running.result())

    def _account(self, drained: DrainReport) -> None:
        self.report.invalidation_failures += drained.failed
        self.failed = self.failed or not drained.ok


def _drain(cpf_hashes: list[str]) -> DrainReport:
    return invalidations_drain(cpf_hashes=cpf_hashes)


def _close_connection() -> None:
    connection.close()  # the calling thread's own


def _next_chunk(
    parsed: Iterator[ProfileRow | RowError], size: int, report: ProfileImportReport
) -> tuple[list[tuple[str, ProfileRow]], list[RowError]]:
    """Up to `size` valid rows (with their CPF hashes) and the bad rows met on the way."""
    rows: list[tuple[str, ProfileRow]] = []
    errors: list[RowError] = []
    key = settings.CPF_HASH_KEY
    for item in parsed:
        report.rows += 1
        if isinstance(item, RowError):
            errors.append(item)
            continue
        rows.append((item.cpf.lookup_hash(key), item))
        if len(rows) == size:
            break
    return rows, errors


def _write_chunk(
    chunk: list[tuple[str, ProfileRow]], report: ProfileImportReport, *, dry_run: bool
) -> tuple[list[str], list[ProfileRow]]:
    """Create and update the chunk's profiles in one transaction, with the changed ones'
    outbox rows; count them in `report`; return the changed CPF hashes, and the rows
    refused because their CPF's record is cancelled."""
    if not chunk:
        return [], []
    for attempt in range(1, _CHUNK_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                created, changed, refused = _upsert(chunk, dry_run=dry_run)
            break
        except IntegrityError:
            # Another import created one of this chunk's new CPFs after we read: read again.
            if attempt == _CHUNK_ATTEMPTS:
                raise
    report.created += created
    report.updated += len(changed)
    report.unchanged += len(chunk) - created - len(changed) - len(refused)
    return changed, refused


def _upsert(
    chunk: list[tuple[str, ProfileRow]], *, dry_run: bool
) -> tuple[int, list[str], list[ProfileRow]]:
    now = timezone.now()
    created: list[tuple[str, ProfileRow]] = []
    changed: list[CreditProfile] = []
    refused: list[ProfileRow] = []
    # Lock the rows this chunk will update; a dry run only reads.
    profiles = CreditProfile.objects if dry_run else CreditProfile.objects.select_for_update()
    existing = profiles.in_bulk([cpf_hash for cpf_hash, _ in chunk])
    # Asked after the lock: a cancellation that removed one of these profiles meanwhile
    # has committed by now.
    cancelled = cpfs_cancelled(cpf_hashes=[cpf_hash for cpf_hash, _ in chunk])
    for cpf_hash, row in chunk:
        profile = existing.get(cpf_hash)
        if cpf_hash in cancelled:
            refused.append(row)
        elif profile is None:
            created.append((cpf_hash, row))
        elif credit_profile_apply(profile, row.values):
            profile.updated_at = now
            changed.append(profile)
    if not dry_run:
        # A plain INSERT: a CPF another import created meanwhile fails here, and the chunk
        # is read again, so its version grows instead of restarting at 1.
        _insert_new(created, now)
        # The rows are locked and their versions computed: write them in one statement.
        CreditProfile.objects.bulk_create(
            changed,
            update_conflicts=True,
            unique_fields=["cpf_hash"],
            update_fields=[*PROFILE_CHARACTERISTICS, "version", "updated_at"],
        )
        invalidations_record(
            profile_versions={profile.cpf_hash: profile.version for profile in changed}
        )
    return len(created), [profile.cpf_hash for profile in changed], refused


# A new profile's columns as COPY writes them, and its version.
_NEW_PROFILE_FIELDS = (
    "cpf_hash",
    "cpf_masked",
    *PROFILE_CHARACTERISTICS,
    "version",
    "created_at",
    "updated_at",
)
_NEW_VERSION = "1"


def _insert_new(rows: list[tuple[str, ProfileRow]], now: datetime) -> None:
    """Insert new profiles (a CPF another import created meanwhile: IntegrityError). With
    COPY on Postgres: the values were validated when the file was read."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        CreditProfile.objects.bulk_create(
            [
                CreditProfile(cpf_hash=cpf_hash, cpf_masked=row.cpf.masked, **row.values)
                for cpf_hash, row in rows
            ]
        )
        return
    stamp = now.isoformat()
    rows_copy(
        CreditProfile,
        _NEW_PROFILE_FIELDS,
        (
            [
                cpf_hash,
                row.cpf.masked,
                *[str(row.values[name]) for name in PROFILE_CHARACTERISTICS],
                _NEW_VERSION,
                stamp,
                stamp,
            ]
            for cpf_hash, row in rows
        ),
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
def credit_profile_update(
    *,
    profile: CreditProfile,
    values: Mapping[str, object],
    protocol: str,
    reason: str,
    actor: Actor = None,
) -> bool:
    """Correct one profile (the admin's edit form) under the case's `protocol`, for
    `reason`: recorded with who and which characteristics changed, and its cached score
    invalidated (in the outbox with the change, drained after the commit, or later if that
    fails). A correction of a disputed profile is noted on its open disputes."""
    protocol, reason = protocol.strip(), reason.strip()
    if not protocol or not reason:
        raise ValueError("a correction needs its protocol and its reason")
    locked = CreditProfile.objects.select_for_update().get(pk=profile.pk)
    changed = [name for name, value in values.items() if getattr(locked, name) != value]
    if not credit_profile_apply(locked, values):
        return False
    locked.full_clean()
    locked.save()
    user, name = actor_fields(actor)
    correction = CreditProfileCorrection.objects.create(
        cpf_hash=locked.cpf_hash,
        cpf_masked=locked.cpf_masked,
        profile_version=locked.version,
        characteristics=changed,
        protocol=protocol,
        reason=reason,
        actor=user,
        actor_name=name,
    )
    invalidations_record(profile_versions={locked.cpf_hash: locked.version})
    consumer_requests_record_correction(correction=correction, actor=actor)
    invalidations_drain_on_commit(locked.cpf_hash)
    profile.version = locked.version
    return True

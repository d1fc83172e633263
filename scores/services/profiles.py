"""Credit profiles: importing them from CSV and correcting one, with cache invalidation.

Every write path records the changed profiles in the invalidation outbox in the same
transaction as the change, and drains them after the commit (scores.services.invalidations):
a crash between the two, or DynamoDB being down, leaves them pending, never forgotten.

An import reads the file once, streaming, in chunks; each chunk is one transaction: its
existing profiles read and locked in one query, new ones inserted with one INSERT, changed
ones written with one INSERT … ON CONFLICT DO UPDATE (`bulk_create(update_conflicts=True)`:
far cheaper than `bulk_update`'s CASE per column), their outbox rows with another. Memory
does not grow with the file: a CPF seen twice in one file is found through a temporary
table of this import's CPFs and lines in the database (`_SeenCpfs`), not a set in memory.
"""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from types import TracebackType
from typing import TextIO

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from scores.constants import PROFILE_CHARACTERISTICS
from scores.imports.profile_file import ProfileRow, RowError, read_profiles
from scores.models import CreditProfile, ImportSeenCpf
from scores.services.invalidations import DrainReport, invalidations_drain, invalidations_record

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 2000
# A chunk whose new CPF another import inserted meanwhile fails on the primary key; it is
# read again (that CPF is then an update) this many times in all.
_CHUNK_ATTEMPTS = 3
# How long an import drains what earlier writes left pending before reading its file.
_PENDING_DRAIN_SECONDS = 10.0
# Rows per statement on the scratch table (SQLite allows 32,766 parameters a statement).
_SEEN_ROWS_PER_STATEMENT = 1000


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
    import_id: uuid.UUID | None = None,
) -> ProfileImportReport:
    """Upsert the profiles of a CSV file and invalidate the cached scores it changed.

    Every row is validated; errors are reported with their line numbers (a CPF twice in the
    file is an error on the second line, naming the first). By default the good rows are
    imported; with `strict`, a file with any error imports nothing (the file is read twice,
    so it must be seekable). `dry_run` validates and counts without writing. Rows are
    written in chunks, each in its own transaction with its changed CPFs' outbox rows, and
    drained into the cache after it commits: an interrupted import is resumed by running it
    again, and the invalidations it left pending are drained first.

    Repeated CPFs are found through a temporary table of this call's CPFs. A file imported
    in parts, one call each (the admin's import, a step per invocation), passes its
    import's id instead: the CPFs read are kept under it (ImportSeenCpf) between the parts,
    and the caller removes them when the file is done.
    """
    if strict and not dry_run:
        check = credit_profiles_import(file=file, dry_run=True, chunk_size=chunk_size)
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
    with (
        _lookups_by_key(),
        _SeenCpfs() if import_id is None else _SeenInTable(import_id) as repeats,
        _ChunkDrainer(report, dry_run=dry_run) as drainer,
    ):
        while True:
            chunk, errors = _next_chunk(parsed, chunk_size, report)
            if not chunk and not errors:
                break
            chunk = repeats.without_repeats(chunk, errors)
            report.errors.extend(sorted(errors, key=lambda error: error.line))
            changed = _write_chunk(chunk, report, dry_run=dry_run)
            # The chunk is committed; whatever stops the import from here on (a crash,
            # an exception from `on_progress`) leaves its invalidations in the outbox.
            if on_progress is not None:
                on_progress(report.rows)
            if changed and not dry_run:
                drainer.drain(changed)
    return report


@contextmanager
def _lookups_by_key() -> Iterator[None]:
    """On Postgres, keep the planner from scanning whole tables for the import's lookups.

    Every query of a chunk finds rows by primary key (2,000 keys in an IN list), so an
    index scan is always the plan. But a table this import fills (the first load of
    profiles; the temporary table of CPFs seen, which autovacuum never analyzes) has no
    statistics, and then Postgres scans it whole for each chunk: measured at 400,000 rows,
    49 ms a query, an import that slows as it goes (14,000 rows a second at 1 M).
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
    try:
        yield
    finally:
        if not connection.needs_rollback:
            with connection.cursor() as cursor:
                cursor.execute("RESET enable_seqscan")


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


class _SeenCpfs:
    """The CPFs this import has read, with their first line: a temporary table (the
    connection's own, dropped at the end; Postgres and SQLite alike), so that finding a
    CPF twice in a file of millions costs a statement a chunk and no memory."""

    def __init__(self) -> None:
        self.table = f"import_seen_{uuid.uuid4().hex[:12]}"

    def __enter__(self) -> _SeenCpfs:
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE {self.table} "
                "(cpf_hash varchar(64) PRIMARY KEY, line integer NOT NULL)"
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc_type is not None and connection.needs_rollback:
            return  # the transaction is broken; the table goes with the connection
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {self.table}")

    def without_repeats(
        self, chunk: list[tuple[str, ProfileRow]], errors: list[RowError]
    ) -> list[tuple[str, ProfileRow]]:
        """The rows of `chunk` whose CPF this import has not read before; an error in
        `errors` for each other one. Records the new ones: one INSERT … ON CONFLICT DO
        NOTHING RETURNING a chunk, and a SELECT of first lines only when one was there."""
        first: dict[str, int] = {}
        for cpf_hash, row in chunk:
            first.setdefault(cpf_hash, row.line)
        added = self._add(list(first.items()))
        seen_before = [cpf_hash for cpf_hash in first if cpf_hash not in added]
        earlier = self._lines_of(seen_before) if seen_before else {}
        return _first_readings(chunk, {**first, **earlier}, errors)

    def _add(self, rows: list[tuple[str, int]]) -> set[str]:
        """Record these (CPF hash, line) rows; return the hashes that were not there."""
        added: set[str] = set()
        with connection.cursor() as cursor:
            for start in range(0, len(rows), _SEEN_ROWS_PER_STATEMENT):
                part = rows[start : start + _SEEN_ROWS_PER_STATEMENT]
                placeholders = ", ".join(["(%s, %s)"] * len(part))
                cursor.execute(
                    f"INSERT INTO {self.table} (cpf_hash, line) "  # noqa: S608 (our names)
                    f"VALUES {placeholders} ON CONFLICT (cpf_hash) DO NOTHING "
                    "RETURNING cpf_hash",
                    [value for row in part for value in row],
                )
                added.update(cpf_hash for (cpf_hash,) in cursor.fetchall())
        return added

    def _lines_of(self, cpf_hashes: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        with connection.cursor() as cursor:
            for start in range(0, len(cpf_hashes), _SEEN_ROWS_PER_STATEMENT):
                part = cpf_hashes[start : start + _SEEN_ROWS_PER_STATEMENT]
                placeholders = ", ".join(["%s"] * len(part))
                cursor.execute(
                    f"SELECT cpf_hash, line FROM {self.table} "  # noqa: S608 (our names)
                    f"WHERE cpf_hash IN ({placeholders})",
                    part,
                )
                found.update(cursor.fetchall())
        return found


class _SeenInTable:
    """The CPFs read by the earlier parts of a file and by this one, for a file imported in
    parts (the admin's steps): rows of ImportSeenCpf under the import, kept between the
    parts, so memory does not grow with the file there either. Two statements a chunk."""

    def __init__(self, import_id: uuid.UUID) -> None:
        self.import_id = import_id

    def __enter__(self) -> _SeenInTable:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def without_repeats(
        self, chunk: list[tuple[str, ProfileRow]], errors: list[RowError]
    ) -> list[tuple[str, ProfileRow]]:
        first: dict[str, int] = {}
        for cpf_hash, row in chunk:
            first.setdefault(cpf_hash, row.line)
        earlier = dict(
            ImportSeenCpf.objects.filter(profile_import_id=self.import_id, cpf_hash__in=first)
            .order_by()
            .values_list("cpf_hash", "line")
        )
        ImportSeenCpf.objects.bulk_create(
            [
                ImportSeenCpf(profile_import_id=self.import_id, cpf_hash=cpf_hash, line=line)
                for cpf_hash, line in first.items()
                if cpf_hash not in earlier
            ],
            ignore_conflicts=True,
        )
        return _first_readings(chunk, {**first, **earlier}, errors)


def _first_readings(
    chunk: list[tuple[str, ProfileRow]], first_lines: Mapping[str, int], errors: list[RowError]
) -> list[tuple[str, ProfileRow]]:
    """The rows of `chunk` on their CPF's first line in the file (`first_lines`: CPF hash ->
    line); an error in `errors`, naming that line, for each other one."""
    fresh: list[tuple[str, ProfileRow]] = []
    for cpf_hash, row in chunk:
        first_line = first_lines[cpf_hash]
        if first_line != row.line:
            errors.append(RowError(row.line, f"cpf: same CPF as line {first_line}"))
        else:
            fresh.append((cpf_hash, row))
    return fresh


def _write_chunk(
    chunk: list[tuple[str, ProfileRow]], report: ProfileImportReport, *, dry_run: bool
) -> list[str]:
    """Create and update the chunk's profiles in one transaction, with the changed ones'
    outbox rows; count them in `report`; return the changed CPF hashes."""
    if not chunk:
        return []
    for attempt in range(1, _CHUNK_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                created, changed = _upsert(chunk, dry_run=dry_run)
            break
        except IntegrityError:
            # Another import created one of this chunk's new CPFs after we read: read again.
            if attempt == _CHUNK_ATTEMPTS:
                raise
    report.created += created
    report.updated += len(changed)
    report.unchanged += len(chunk) - created - len(changed)
    return changed


def _upsert(chunk: list[tuple[str, ProfileRow]], *, dry_run: bool) -> tuple[int, list[str]]:
    now = timezone.now()
    created: list[tuple[str, ProfileRow]] = []
    changed: list[CreditProfile] = []
    # Lock the rows this chunk will update; a dry run only reads.
    profiles = CreditProfile.objects if dry_run else CreditProfile.objects.select_for_update()
    existing = profiles.in_bulk([cpf_hash for cpf_hash, _ in chunk])
    for cpf_hash, row in chunk:
        profile = existing.get(cpf_hash)
        if profile is None:
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
    return len(created), [profile.cpf_hash for profile in changed]


def _insert_new(rows: list[tuple[str, ProfileRow]], now: datetime) -> None:
    """Insert new profiles: with COPY on Postgres, `bulk_create` elsewhere (SQLite).

    COPY because `bulk_create` cannot reach the import's target there: measured on 50,000
    new rows, its INSERT took 32 µs a row and preparing it 25 µs more of Python (values
    through each field's `get_db_prep_save`, a model instance per row), the import as a
    whole 10,700 rows a second. COPY takes the rows as text, typed by Postgres, each
    checked by the table's constraints like an INSERT's. The values were validated by the
    model fields' own rules when the file was read (scores.profile_import).
    """
    if not rows:
        return
    with connection.cursor() as cursor:
        copy = getattr(cursor.cursor, "copy_expert", None)  # psycopg2's
        if connection.vendor != "postgresql" or copy is None:
            CreditProfile.objects.bulk_create(
                [
                    CreditProfile(cpf_hash=cpf_hash, cpf_masked=row.cpf.masked, **row.values)
                    for cpf_hash, row in rows
                ]
            )
            return
        stamp = now.isoformat()
        text = "".join(
            "\t".join(
                [
                    cpf_hash,
                    row.cpf.masked,
                    *[str(row.values[name]) for name in PROFILE_CHARACTERISTICS],
                    _NEW_VERSION,
                    stamp,
                    stamp,
                ]
            )
            + "\n"
            for cpf_hash, row in rows
        )
        with connection.wrap_database_errors:  # a repeated key is an IntegrityError
            copy(_copy_statement(), io.StringIO(text))


# A new profile's version, as COPY's text.
_NEW_VERSION = "1"


@cache
def _copy_statement() -> str:
    meta = CreditProfile._meta
    column_of = {field.name: str(field.column) for field in meta.concrete_fields}
    names = ["cpf_hash", "cpf_masked", *PROFILE_CHARACTERISTICS, "version"]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(column_of[name]) for name in [*names, "created_at", "updated_at"])
    return f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN"


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
    """Change one profile (the admin's edit form) and invalidate its cached score: recorded
    in the outbox with the change, drained after the commit (or later, if that fails)."""
    locked = CreditProfile.objects.select_for_update().get(pk=profile.pk)
    if not credit_profile_apply(locked, values):
        return False
    locked.full_clean()
    locked.save()
    invalidations_record(profile_versions={locked.cpf_hash: locked.version})
    transaction.on_commit(lambda: _drain_after_commit(locked.cpf_hash))
    profile.version = locked.version
    return True


def _drain_after_commit(cpf_hash: str) -> None:
    if not invalidations_drain(cpf_hashes=[cpf_hash], patient=False).ok:
        logger.warning("a changed profile's cached score stays pending invalidation")

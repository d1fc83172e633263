"""`manage.py import_profiles FILE.csv`: the command-line import. Each run is
recorded like an admin import (scores.models.ProfileImport), with the operating system's
user as who ran it."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, no_translations
from django.utils.translation import gettext_noop

from scores.imports.profile_file import ProfileFileError
from scores.services import (
    ProfileImportReport,
    credit_profiles_import,
    profile_import_command_begin,
    profile_import_command_end,
)
from scores.services.profiles import DEFAULT_CHUNK_SIZE

# Report at most this many row errors; the count says how many there were.
_MAX_ERRORS_SHOWN = 200
# Progress goes to stderr every this many rows, so only large files show it.
_PROGRESS_EVERY = 10_000


class Command(BaseCommand):
    help = (
        "Import credit profiles from a CSV file (header: cpf plus one column per "
        "characteristic). Good rows are upserted and their cached scores invalidated "
        "(through the outbox, after each chunk commits); bad rows are reported with line "
        "numbers."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="CSV file, UTF-8, comma-separated.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Validate and count; write nothing."
        )
        parser.add_argument(
            "--strict", action="store_true", help="Import nothing if any row is invalid."
        )
        parser.add_argument(
            "--chunk-size",
            type=int,
            default=DEFAULT_CHUNK_SIZE,
            help=f"Rows per transaction (default {DEFAULT_CHUNK_SIZE}).",
        )

    @no_translations  # row reasons in English, as the rest of the output
    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        verbosity: int = options["verbosity"]
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be at least 1.")

        reported = 0

        def progress(rows: int) -> None:
            nonlocal reported
            if verbosity >= 1 and rows - reported >= _PROGRESS_EVERY:
                reported = rows - rows % _PROGRESS_EVERY
                self.stderr.write(f"  … {rows:,} rows read")

        try:
            record = profile_import_command_begin(
                path=path, strict=options["strict"], dry_run=options["dry_run"]
            )
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        try:
            with path.open(encoding="utf-8-sig", newline="") as file:
                report = credit_profiles_import(
                    file=file,
                    dry_run=options["dry_run"],
                    strict=options["strict"],
                    chunk_size=options["chunk_size"],
                    on_progress=progress,
                    import_id=record.pk,
                )
        except OSError as exc:
            failure = gettext_noop("the file could not be read")
            profile_import_command_end(profile_import=record, report=None, failure=failure)
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            failure = gettext_noop("the file is not UTF-8 text")
            profile_import_command_end(profile_import=record, report=None, failure=failure)
            raise CommandError(f"{path} is not UTF-8 text.") from None
        except ProfileFileError as exc:
            profile_import_command_end(
                profile_import=record, report=None, failure=exc.message, failure_params=exc.params
            )
            raise CommandError(f"{path}: {exc}") from None
        except BaseException as exc:  # a database error, Ctrl-C: the record must not say running
            with contextlib.suppress(Exception):  # the database may be what failed
                profile_import_command_end(
                    profile_import=record,
                    report=None,
                    failure=gettext_noop("stopped: %(error)s"),
                    failure_params={"error": type(exc).__name__},
                )
            raise
        profile_import_command_end(profile_import=record, report=report)
        if verbosity >= 1:
            self.stdout.write(f"Recorded as import {record.pk}.")
        self._report(report, strict=options["strict"], dry_run=options["dry_run"])

    def _report(self, report: ProfileImportReport, *, strict: bool, dry_run: bool) -> None:
        for error in report.errors[:_MAX_ERRORS_SHOWN]:
            self.stderr.write(self.style.ERROR(str(error)))
        if len(report.errors) > _MAX_ERRORS_SHOWN:
            self.stderr.write(f"… and {len(report.errors) - _MAX_ERRORS_SHOWN} more errors.")

        verb = "" if report.written else "would be "
        summary = (
            f"{report.rows:,} rows: {report.created:,} {verb}created, "
            f"{report.updated:,} {verb}updated, {report.unchanged:,} unchanged, "
            f"{len(report.errors):,} invalid."
        )
        if not report.written:
            prefix = "Dry run: " if dry_run else "Strict import refused, nothing written: "
            self.stdout.write(prefix + summary)
        elif report.errors:
            self.stdout.write(self.style.WARNING(summary))
        else:
            self.stdout.write(self.style.SUCCESS(summary))
        if report.invalidation_failures:
            raise CommandError(
                f"{report.invalidation_failures:,} changed profiles kept their cached score "
                "for now: the score cache could not be reached. Their invalidations are "
                "pending: the next import, the scheduled drain (every 5 minutes) or "
                "`invalidate_scores --pending` writes them."
            )
        if strict and report.errors and not dry_run:
            raise CommandError("Strict import refused: fix the rows above and run again.")

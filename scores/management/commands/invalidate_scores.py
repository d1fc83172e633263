"""manage.py invalidate_scores: make cached scores misses (all, some CPFs, or the pending)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from scores.core.cpf import Cpf, InvalidCpf
from scores.exceptions import ScoreCacheUnavailable
from scores.services import (
    invalidations_drain,
    invalidations_pending_count,
    scores_invalidate,
    scores_invalidate_all,
)

# Report at most this many bad lines of a --cpf-file; the count says how many there were.
_MAX_ERRORS_SHOWN = 200


class Command(BaseCommand):
    help = (
        "Invalidate cached scores. --all: every one, at once (a new cache generation: one "
        "DynamoDB call, whatever the table's size). --cpf-file FILE: the CPFs of FILE, one a "
        "line. --pending: drain the invalidations that profile changes left pending (Zappa "
        "runs this every 5 minutes)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--all", action="store_true", help="Every cached score.")
        which.add_argument(
            "--cpf-file", type=Path, help="A file of CPFs, one a line (formatted or not)."
        )
        which.add_argument("--pending", action="store_true", help="The invalidations left pending.")
        parser.add_argument(
            "--max-seconds",
            type=float,
            default=None,
            help="With --pending: stop between batches after this long (the next run continues).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["all"]:
            self._all()
        elif options["pending"]:
            self._pending(options["max_seconds"])
        else:
            self._cpf_file(options["cpf_file"])

    def _all(self) -> None:
        started = time.perf_counter()
        try:
            generation = scores_invalidate_all()
        except ScoreCacheUnavailable as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Every cached score invalidated (cache generation {generation}) in "
                f"{time.perf_counter() - started:.3f}s."
            )
        )

    def _pending(self, max_seconds: float | None) -> None:
        report = invalidations_drain(max_seconds=max_seconds)
        left = invalidations_pending_count()
        self.stdout.write(f"{report.drained:,} pending invalidations drained, {left:,} left.")
        if report.failed:
            raise CommandError(
                f"The score cache could not be reached: {left:,} invalidations stay pending."
            )

    def _cpf_file(self, path: Path) -> None:
        hashes: list[str] = []
        errors: list[str] = []
        try:
            with path.open(encoding="utf-8-sig") as file:
                for line, text in enumerate(file, start=1):
                    if not text.strip():
                        continue
                    try:
                        cpf = Cpf.parse(text.strip())
                    except InvalidCpf as exc:
                        errors.append(f"line {line}: {exc}")
                        continue
                    hashes.append(cpf.lookup_hash(settings.CPF_HASH_KEY))
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise CommandError(f"{path} is not UTF-8 text.") from None
        for error in errors[:_MAX_ERRORS_SHOWN]:
            self.stderr.write(self.style.ERROR(error))
        if len(errors) > _MAX_ERRORS_SHOWN:
            self.stderr.write(f"… and {len(errors) - _MAX_ERRORS_SHOWN} more errors.")
        report = scores_invalidate(cpf_hashes=hashes)
        self.stdout.write(
            f"{len(hashes):,} CPFs read, {len(errors):,} invalid; "
            f"{report.drained:,} cached scores invalidated."
        )
        if report.failed:
            raise CommandError(
                f"The score cache could not be reached: {report.failed:,} invalidations stay "
                "pending (invalidate_scores --pending, or the schedule, writes them)."
            )

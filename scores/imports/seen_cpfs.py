"""The CPFs an import has read, with the line each was first on: how a CPF repeated anywhere
in a file is found, in the database rather than in memory (ImportSeenCpf).

One mechanism for every import: the command line's in one call, the admin's in steps (one
Lambda invocation each), whose rows stay between the steps. A step read again (a retried
invocation) finds its CPFs at their own lines, which are not repeats.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext_noop

from scores.imports.bulk_copy import rows_copy
from scores.imports.profile_file import ProfileRow, RowError
from scores.models import ImportSeenCpf


def seen_cpfs_forget(*, import_id: uuid.UUID) -> None:
    """Remove the CPFs an import has read: before a new pass over its file, and after."""
    ImportSeenCpf.objects.filter(profile_import_id=import_id).delete()


class SeenCpfs:
    """The CPFs read so far under one import. A chunk's new CPFs are recorded with one COPY
    (an INSERT on SQLite); only when one of them was there already (a repeat, or a step
    read again) are they looked up, by the primary key, and the others recorded. One
    import reads its file one part at a time (the admin's steps are one after the other):
    nothing else records its CPFs meanwhile."""

    def __init__(self, import_id: uuid.UUID) -> None:
        self.import_id = import_id

    def without_repeats(
        self, chunk: list[tuple[str, ProfileRow]], errors: list[RowError]
    ) -> list[tuple[str, ProfileRow]]:
        """The rows of `chunk` whose CPF this import has not read on an earlier line; an
        error in `errors` for each other one. Records the new ones."""
        first: dict[str, int] = {}
        for cpf_hash, row in chunk:
            first.setdefault(cpf_hash, row.line)
        earlier: dict[str, int] = {}
        try:
            with transaction.atomic():  # a savepoint inside a caller's transaction
                self._record(first.items())
        except IntegrityError:
            earlier = dict(
                ImportSeenCpf.objects.filter(profile_import_id=self.import_id, cpf_hash__in=first)
                .order_by()
                .values_list("cpf_hash", "line")
            )
            self._record((h, line) for h, line in first.items() if h not in earlier)
        return _first_readings(chunk, {**first, **earlier}, errors)

    def _record(self, seen: Iterable[tuple[str, int]]) -> None:
        if connection.vendor == "postgresql":
            import_id = str(self.import_id)
            rows_copy(
                ImportSeenCpf,
                ("profile_import", "cpf_hash", "line"),
                ((import_id, cpf_hash, str(line)) for cpf_hash, line in seen),
            )
        else:
            ImportSeenCpf.objects.bulk_create(
                ImportSeenCpf(profile_import_id=self.import_id, cpf_hash=cpf_hash, line=line)
                for cpf_hash, line in seen
            )


def _first_readings(
    chunk: list[tuple[str, ProfileRow]], first_lines: Mapping[str, int], errors: list[RowError]
) -> list[tuple[str, ProfileRow]]:
    """The rows of `chunk` on their CPF's first line in the file (`first_lines`: CPF hash ->
    line); an error in `errors`, naming that line, for each other one."""
    fresh: list[tuple[str, ProfileRow]] = []
    for cpf_hash, row in chunk:
        first_line = first_lines[cpf_hash]
        if first_line != row.line:
            errors.append(
                RowError.of(
                    row.line,
                    ("cpf", gettext_noop("same CPF as line %(line)s"), {"line": first_line}),
                )
            )
        else:
            fresh.append((cpf_hash, row))
    return fresh

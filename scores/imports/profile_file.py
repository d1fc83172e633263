"""Reading credit profiles from CSV: header check and per-row validation.

The CSV has a `cpf` column and one column per characteristic (PROFILE_CHARACTERISTICS).
Each row is validated against the CreditProfile model's own field rules; messages name the
line and the column, never the value (a misplaced column could hold a CPF).

A file is read a bounded piece at a time: a line longer than MAX_LINE_BYTES, or a header
of more than MAX_HEADER_COLUMNS names, refuses the file before any parsing of it, so a
hostile file costs what a profile file does.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache, partial
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_noop

from scoreportal.logging import redact
from scores.constants import PROFILE_CHARACTERISTICS
from scores.core.cpf import Cpf, InvalidCpf
from scores.core.scorecard import ProfileValue
from scores.models import CreditProfile

CPF_COLUMN = "cpf"
COLUMNS = (CPF_COLUMN, *PROFILE_CHARACTERISTICS)
# A profile file's header has len(COLUMNS) names and its lines are a few hundred bytes:
# these are far above any real file and far below what costs time or memory.
MAX_HEADER_COLUMNS = 100
MAX_LINE_BYTES = 64 * 1024


class ProfileFileError(ValueError):
    """The file as a whole cannot be imported (bad header, not CSV, a line too long).

    `str()` is the English message (the command line, the import's record); `message`
    (marked for translation) and `params` let the admin say it in its reader's language."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


def line_too_long(line: int) -> ProfileFileError:
    return ProfileFileError(
        gettext_noop("line %(line)s is longer than %(limit)s bytes: not a profile file's line"),
        line=line,
        limit=MAX_LINE_BYTES,
    )


@dataclass(frozen=True, slots=True)
class ProfileRow:
    """A valid row: the CPF and the characteristic values, typed."""

    line: int
    cpf: Cpf
    values: dict[str, ProfileValue]


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def read_profiles(file: Iterable[str]) -> Iterator[ProfileRow | RowError]:
    """Yield each data row of `file` (a text file, or its lines) as a ProfileRow or a
    RowError, in file order. ProfileFileError if the file as a whole cannot be read."""
    reader = csv.reader(_bounded_lines(file))
    try:
        header = next(reader)
    except StopIteration:
        raise ProfileFileError(gettext_noop("the file is empty")) from None
    except csv.Error as exc:
        reason = str(exc)
        raise ProfileFileError(gettext_noop("not a CSV file: %(reason)s"), reason=reason) from None
    names = _checked_header(header)
    positions = [names.index(column) for column in COLUMNS]
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error:
            yield RowError(reader.line_num, "malformed CSV (unbalanced quotes or a NUL byte)")
            continue
        line = reader.line_num
        if not any(field.strip() for field in fields):
            continue  # blank line
        if len(fields) != len(names):
            yield RowError(line, f"expected {len(names)} columns, found {len(fields)}")
            continue
        yield _parse_row(line, [fields[position] for position in positions])


def _bounded_lines(file: Iterable[str]) -> Iterator[str]:
    """The lines of `file`, each at most MAX_LINE_BYTES (its line break included); a
    longer one refuses the file. A text file is read a bounded piece at a time, so a
    line that never ends is never held whole."""
    lines: Iterator[str]
    if isinstance(file, io.TextIOBase):
        lines = iter(partial(file.readline, MAX_LINE_BYTES + 1), "")
    else:
        lines = iter(file)
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_LINE_BYTES or (
            not line.isascii() and len(line.encode("utf-8")) > MAX_LINE_BYTES
        ):
            raise line_too_long(number)
        yield line


def _checked_header(header: list[str]) -> list[str]:
    """The column names (trimmed, byte-order mark dropped), or ProfileFileError."""
    if len(header) > MAX_HEADER_COLUMNS:
        raise ProfileFileError(
            gettext_noop(
                "the header has %(found)s columns; a profile file's has %(expected)s "
                "(at most %(limit)s are read)"
            ),
            found=len(header),
            expected=len(COLUMNS),
            limit=MAX_HEADER_COLUMNS,
        )
    names = [name.strip().lstrip("\ufeff") for name in header]
    counts = Counter(names)
    missing = [column for column in COLUMNS if column not in counts]
    unknown = [name for name in names if name not in COLUMNS]
    duplicated = sorted(name for name, count in counts.items() if count > 1)
    problems = []
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    if unknown:
        # Redacted: in a file without a header, a CPF stands where a name should be.
        problems.append(f"unknown column(s): {', '.join(redact(name[:40]) for name in unknown)}")
    if duplicated:
        problems.append(f"repeated column(s): {', '.join(duplicated)}")
    if problems:
        raise ProfileFileError(f"bad header: {'; '.join(problems)}. Expected: {','.join(COLUMNS)}")
    return names


def _parse_row(line: int, fields: list[str]) -> ProfileRow | RowError:
    problems: list[str] = []
    cpf: Cpf | None = None
    try:
        cpf = Cpf.parse(fields[0])
    except InvalidCpf as exc:
        problems.append(f"{CPF_COLUMN}: {exc}")
    values: dict[str, ProfileValue] = {}
    for column, raw in zip(_columns(), fields[1:], strict=True):
        try:
            values[column.name] = column.clean(raw.strip())
        except ValidationError as exc:
            with translation.override("en"):  # the import speaks English, as the API does
                problems.append(f"{column.name}: {' '.join(exc.messages)}")
    if problems or cpf is None:
        return RowError(line, "; ".join(problems))
    return ProfileRow(line=line, cpf=cpf, values=values)


@dataclass(frozen=True, slots=True)
class _Column:
    """A characteristic column: its model field, and the field's range checked inline (a
    value in range skips the validators' calls, a third of the import's time; one out of
    range goes through them, for their messages)."""

    name: str
    field: models.Field[Any, Any]
    decimal: bool
    low: ProfileValue | None
    high: ProfileValue | None
    other_validators: tuple[Callable[[Any], None], ...]

    def clean(self, raw: str) -> ProfileValue:
        """Type a raw value with our own messages, then apply the model field's rules."""
        if not raw:
            raise ValidationError("is required.")
        value: ProfileValue
        if self.decimal:
            try:
                value = Decimal(raw)
            except InvalidOperation:
                raise ValidationError("must be a decimal number, like 0.75.") from None
            if not value.is_finite():
                raise ValidationError("must be a finite number.")
        else:
            if not raw.isascii() or not raw.isdigit():
                raise ValidationError("must be a whole number (0 or more), like 3.")
            value = int(raw)
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            self.field.run_validators(value)  # raises, with the field's own message
        for validator in self.other_validators:
            validator(value)
        return value


@cache
def _columns() -> tuple[_Column, ...]:
    columns = []
    for name in PROFILE_CHARACTERISTICS:
        field = CreditProfile._meta.get_field(name)
        if not isinstance(field, models.Field):  # a relation: no characteristic is one
            raise TypeError(f"{name} is not a characteristic column")
        lows, highs, others = [], [], []
        for validator in field.validators:
            if isinstance(validator, MinValueValidator):
                lows.append(_limit(validator))
            elif isinstance(validator, MaxValueValidator):
                highs.append(_limit(validator))
            else:
                others.append(validator)
        columns.append(
            _Column(
                name=name,
                field=field,
                decimal=isinstance(field, models.DecimalField),
                low=max(lows) if lows else None,
                high=min(highs) if highs else None,
                other_validators=tuple(others),
            )
        )
    return tuple(columns)


def _limit(validator: MinValueValidator | MaxValueValidator) -> Any:
    limit = validator.limit_value
    return limit() if callable(limit) else limit

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
import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache, partial
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import translation
from django.utils.translation import gettext, gettext_noop

from scoreportal.logging import redact
from scores.constants import PROFILE_CHARACTERISTICS
from scores.core.cpf import Cpf, CpfError, InvalidCpf
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
    (marked for translation; several, said one after the other) and `params` let the
    admin say it in its reader's language."""

    def __init__(self, message: str | list[str], **params: Any) -> None:
        super().__init__(failure_text(message, params, translate=False))
        self.message = message
        self.params = params


def failure_text(message: str | list[str], params: dict[str, Any], *, translate: bool) -> str:
    """A file's failure as one text: each message in the active language or in English,
    with its values, joined by "; "."""
    messages = [message] if isinstance(message, str) else message
    texts = [gettext(m) if translate else m for m in messages]
    return "; ".join(text % params if params else text for text in texts)


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


# One reason a row is refused: the column it concerns ("" for the whole row), a message
# marked for translation, and its values.
Reason = tuple[str, str, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class RowError:
    """A refused row. `message` is English (the command line, the record); `reasons` let
    the admin say it in its reader's language (`reasons_text`)."""

    line: int
    message: str
    reasons: tuple[Reason, ...] = ()

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"

    @classmethod
    def of(cls, line: int, *reasons: Reason) -> RowError:
        return cls(line, reasons_text(reasons, translate=False), tuple(reasons))


def reasons_text(reasons: Iterable[Sequence[Any]], *, translate: bool = True) -> str:
    """Reasons as one line ("column: reason; …"), in the active language or in English."""
    parts = []
    for column, message, params in reasons:
        text = gettext(message) if translate else message
        text = text % params if params else text
        parts.append(f"{column}: {text}" if column else text)
    return "; ".join(parts)


# The CPF's reasons, as the API gives them in English, marked for the admin's catalog.
CPF_REASONS = {
    CpfError.NOT_A_STRING: gettext_noop("CPF must be a string."),
    CpfError.EMPTY: gettext_noop("CPF is empty."),
    CpfError.BAD_FORMAT: gettext_noop(
        "CPF must be 11 digits, bare (00000000000) or formatted (000.000.000-00)."
    ),
    CpfError.REPEATED_DIGITS: gettext_noop("CPF cannot be a single digit repeated."),
    CpfError.BAD_CHECK_DIGITS: gettext_noop("CPF check digits do not match."),
}


def read_profiles(file: Iterable[str]) -> Iterator[ProfileRow | RowError]:
    """Yield each data row of `file` (a text file, or its lines) as a ProfileRow or a
    RowError, in file order. ProfileFileError if the file as a whole cannot be read.

    Fields are separated by commas, or by semicolons when the header has more of those
    (Excel's CSV in Brazil, where the comma is the decimal separator)."""
    lines = _bounded_lines(file)
    first = next(lines, None)
    delimiter = ";" if first is not None and first.count(";") > first.count(",") else ","
    reader = csv.reader(
        itertools.chain([first] if first is not None else [], lines), delimiter=delimiter
    )
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
            yield RowError.of(
                reader.line_num,
                ("", gettext_noop("malformed CSV (unbalanced quotes or a NUL byte)"), {}),
            )
            continue
        line = reader.line_num
        if not any(field.strip() for field in fields):
            continue  # blank line
        if len(fields) != len(names):
            yield RowError.of(
                line,
                (
                    "",
                    gettext_noop("expected %(expected)s columns, found %(found)s"),
                    {"expected": len(names), "found": len(fields)},
                ),
            )
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
    problems: list[str] = []
    if missing:
        problems.append(gettext_noop("missing columns: %(missing)s"))
    if unknown:
        problems.append(gettext_noop("unknown columns: %(unknown)s"))
    if duplicated:
        problems.append(gettext_noop("repeated columns: %(repeated)s"))
    if problems:
        problems.append(gettext_noop("a profile file's columns are: %(expected)s"))
        raise ProfileFileError(
            problems,
            missing=", ".join(missing),
            # Redacted: in a file without a header, a CPF stands where a name should be.
            unknown=", ".join(redact(name[:40]) for name in unknown),
            repeated=", ".join(duplicated),
            expected=", ".join(COLUMNS),
        )
    return names


def _parse_row(line: int, fields: list[str]) -> ProfileRow | RowError:
    reasons: list[Reason] = []
    cpf: Cpf | None = None
    try:
        cpf = Cpf.parse(fields[0])
    except InvalidCpf as exc:
        reasons.append((CPF_COLUMN, CPF_REASONS[exc.reason], {}))
    values: dict[str, ProfileValue] = {}
    for column, raw in zip(_columns(), fields[1:], strict=True):
        try:
            values[column.name] = column.clean(raw.strip())
        except ValueRefused as exc:
            reasons.append((column.name, exc.message, exc.params))
    if reasons or cpf is None:
        return RowError.of(line, *reasons)
    return ProfileRow(line=line, cpf=cpf, values=values)


class ValueRefused(ValueError):
    """A characteristic's value refused: a message marked for translation, its values."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.message = message
        self.params = params


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
        """Type a raw value and check it against the model field's range, with our own
        messages (ValueRefused); then the field's other rules."""
        if not raw:
            raise ValueRefused(gettext_noop("is required."))
        value: ProfileValue
        if self.decimal:
            if "," in raw and "." not in raw:
                raw = raw.replace(",", ".")  # a decimal comma, as Brazilian files write it
            try:
                value = Decimal(raw)
            except InvalidOperation:
                raise ValueRefused(gettext_noop("must be a decimal number, like 0.75.")) from None
            if not value.is_finite():
                raise ValueRefused(gettext_noop("must be a finite number."))
        else:
            if not raw.isascii() or not raw.isdigit():
                raise ValueRefused(gettext_noop("must be a whole number (0 or more), like 3."))
            value = int(raw)
        if self.low is not None and value < self.low:
            raise ValueRefused(gettext_noop("must be at least %(limit)s."), limit=str(self.low))
        if self.high is not None and value > self.high:
            raise ValueRefused(gettext_noop("must be at most %(limit)s."), limit=str(self.high))
        for validator in self.other_validators:
            try:
                validator(value)
            except ValidationError as exc:
                with translation.override("en"):
                    raise ValueRefused(" ".join(exc.messages)) from None
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


@dataclass(frozen=True, slots=True)
class ColumnEntry:
    """A profile file's column, for its data dictionary: name, label, meaning, values."""

    name: str
    label: str
    help_text: str
    decimal: bool
    low: ProfileValue | None
    high: ProfileValue | None


def column_dictionary() -> list[ColumnEntry]:
    """Every characteristic column as the model defines it (labels in the active language)."""
    return [
        ColumnEntry(
            name=column.name,
            label=str(getattr(column.field, "verbose_name", column.name)),
            help_text=str(column.field.help_text or ""),
            decimal=column.decimal,
            low=column.low if column.low is not None else (None if column.decimal else 0),
            high=column.high,
        )
        for column in _columns()
    ]
